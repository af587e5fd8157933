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

export interface OutboundContext {
  readonly session: ClientSession;
  readonly negotiation: Negotiation;
  readonly deadlines: Deadlines;
  /** The client's default timeout (ms; 0 = none). */
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
  /** Whether a call id is taken (by a unary call or a stream). */
  inUse(callId: number): boolean;
}

/** What a Request's deadline can say (uint32 ms, about 49 days). */
const MAX_WAIT_MS = 2 ** 32 - 1;

export class Outbound {
  private readonly issues: ValidationIssue[] = [];
  private nextCallId = 1;

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

  /** The Request frame for a call with `deadline` (absolute; Infinity: none), or why it cannot be sent. */
  prepare(callId: number, peerId: string, target: Uint8Array, action: ActionDescriptor, args: readonly unknown[], options: CallOptions, stream: boolean, deadline: number): Uint8Array | RpcError {
    const { session } = this.ctx;
    if (!session.isOpen) return new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot call ${action.name} on '${peerId}': ${session.closeReason}`);
    const issues = this.issues;
    issues.length = 0;
    action.request.validate(args, issues, action.paramPaths);
    if (issues.length > 0) return validationError(issues, `invalid arguments for ${action.name}`);
    if (options.signal?.aborted) return new RpcError(RpcErrorCode.CANCELLED, `${action.name} was aborted before it was sent`);
    const waitMs = deadline === Infinity ? undefined : Math.min(MAX_WAIT_MS, Math.max(1, Math.ceil(deadline - Date.now())));
    const frame = requestFrame(callId, action, target, args, this.ctx.negotiation.fingerprintFor(peerId, action), waitMs, stream);
    if (frame.length > this.ctx.maxMessageBytes) {
      return new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `${action.name}: the arguments are ${frame.length} bytes, over the ${this.ctx.maxMessageBytes}-byte message limit`);
    }
    return frame;
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
