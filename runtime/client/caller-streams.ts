/**
 * Streams this client opens (actions returning an Observable), by call id. Opening resolves
 * with an Observable once the callee accepted the call. The Observable is cold, as rxjs users
 * expect: the first subscription takes the stream that was accepted; each further one calls
 * the action again. A CONTRACT_MISMATCH with a compatible callee opens the stream again under
 * its fingerprint, within the same deadline.
 */
import { Observable, type Subscription } from 'rxjs';
import type { ActionDescriptor, CallOptions } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import { FrameType } from '../wire/frame.js';
import { CallerStream, type CallerStreamHost } from './caller-stream.js';
import type { Reassembly } from './message-pieces.js';
import type { Outbound } from './outbound.js';
import { noGroups } from './unary-calls.js';
import type { Transport } from '../transport/transport.js';
import { withCallSite, type CallSite } from './call-site.js';

/** What a stream call is: opened again as it is by a second subscription. */
interface StreamCall {
  readonly peerId: string;
  readonly target: Uint8Array;
  readonly action: ActionDescriptor;
  readonly args: readonly unknown[];
  readonly options: CallOptions;
  readonly metadata: ReadonlyMap<string, string> | undefined;
  readonly site: CallSite | undefined;
  /** Request flags beyond the call's own (ANY: the broker chooses the peer; the stream stays with it). */
  readonly flags: number;
}

export class CallerStreams {
  private readonly streams = new Map<number, CallerStream>();
  private readonly host: CallerStreamHost;

  constructor(
    private readonly outbound: Outbound,
    private readonly replyPieces: Reassembly,
    /** Items a stream may send ahead before this client grants more. */
    private readonly window: number,
  ) {
    const { session, deadlines, compression, maxMessageBytes } = outbound.ctx;
    this.host = {
      send: (frame, via) => session.sendVia(via, frame),
      deadlines,
      compression,
      maxMessageBytes,
      forget: (stream) => {
        this.streams.delete(stream.id);
        replyPieces.drop(stream.id);
      },
    };
  }

  get size(): number {
    return this.streams.size;
  }

  get(callId: number): CallerStream | undefined {
    return this.streams.get(callId);
  }

  has(callId: number): boolean {
    return this.streams.has(callId);
  }

  /**
   * Opens a stream: resolves once the callee accepted it. `metadata` (checked already) goes
   * with it, and with the call a second subscription makes; `site`: where the call was made
   * (its errors' stack).
   */
  open<Item>(
    peerId: string,
    target: Uint8Array,
    action: ActionDescriptor,
    args: readonly unknown[],
    options: CallOptions,
    metadata: ReadonlyMap<string, string> | undefined,
    site: CallSite | undefined,
    deadline = this.outbound.deadlineOf(options),
    flags = 0,
  ): Promise<Observable<Item>> {
    const call: StreamCall = { peerId, target, action, args, options, metadata, site, flags };
    const session = this.outbound.ctx.session;
    const connected = session.willOpen ? session.whenOpen(deadline, options.signal) : Promise.resolve();
    return connected
      .then(() => this.request(call, deadline, false))
      .then(
        (first) => this.observable<Item>(first, call),
        (error: RpcError) => Promise.reject(withCallSite(error, site)),
      );
  }

  /** Connection `via` is gone: every stream on it errors. */
  rejectVia(via: Transport | undefined, reason: string): void {
    for (const stream of [...this.streams.values()]) if (stream.via === via) stream.onError(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
  }

  /** Streams open on `via`. */
  countVia(via: Transport): number {
    let n = 0;
    for (const stream of this.streams.values()) if (stream.via === via) n++;
    return n;
  }

  private request(call: StreamCall, deadline: number, negotiated: boolean): Promise<CallerStream> {
    return this.send(call, deadline).catch((error: RpcError) => {
      if (negotiated || error.code !== RpcErrorCode.CONTRACT_MISMATCH) throw error;
      const refusal = this.outbound.ctx.negotiation.agree(call.peerId, call.action, error);
      if (refusal) throw refusal;
      return this.request(call, deadline, true);
    });
  }

  private send(call: StreamCall, deadline: number): Promise<CallerStream> {
    const { peerId, target, action, args, options } = call;
    const id = this.outbound.allocateCallId();
    // No deadline on the wire: a stream's lives as long as its subscriber (the one here only bounds its acceptance).
    const frame = this.outbound.prepare(id, peerId, target, action, args, options, true, Infinity, call.metadata);
    if (frame instanceof RpcError) return Promise.reject(frame);
    if (call.flags !== 0 && !this.outbound.ctx.session.brokerHasGroups) return Promise.reject(noGroups(this.outbound.ctx.session.url));
    if (call.flags !== 0 && frame instanceof Uint8Array) frame[2] = frame[2]! | call.flags;
    if (deadline <= Date.now()) {
      return Promise.reject(new RpcError(RpcErrorCode.TIMEOUT, `${action.name} on '${peerId}' was not accepted within ${this.outbound.timeoutOf(options)} ms`));
    }
    return new Promise<CallerStream>((resolve, reject) => {
      const stream = new CallerStream(id, action, peerId, this.window, this.host, resolve, reject, options.signal, this.outbound.timeoutOf(options), call.site);
      stream.waitUntil(deadline);
      if (options.signal) {
        stream.onAbort = () => stream.abandon(new RpcError(RpcErrorCode.CANCELLED, `${action.name} on '${peerId}' was aborted`));
        options.signal.addEventListener('abort', stream.onAbort, { once: true });
      }
      this.streams.set(id, stream);
      const session = this.outbound.ctx.session;
      stream.via = session.current;
      if (frame instanceof Uint8Array) session.sendMessage(frame, FrameType.RequestChunk, id);
      // Being compressed: it goes out on the same connection once it is, unless the stream ended meanwhile.
      else
        void frame.then((compressed) => {
          if (this.streams.get(id) !== stream) return;
          compressed[2] = compressed[2]! | call.flags;
          session.sendMessageVia(stream.via, compressed, FrameType.RequestChunk, id);
        });
    });
  }

  private observable<Item>(first: CallerStream, call: StreamCall): Observable<Item> {
    return new Observable<Item>((subscriber) => {
      if (first.claim(subscriber as never)) return () => first.cancel();
      let inner: Subscription | undefined;
      let closed = false;
      this.request(call, this.outbound.deadlineOf(call.options), false).then(
        (stream) => {
          if (closed) stream.cancel();
          else inner = this.observable<Item>(stream, call).subscribe(subscriber);
        },
        (error: RpcError) => subscriber.error(withCallSite(error, call.site)),
      );
      return () => {
        closed = true;
        inner?.unsubscribe();
      };
    });
  }
}
