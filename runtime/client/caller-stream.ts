/**
 * The caller side of one stream: created when the Request goes out, accepted when the callee
 * answers, claimed by the first subscriber (which grants the first credit). Items are decoded,
 * validated and delivered in order; credit is returned in batches as the subscriber takes them.
 * Its deadline (Deadlines) is first the time to be accepted, then the time to be claimed.
 */
import type { Subscriber } from 'rxjs';
import { createReader } from '../codec/protobuf.js';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import { FrameType, type FrameHeader } from '../wire/frame.js';
import type { Transport } from '../transport/transport.js';
import type { Deadlines, Timed } from './deadlines.js';
import { withCallSite, type CallSite } from './call-site.js';
import { signalFrame } from './frames.js';
import type { MessageCompression } from './compression.js';
import { hasEnvelope, readEnvelope } from './envelope.js';
import { withNames } from './outbound.js';
import { validationError } from './validation-error.js';

export interface CallerStreamHost {
  /** Sends on the connection the stream went out on. */
  send(frame: Uint8Array, via: Transport | undefined): void;
  readonly deadlines: Deadlines;
  /** Inflates compressed items, learns what the callee takes. */
  readonly compression: MessageCompression;
  /** What an item may inflate to at most. */
  readonly maxMessageBytes: number;
  /** Removes the stream from the client's tables. */
  forget(stream: CallerStream): void;
}

export class CallerStream implements Timed {
  state: 'requested' | 'accepted' | 'active' | 'ended' = 'requested';
  deadline = Infinity;
  heapIndex = -1;
  onAbort: (() => void) | undefined;
  /** The connection it went out on (credit and cancel go there too). */
  via: Transport | undefined;
  private subscriber: Subscriber<unknown> | undefined;
  private consumed = 0;
  /** Items being inflated by a compressor that takes its time: later items and the end wait behind them, in order. */
  private inflating: Promise<void> | undefined;
  private readonly issues: ValidationIssue[] = [];

  constructor(
    readonly id: number,
    readonly action: ActionDescriptor,
    readonly peerId: string,
    private readonly window: number,
    private readonly host: CallerStreamHost,
    private readonly accepted: (stream: CallerStream) => void,
    private readonly rejected: (error: RpcError) => void,
    readonly signal: AbortSignal | undefined,
    /** How long it may wait to be accepted, then to be claimed (ms; 0 = forever), for messages. */
    private readonly timeoutMs: number,
    /** Where the call was made: its errors' stack. */
    private readonly site: CallSite | undefined,
  ) {}

  /** Waits until `deadline` (absolute) to be accepted. */
  waitUntil(deadline: number): void {
    this.deadline = deadline;
    if (deadline !== Infinity) this.host.deadlines.add(this);
  }

  expire(): void {
    if (this.state === 'requested') {
      this.cancel();
      this.rejected(withCallSite(new RpcError(RpcErrorCode.TIMEOUT, `${this.action.name} on '${this.peerId}' was not accepted within ${this.timeoutMs} ms`), this.site));
    } else if (this.state === 'accepted') this.cancel(); // accepted, but nobody subscribed in time
  }

  /** The callee accepted (its Response's envelope, if any, says which encodings it takes). */
  onAccepted(frame: Uint8Array, payloadStart: number): void {
    if (this.state !== 'requested') return;
    if (hasEnvelope(frame, payloadStart)) {
      const envelope = readEnvelope(frame, payloadStart, frame.length);
      if (!(envelope instanceof RpcError) && envelope.accept !== 0) this.host.compression.learn(this.peerId, envelope.accept);
    }
    this.state = 'accepted';
    this.host.deadlines.remove(this);
    // An accepted stream nobody subscribes to is cancelled after the call timeout; subscribing later opens it anew.
    if (this.timeoutMs > 0) this.waitUntil(Date.now() + this.timeoutMs);
    this.accepted(this);
  }

  /** The first subscriber takes the accepted stream and opens the credit window. */
  claim(subscriber: Subscriber<unknown>): boolean {
    if (this.state !== 'accepted') return false;
    this.state = 'active';
    this.host.deadlines.remove(this);
    this.subscriber = subscriber;
    this.host.send(signalFrame(FrameType.Credit, this.id, this.window), this.via);
    return true;
  }

  onItem(frame: Uint8Array, h: FrameHeader): void {
    if (this.state !== 'active') return;
    let start = h.payloadStart;
    let payload: Uint8Array | RpcError | Promise<Uint8Array | RpcError> = frame;
    if (hasEnvelope(frame, start)) {
      const envelope = readEnvelope(frame, start, frame.length);
      if (envelope instanceof RpcError) payload = envelope;
      else if (envelope.encoding === 0) start = envelope.end;
      else {
        payload = this.host.compression.inflate(frame.subarray(envelope.end), envelope.encoding, this.host.maxMessageBytes);
        start = 0;
      }
    }
    if (this.inflating === undefined && !(payload instanceof Promise)) return this.deliver(payload, start);
    const ready = payload;
    const next = (this.inflating ?? Promise.resolve()).then(() => ready).then((bytes) => this.deliver(bytes, start));
    this.inflating = next;
    void next.then(() => {
      if (this.inflating === next) this.inflating = undefined;
    });
  }

  /** One item's payload (from `start`), in order: decoded, validated, given to the subscriber. */
  private deliver(payload: Uint8Array | RpcError, start: number): void {
    if (this.state !== 'active') return;
    if (payload instanceof RpcError) return this.abandon(new RpcError(payload.code, `${this.action.name}: an item from '${this.peerId}': ${payload.rawMessage}`, { mayHaveRun: true }));
    let item: unknown;
    try {
      item = this.action.response.decode(createReader(payload, start), payload.length);
    } catch (error) {
      return this.abandon(new RpcError(RpcErrorCode.VALIDATION_FAILED, `${this.action.name}: malformed item from '${this.peerId}': ${(error as Error).message}`, { mayHaveRun: true }));
    }
    const issues = this.issues;
    issues.length = 0;
    this.action.response.validate(item, issues, this.action.itemPath);
    if (issues.length > 0) return this.abandon(validationError(issues, `invalid item of ${this.action.name} from '${this.peerId}'`, true));
    this.subscriber!.next(item);
    // Credit goes back once the subscriber has taken half the window.
    if (this.state === 'active' && ++this.consumed * 2 >= this.window) {
      this.host.send(signalFrame(FrameType.Credit, this.id, this.consumed), this.via);
      this.consumed = 0;
    }
  }

  onEnd(): void {
    if (this.inflating !== undefined) return void this.inflating.then(() => this.onEnd());
    const subscriber = this.subscriber;
    this.end();
    subscriber?.complete();
  }

  onError(received: RpcError): void {
    const error = withCallSite(withNames(received, this.action, this.peerId), this.site);
    const { state, subscriber } = this;
    this.end();
    if (state === 'requested') this.rejected(error);
    else subscriber?.error(error);
  }

  /** The subscriber unsubscribed (or nobody claimed the stream): the callee stops. */
  cancel(): void {
    if (this.state === 'ended') return;
    this.host.send(signalFrame(FrameType.Cancel, this.id), this.via);
    this.end();
  }

  /** The caller refuses what it got: cancels at the callee and errors the subscriber. */
  abandon(reason: RpcError): void {
    const error = withCallSite(reason, this.site);
    const { state, subscriber } = this;
    this.cancel();
    if (state === 'requested') this.rejected(error);
    else subscriber?.error(error);
  }

  private end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.subscriber = undefined;
    this.host.deadlines.remove(this);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.host.forget(this);
  }
}
