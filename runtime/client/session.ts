/**
 * The client's connection to its broker: opening the transport, the Hello/Welcome handshake,
 * sending (whole frames, or a large message in pieces), and closing. It knows nothing of
 * calls: after the handshake every frame goes to `events.frame`, and `events.closed` says
 * the connection is gone, with a reason pending calls reject with.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { defaultTransport, type Transport, type TransportFactory } from '../transport/transport.js';
import { browserWebSocketTransport } from '../transport/browser-websocket.js';
import type { Hello, Welcome } from '../wire/control.js';
import { errorFromFrame } from '../wire/errors.js';
import { createHeader, FrameType, parseHeader, PROTOCOL_VERSION, type FrameHeader } from '../wire/frame.js';
import { jsonFrame, readJson } from '../wire/text.js';
import { sendInPieces } from './message-pieces.js';

export type ClientState = 'idle' | 'connecting' | 'connected' | 'closed';

export interface SessionOptions {
  readonly url: string;
  readonly token: unknown;
  readonly timeoutMs: number;
  readonly transport: TransportFactory | undefined;
  /** Largest frame accepted from the broker (bytes). */
  readonly maxPayloadBytes: number;
  readonly maskFrames: boolean | undefined;
}

export interface SessionEvents {
  /** A frame after the handshake. */
  frame(frame: Uint8Array): void;
  /** The broker welcomed this client. */
  opened(): void;
  /** The connection is gone (or never came up); `reason` says why. */
  closed(reason: string): void;
}

/** Bounds on what a broker's Welcome may say: a hostile or broken broker must not make this client spin or throw. */
const MIN_FRAME_BYTES = 1024;
const MAX_FRAME_BYTES = 2 ** 31 - 1;

export class ClientSession {
  state: ClientState = 'idle';
  /** Largest frame the broker accepts (from its Welcome). */
  maxFrameBytes = 1 << 20;
  /** Why the connection is not open, for errors. */
  closeReason = 'not connected';
  private transport: Transport | undefined;
  private connecting: Promise<void> | undefined;
  private readonly header: FrameHeader = createHeader();

  constructor(
    private readonly options: SessionOptions,
    private readonly events: SessionEvents,
  ) {}

  get isOpen(): boolean {
    return this.state === 'connected' && this.transport !== undefined;
  }

  /** Connects and authenticates; rejects with AUTHENTICATION_FAILED, NOT_CONNECTED, PROTOCOL_ERROR or TIMEOUT. */
  connect(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    if (this.connecting) return this.connecting;
    if (this.state === 'closed') return Promise.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, 'this client was disconnected; create a new one'));
    this.state = 'connecting';
    const { url, timeoutMs } = this.options;
    this.connecting = new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: RpcError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.connecting = undefined;
        if (error) {
          this.state = 'closed';
          this.transport?.close();
          reject(error);
        } else {
          this.state = 'connected';
          resolve();
          this.events.opened();
        }
      };
      const timer = setTimeout(() => settle(new RpcError(RpcErrorCode.TIMEOUT, `no answer from the broker at ${url} within ${timeoutMs} ms`)), timeoutMs || 2 ** 31 - 1);
      const factory = this.options.transport ?? defaultTransport() ?? browserWebSocketTransport;
      try {
        this.transport = factory(
          url,
          {
            open: () => {
              const hello: Hello = { protocol: PROTOCOL_VERSION, token: this.options.token };
              this.transport!.send(jsonFrame(FrameType.Hello, 0, hello));
            },
            message: (frame) => {
              if (this.state === 'connecting') this.onHandshakeFrame(frame, settle);
              else if (this.state === 'connected') this.events.frame(frame);
            },
            close: (code, reason) => {
              if (this.state === 'closed' && !this.transport) return;
              this.closeReason = `connection to the broker closed (${code}${reason ? `: ${reason}` : ''})`;
              settle(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot connect to ${url}: ${this.closeReason}`));
              this.onClosed();
            },
            error: (error) => {
              this.closeReason = error.message;
            },
          },
          { maxPayloadBytes: this.options.maxPayloadBytes, ...(this.options.maskFrames === undefined ? {} : { maskFrames: this.options.maskFrames }) },
        );
      } catch (error) {
        settle(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot connect to ${url}: ${(error as Error).message}`, { cause: error }));
      }
    });
    return this.connecting;
  }

  send(frame: Uint8Array): void {
    this.transport?.send(frame);
  }

  /** Sends a whole message, in pieces when it is larger than the broker's frame limit. */
  sendMessage(frame: Uint8Array, pieceType: number, callId: number): void {
    const transport = this.transport;
    if (transport) sendInPieces((piece) => transport.send(piece), frame, pieceType, callId, this.maxFrameBytes);
  }

  /** Closes the connection (pending work is rejected by whoever listens to `closed`). */
  disconnect(reason: string): void {
    if (this.state === 'closed' && !this.transport) return;
    this.closeReason = reason;
    const transport = this.transport;
    this.onClosed();
    transport?.close(1000, 'client disconnect');
  }

  /** The broker broke the protocol: the connection is closed with 1002. */
  protocolError(reason: string): void {
    this.closeReason = reason;
    this.transport?.close(1002, 'malformed frame');
  }

  private onHandshakeFrame(frame: Uint8Array, settle: (error?: RpcError) => void): void {
    const h = this.header;
    if (parseHeader(frame, h) !== undefined) return settle(new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'the broker sent a malformed frame'));
    if (h.type === FrameType.Error) return settle(errorFromFrame(frame, h.payloadStart));
    if (h.type !== FrameType.Welcome) return settle(new RpcError(RpcErrorCode.PROTOCOL_ERROR, `expected a welcome, got frame type ${h.type}`));
    const welcome = readJson(frame, h.payloadStart) as Partial<Welcome> | undefined;
    const maxFrameBytes = welcome?.maxFrameBytes;
    if (maxFrameBytes !== undefined) {
      if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < MIN_FRAME_BYTES || maxFrameBytes > MAX_FRAME_BYTES) {
        return settle(new RpcError(RpcErrorCode.PROTOCOL_ERROR, `the broker's welcome names an unusable frame limit (${String(maxFrameBytes)}; at least ${MIN_FRAME_BYTES} bytes)`));
      }
      this.maxFrameBytes = maxFrameBytes;
    }
    settle();
  }

  private onClosed(): void {
    this.state = 'closed';
    this.transport = undefined;
    this.events.closed(this.closeReason);
  }
}
