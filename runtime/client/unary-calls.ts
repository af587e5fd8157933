/**
 * Unary calls this client made and is waiting for, by call id. Every call settles exactly
 * once: with its answer, its error, its deadline, an abort, or the connection closing. The
 * deadline is absolute: a call that is sent again after a CONTRACT_MISMATCH (under the
 * callee's fingerprint) keeps it, so no call waits longer than its timeout.
 */
import { createReader } from '../codec/protobuf.js';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor, CallOptions } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import { FrameFlags, FrameType, type FrameHeader } from '../wire/frame.js';
import type { Transport } from '../transport/transport.js';
import { withCallSite, type CallSite } from './call-site.js';
import type { Timed } from './deadlines.js';
import { signalFrame } from './frames.js';
import { withNames, type Outbound } from './outbound.js';
import type { Reassembly } from './message-pieces.js';
import { validationError } from './validation-error.js';
import { hasEnvelope, readEnvelope } from './envelope.js';

class UnaryCall implements Timed {
  deadline = Infinity;
  heapIndex = -1;
  id = 0;
  /** Sent again under the callee's fingerprint after a CONTRACT_MISMATCH (only once). */
  negotiated = false;
  onAbort: (() => void) | undefined;
  /** Times sent; when it was first sent; the timer of its next sending after a refusal that says it never ran. */
  attempts = 0;
  firstSent = Date.now();
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The connection it went out on (its Cancel goes there too). */
  via: Transport | undefined;
  /** Request flags beyond the call's own (ANY: the broker chooses the peer). */
  flags = 0;

  constructor(
    private readonly calls: UnaryCalls,
    readonly peerId: string,
    readonly target: Uint8Array,
    readonly action: ActionDescriptor,
    readonly args: readonly unknown[],
    readonly options: CallOptions,
    readonly metadata: ReadonlyMap<string, string> | undefined,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: RpcError) => void,
  ) {}

  expire(): void {
    const timeoutMs = this.calls.outbound.timeoutOf(this.options);
    this.calls.giveUp(this, new RpcError(RpcErrorCode.TIMEOUT, `${this.action.name} on '${this.peerId}' got no answer within ${timeoutMs} ms`));
  }
}

/**
 * The result a Response frame (payload from `start`) from `peerId` carries, decoded and
 * validated; an RpcError saying why it cannot be read; a promise of either while a compressed
 * answer is inflated. `issues`: scratch space, reused.
 */
export function resultOf(outbound: Outbound, peerId: string, action: ActionDescriptor, frame: Uint8Array, start: number, issues: ValidationIssue[]): unknown {
  if (!hasEnvelope(frame, start)) return decodeResult(peerId, action, frame, start, issues);
  const envelope = readEnvelope(frame, start, frame.length);
  if (envelope instanceof RpcError) return unreadable(peerId, action, envelope);
  const { compression, maxMessageBytes } = outbound.ctx;
  if (envelope.accept !== 0) compression.learn(peerId, envelope.accept);
  if (envelope.encoding === 0) return decodeResult(peerId, action, frame, envelope.end, issues);
  const inflated = compression.inflate(frame.subarray(envelope.end), envelope.encoding, maxMessageBytes);
  if (inflated instanceof Promise) return inflated.then((bytes) => (bytes instanceof RpcError ? unreadable(peerId, action, bytes) : decodeResult(peerId, action, bytes, 0, issues)));
  return inflated instanceof RpcError ? unreadable(peerId, action, inflated) : decodeResult(peerId, action, inflated, 0, issues);
}

function unreadable(peerId: string, action: ActionDescriptor, error: RpcError): RpcError {
  return new RpcError(error.code, `${action.name}: the result from '${peerId}': ${error.rawMessage}`, { mayHaveRun: true });
}

function decodeResult(peerId: string, action: ActionDescriptor, payload: Uint8Array, start: number, issues: ValidationIssue[]): unknown {
  let value: unknown;
  try {
    value = action.response.decode(createReader(payload, start), payload.length);
  } catch (error) {
    return new RpcError(RpcErrorCode.VALIDATION_FAILED, `${action.name}: malformed result from '${peerId}': ${(error as Error).message}`, { mayHaveRun: true });
  }
  issues.length = 0;
  action.response.validate(value, issues, action.resultPath);
  if (issues.length > 0) return validationError(issues, `invalid result of ${action.name} from '${peerId}'`, true);
  return value;
}

