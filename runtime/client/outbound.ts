/**
 * What calls and streams share before a Request goes out: the connection is open, the
 * arguments are valid (the callee checks them again: it may not trust us), the call was not
 * aborted, and the Request frame (under the callee's fingerprint when the two agreed on one)
 * is within the message limit. Also the call ids, which unary calls and streams draw from one
 * space because the broker routes both by them.
 */
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor, CallOptions } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { Deadlines } from './deadlines.js';
import { requestFrame } from './frames.js';
import type { Negotiation } from './negotiation.js';
import type { ClientSession } from './session.js';
import { validationError } from './validation-error.js';
import type { FrameLayout, MessageCompression } from './compression.js';

export interface OutboundContext {
  readonly session: ClientSession;
  readonly negotiation: Negotiation;
  readonly deadlines: Deadlines;
  /** The client's default timeout (ms; 0 = none). */
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
  /** Whether calls refused before they reached the callee are sent again (the client's `retry`). */
  readonly retry: boolean;
  /** Whether a call id is taken (by a unary call or a stream). */
  inUse(callId: number): boolean;
  /** Compression: what this client does and what it learned of its callees. */
  readonly compression: MessageCompression;
}

/** Waits between sending a refused call again (ms): the first ceiling and the largest; full jitter in the upper half. */
const RETRY_FIRST_MS = 25;
const RETRY_MAX_MS = 1000;
/** How long a call without a deadline is sent again at most. */
const RETRY_WITHOUT_DEADLINE_MS = 30_000;

/** Errors of calls refused before they were sent: they never ran. */
const NOT_SENT = { mayHaveRun: false } as const;

/** What a Request's deadline can say (uint32 ms, about 49 days). */
const MAX_WAIT_MS = 2 ** 32 - 1;

export class Outbound {
  private readonly issues: ValidationIssue[] = [];
  private nextCallId = 1;
  private readonly layout: FrameLayout = { envelopeStart: 0, payloadStart: 0 };

  constructor(readonly ctx: OutboundContext) {}

  /** A call id in use by nothing else (uint32, never 0). */
  allocateCallId(): number {
    let id = this.nextCallId;
    while (id === 0 || this.ctx.inUse(id)) id = (id + 1) >>> 0;
    this.nextCallId = (id + 1) >>> 0;
    return id;
  }

  /** The call's absolute deadline (Infinity when it has none). */
  deadlineOf(options: CallOptions): number {
    const timeoutMs = this.timeoutOf(options);
    return timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  }

  timeoutOf(options: CallOptions): number {
    return options.timeoutMs ?? this.ctx.timeoutMs;
  }

  /**
   * How long to wait before sending a call again after `error` (attempt: how many times it
   * was sent), or undefined when it must not be: only calls that certainly never reached the
   * callee (mayHaveRun false) and were refused for a passing reason (the broker or the way to
   * the peer was unavailable, the peer's id is moving to another connection, a broker took it
   * for expired after a stall), within the call's deadline (at most RETRY_WITHOUT_DEADLINE_MS
   * without one).
   */
  retryDelay(error: RpcError, options: CallOptions, attempt: number, deadline: number, firstSent: number): number | undefined {
    if (error.mayHaveRun || !(options.retry ?? this.ctx.retry)) return undefined;
    // A broker that refuses a call as past its deadline cannot tell a frame that waited in it
    // during a stall from one that arrived just after: when the caller still has time, it was the latter.
    const passing =
      error.code === RpcErrorCode.UNAVAILABLE || error.code === RpcErrorCode.TIMEOUT || (error.code === RpcErrorCode.PEER_NOT_FOUND && error.details?.moving === true);
    if (!passing) return undefined;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(attempt, 16));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    const until = deadline === Infinity ? firstSent + RETRY_WITHOUT_DEADLINE_MS : deadline;
    return Date.now() + delay < until ? delay : undefined;
  }

  /**
   * The Request frame for a call with `deadline` (absolute; Infinity: none) and `metadata`
   * (checked already), or why it cannot be sent. A promise of the frame when it is being
   * compressed by a compressor that takes its time (CompressionStream).
   */
  prepare(
    callId: number,
    peerId: string,
    target: Uint8Array,
    action: ActionDescriptor,
    args: readonly unknown[],
    options: CallOptions,
    stream: boolean,
    deadline: number,
    metadata: ReadonlyMap<string, string> | undefined,
  ): Uint8Array | RpcError | Promise<Uint8Array> {
    const { session } = this.ctx;
    if (!session.isOpen) return new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot call ${action.name} on '${peerId}': ${session.closeReason}`, NOT_SENT);
    const issues = this.issues;
    issues.length = 0;
    action.request.validate(args, issues, action.paramPaths);
    if (issues.length > 0) return validationError(issues, `invalid arguments for ${action.name}`);
    if (options.signal?.aborted) return new RpcError(RpcErrorCode.CANCELLED, `${action.name} was aborted before it was sent`, NOT_SENT);
    const waitMs = deadline === Infinity ? undefined : Math.min(MAX_WAIT_MS, Math.max(1, Math.ceil(deadline - Date.now())));
    const compression = this.ctx.compression;
    const envelope = compression.requestEnvelope(peerId, metadata);
    const layout = this.layout;
    const frame = requestFrame(callId, action, target, args, this.ctx.negotiation.fingerprintFor(peerId, action), waitMs, stream, envelope, layout);
    if (frame.length > this.ctx.maxMessageBytes) {
      return new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `${action.name}: the arguments are ${frame.length} bytes, over the ${this.ctx.maxMessageBytes}-byte message limit`);
    }
    const encoding = compression.forPeer(peerId, frame.length - layout.payloadStart);
    return encoding === 0 ? frame : compression.compressFrame(frame, layout, envelope!, encoding);
  }
}

/**
 * A refusal from the far side that names nothing a caller asked for (the callee knows only the
 * routing keys of a controller it lacks): said again with the path, action and peer.
 */
export function withNames(error: RpcError, action: ActionDescriptor, peerId: string): RpcError {
  if (error.code === RpcErrorCode.CONTROLLER_NOT_REGISTERED) {
    return new RpcError(error.code, `Peer controller not registered: '${action.controller}' on peer '${peerId}'`, { cause: error });
  }
  if (error.code === RpcErrorCode.ACTION_NOT_FOUND) {
    return new RpcError(error.code, `'${action.controller}' on peer '${peerId}' has no action '${action.name}' (it runs a version of the contract without it)`, { cause: error });
  }
  return error;
}
