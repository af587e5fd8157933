/**
 * The caller side of one stream: created when the Request goes out, accepted when the callee
 * answers, claimed by the first subscriber (which grants the first credit). Items are decoded,
 * validated and delivered in order; credit is returned in batches as the subscriber takes them.
 */
import type { Subscriber } from 'rxjs';
import { createReader } from '../codec/protobuf.js';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import { FrameType, type FrameHeader } from '../wire/frame.js';
import { validationError } from './dispatcher.js';
import { signalFrame } from './frames.js';

export interface CallerStreamHost {
  send(frame: Uint8Array): void;
  /** Removes the stream from the client's tables. */
  forget(stream: CallerStream): void;
}

export class CallerStream {
  state: 'requested' | 'accepted' | 'active' | 'ended' = 'requested';
  private subscriber: Subscriber<unknown> | undefined;
  private consumed = 0;
  private readonly issues: ValidationIssue[] = [];
  /** Cancels an accepted stream nobody subscribed to in time. */
  unclaimedTimer: ReturnType<typeof setTimeout> | undefined;
  requestTimer: ReturnType<typeof setTimeout> | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly action: ActionDescriptor,
    readonly peerId: string,
    private readonly window: number,
    private readonly host: CallerStreamHost,
    private readonly accepted: (stream: CallerStream) => void,
    private readonly rejected: (error: RpcError) => void,
    readonly signal: AbortSignal | undefined,
  ) {}

  onAccepted(): void {
    if (this.state !== 'requested') return;
    this.state = 'accepted';
    clearTimeout(this.requestTimer);
    this.accepted(this);
  }

  /** The first subscriber takes the accepted stream and opens the credit window. */
  claim(subscriber: Subscriber<unknown>): boolean {
    if (this.state !== 'accepted') return false;
    this.state = 'active';
    clearTimeout(this.unclaimedTimer);
    this.subscriber = subscriber;
    this.host.send(signalFrame(FrameType.Credit, this.id, this.window));
    return true;
  }

  onItem(frame: Uint8Array, h: FrameHeader): void {
    if (this.state !== 'active') return;
    let item: unknown;
    try {
      item = this.action.response.decode(createReader(frame, h.payloadStart), frame.length);
    } catch (error) {
      return this.abandon(new RpcError(RpcErrorCode.VALIDATION_FAILED, `${this.action.name}: malformed item from '${this.peerId}': ${(error as Error).message}`));
    }
    const issues = this.issues;
    issues.length = 0;
    this.action.response.validate(item, issues, this.action.itemPath);
    if (issues.length > 0) return this.abandon(validationError(issues, `invalid item of ${this.action.name} from '${this.peerId}'`));
    this.subscriber!.next(item);
    // Credit goes back once the subscriber has taken half the window.
    if (this.state === 'active' && ++this.consumed * 2 >= this.window) {
      this.host.send(signalFrame(FrameType.Credit, this.id, this.consumed));
      this.consumed = 0;
    }
  }

  onEnd(): void {
    const subscriber = this.subscriber;
    this.end();
    subscriber?.complete();
  }

  onError(error: RpcError): void {
    const { state, subscriber } = this;
    this.end();
    if (state === 'requested') this.rejected(error);
    else subscriber?.error(error);
  }

  /** The subscriber unsubscribed (or nobody claimed the stream): the callee stops. */
  cancel(): void {
    if (this.state === 'ended') return;
    this.host.send(signalFrame(FrameType.Cancel, this.id));
    this.end();
  }

  /** The caller refuses what it got: cancels at the callee and errors the subscriber. */
  private abandon(error: RpcError): void {
    const subscriber = this.subscriber;
    this.cancel();
    subscriber?.error(error);
  }

  private end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.subscriber = undefined;
    clearTimeout(this.unclaimedTimer);
    clearTimeout(this.requestTimer);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.host.forget(this);
  }
}