/** An any-peer call to a broker that does not do them (it would take the flag for a malformed frame). */
export function noGroups(url: string): RpcError {
  return new RpcError(RpcErrorCode.UNAVAILABLE, `the broker at ${url} does not do group or any-peer calls (it is older than this client)`, { mayHaveRun: false });
}

export class UnaryCalls {
  private readonly calls = new Map<number, UnaryCall>();
  private readonly issues: ValidationIssue[] = [];

  constructor(
    readonly outbound: Outbound,
    /** Answers arriving in pieces, by call id: dropped when their call ends. */
    private readonly replyPieces: Reassembly,
  ) {}

  get size(): number {
    return this.calls.size;
  }

  has(callId: number): boolean {
    return this.calls.has(callId);
  }

  /**
   * `deadline`: absolute, from when the call was made (a call that waited for the connection
   * keeps it); `metadata`: checked already; `site`: where the call was made (its error's stack).
   */
  call<Result>(
    peerId: string,
    target: Uint8Array,
    action: ActionDescriptor,
    args: readonly unknown[],
    options: CallOptions,
    metadata: ReadonlyMap<string, string> | undefined,
    site: CallSite | undefined,
    deadline = this.outbound.deadlineOf(options),
    flags = 0,
  ): Promise<Result> {
    const session = this.outbound.ctx.session;
    if (session.willOpen) {
      // Reconnecting: the call goes out when the connection is back, within its deadline.
      return session.whenOpen(deadline, options.signal).then(
        () => this.call<Result>(peerId, target, action, args, options, metadata, site, deadline, flags),
        (error: RpcError) => Promise.reject(withCallSite(error, site)),
      );
    }
    return new Promise<Result>((resolve, reject) => {
      const fail = site === undefined ? reject : (error: RpcError) => reject(withCallSite(error, site));
      const call = new UnaryCall(this, peerId, target, action, args, options, metadata, resolve as (value: unknown) => void, fail);
      call.deadline = deadline;
      call.flags = flags;
      const problem = this.send(call);
      if (problem) return fail(problem);
      if (call.deadline !== Infinity) this.outbound.ctx.deadlines.add(call);
      if (options.signal) {
        call.onAbort = () => this.giveUp(call, new RpcError(RpcErrorCode.CANCELLED, `${action.name} on '${peerId}' was aborted`));
        options.signal.addEventListener('abort', call.onAbort, { once: true });
      }
    });
  }

  onResponse(frame: Uint8Array, h: FrameHeader): void {
    const callId = h.callId;
    const call = this.calls.get(callId);
    if (!call) return; // timed out or cancelled meanwhile
    const result = resultOf(this.outbound, call.peerId, call.action, frame, h.payloadStart, this.issues);
    if (!(result instanceof Promise)) return this.answered(call, result);
    // Inflating takes its time (CompressionStream): the call may time out or be cancelled meanwhile.
    void result.then((outcome) => this.calls.get(callId) === call && this.answered(call, outcome));
  }

  /** The answer, or why it cannot be read: the call settles. */
  private answered(call: UnaryCall, result: unknown): void {
    this.take(call.id);
    if (result instanceof RpcError) call.reject(result);
    else call.resolve(result);
  }

  /** An Error frame for a pending call: it fails, unless a CONTRACT_MISMATCH with a compatible callee lets it go again. */
  onError(callId: number, received: RpcError): boolean {
    const call = this.calls.get(callId);
    if (!call) return false;
    let error = withNames(received, call.action, call.peerId);
    this.calls.delete(callId);
    this.replyPieces.drop(callId);
    if (error.code === RpcErrorCode.CONTRACT_MISMATCH && !call.negotiated) {
      call.negotiated = true;
      const refusal = this.outbound.ctx.negotiation.agree(call.peerId, call.action, error);
      const problem = refusal ?? this.send(call);
      if (!problem) return true; // sent again, same deadline
      error = problem;
    }
    // An any-peer call whose chosen peer was gone before it arrived goes to another one: its
    // broker says PEER_NOT_FOUND, or (a peer on another broker, chosen within a group) the
    // other broker says PEER_DISCONNECTED; either way it never ran.
    const chosenGone =
      (call.flags & FrameFlags.Any) !== 0 &&
      (error.code === RpcErrorCode.PEER_NOT_FOUND || error.code === RpcErrorCode.PEER_DISCONNECTED) &&
      !error.mayHaveRun &&
      error.details?.noCandidate !== true;
    const delay = this.outbound.retryDelay(chosenGone ? new RpcError(RpcErrorCode.UNAVAILABLE, error.rawMessage, { mayHaveRun: false }) : error, call.options, call.attempts, call.deadline, call.firstSent);
    if (delay !== undefined) {
      // It never reached the callee: sent again later, under the same deadline. Until then it
      // keeps its old id (nothing else can arrive for it).
      this.calls.set(callId, call);
      call.retryTimer = setTimeout(() => this.sendAgain(call), delay);
      return true;
    }
    this.settle(call);
    call.reject(error);
    return true;
  }

