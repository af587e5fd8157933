/**
 * The client's view of a connection: platform-neutral, so the peer client runs on the
 * browser's WebSocket and on Node's `ws` alike. `send` is synchronous and never awaits.
 */

export interface TransportEvents {
  open(): void;
  message(frame: Uint8Array): void;
  close(code: number, reason: string): void;
  error(error: Error): void;
}

export interface Transport {
  send(frame: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Drops the connection now, without a closing handshake (the broker stopped answering). */
  abort(): void;
  /** Bytes queued but not yet handed to the network. */
  readonly bufferedAmount: number;
}

/** What a client tells its transport; a transport may ignore what its platform cannot do. */
export interface TransportOptions {
  /** Largest WebSocket message accepted from the broker, bytes; larger ones close the connection (1009). */
  maxPayloadBytes?: number;
  /** Node only: mask frames with random keys (RFC 6455's default) instead of a zero key. */
  maskFrames?: boolean;
}

export type TransportFactory = (url: string, events: TransportEvents, options?: TransportOptions) => Transport;

const defaultFactoryKey = Symbol.for('p2pgen.defaultTransport');

/** The factory used when a client is given none: Node's entry installs `ws`, browsers use WebSocket. */
export function setDefaultTransport(factory: TransportFactory): void {
  (globalThis as { [defaultFactoryKey]?: TransportFactory })[defaultFactoryKey] = factory;
}

export function defaultTransport(): TransportFactory | undefined {
  return (globalThis as { [defaultFactoryKey]?: TransportFactory })[defaultFactoryKey];
}
