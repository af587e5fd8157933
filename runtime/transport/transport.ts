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
  /** Bytes queued but not yet handed to the network. */
  readonly bufferedAmount: number;
}

export type TransportFactory = (url: string, events: TransportEvents) => Transport;

const defaultFactoryKey = Symbol.for('p2pgen.defaultTransport');

/** The factory used when a client is given none: Node's entry installs `ws`, browsers use WebSocket. */
export function setDefaultTransport(factory: TransportFactory): void {
  (globalThis as { [defaultFactoryKey]?: TransportFactory })[defaultFactoryKey] = factory;
}

export function defaultTransport(): TransportFactory | undefined {
  return (globalThis as { [defaultFactoryKey]?: TransportFactory })[defaultFactoryKey];
}