  /** The answer grew past a limit while arriving in pieces: the call fails and the callee stops. */
  refuse(callId: number, error: RpcError): boolean {
    const call = this.take(callId);
    if (!call) return false;
    this.outbound.ctx.session.sendVia(call.via, signalFrame(FrameType.Cancel, callId));
    call.reject(error);
    return true;
  }

  /** Rejects a pending call and tells the broker to forget it (and the callee to stop). */
  giveUp(call: UnaryCall, error: RpcError): void {
    if (this.calls.get(call.id) !== call) return;
    const waiting = call.retryTimer !== undefined;
    this.take(call.id);
    // A call waiting to be sent again is in flight nowhere: nothing to cancel, and it never ran.
    if (!waiting) this.outbound.ctx.session.sendVia(call.via, signalFrame(FrameType.Cancel, call.id));
    call.reject(waiting ? new RpcError(error.code, error.rawMessage, { mayHaveRun: false }) : error);
  }

  /**
   * Connection `via` is gone: every call in flight on it fails (none is sent again: it may have
   * run). Calls waiting to be sent again (they never ran) wait on, for the connection to come back.
   */
  rejectVia(via: Transport | undefined, reason: string): void {
    for (const [id, call] of [...this.calls]) if (call.retryTimer === undefined && call.via === via) this.take(id)?.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
  }

  /** Calls in flight on `via`. */
  countVia(via: Transport): number {
    let n = 0;
    for (const call of this.calls.values()) if (call.via === via && call.retryTimer === undefined) n++;
    return n;
  }

  /** Sends a call that never ran again (after the connection is back, if it is away), within its deadline. */
  private sendAgain(call: UnaryCall): void {
    call.retryTimer = undefined;
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    const session = this.outbound.ctx.session;
    if (!session.isOpen && session.willOpen) {
      this.calls.set(call.id, call);
      call.retryTimer = setTimeout(() => this.sendAgain(call), 50);
      return;
    }
    const problem = this.send(call);
    if (problem) {
      this.settle(call);
      call.reject(problem);
    }
  }

  /** Sends (or sends again) `call` under a fresh call id; returns why it could not be sent. */
  private send(call: UnaryCall): RpcError | undefined {
    const id = this.outbound.allocateCallId();
    const frame = this.outbound.prepare(id, call.peerId, call.target, call.action, call.args, call.options, false, call.deadline, call.metadata);
    if (frame instanceof RpcError) return frame;
    if (call.flags !== 0 && !this.outbound.ctx.session.brokerHasGroups) return noGroups(this.outbound.ctx.session.url);
    if (call.flags !== 0 && frame instanceof Uint8Array) frame[2] = frame[2]! | call.flags;
    call.id = id;
    call.attempts++;
    const session = this.outbound.ctx.session;
    call.via = session.current;
    this.calls.set(id, call);
    if (frame instanceof Uint8Array) session.sendMessage(frame, FrameType.RequestChunk, id);
    // Being compressed: it goes out on the same connection once it is, unless the call ended meanwhile.
    else
      void frame.then((compressed) => {
        if (this.calls.get(id) !== call) return;
        compressed[2] = compressed[2]! | call.flags;
        session.sendMessageVia(call.via, compressed, FrameType.RequestChunk, id);
      });
    return undefined;
  }

  /** Removes the call and its deadline and abort listener; undefined when it already settled. */
  private take(callId: number): UnaryCall | undefined {
    const call = this.calls.get(callId);
    if (!call) return undefined;
    this.calls.delete(callId);
    this.replyPieces.drop(callId);
    this.settle(call);
    return call;
  }

  private settle(call: UnaryCall): void {
    clearTimeout(call.retryTimer);
    call.retryTimer = undefined;
    this.outbound.ctx.deadlines.remove(call);
    if (call.onAbort) call.options.signal!.removeEventListener('abort', call.onAbort);
  }
}
