/**
 * Every failure a caller sees is an RpcError with a code from one closed list. The message is
 * prefixed with the code; `rawMessage` keeps the text without it. `instanceof RpcError` holds
 * across duplicate copies of the package (it checks a registered brand, not the prototype).
 *
 * `mayHaveRun` says whether the action may have run despite the error: false only when the
 * call certainly never reached the callee's action (refused before it was sent, by the broker
 * before it was forwarded, or by the callee before it ran the action). Each code has a
 * default (`MAY_HAVE_RUN`); an error that knows better says so. A call with mayHaveRun false
 * can be sent again without running twice; one with true cannot.
 */

export const RpcErrorCode = {
  /** No peer with that id is registered. */
  PEER_NOT_FOUND: 'PEER_NOT_FOUND',
  /** The peer is registered but has no controller at that path. */
  CONTROLLER_NOT_REGISTERED: 'CONTROLLER_NOT_REGISTERED',
  /** The controller has no such action (or this client has no generated contract for it). */
  ACTION_NOT_FOUND: 'ACTION_NOT_FOUND',
  /** A security hook refused. */
  ACCESS_DENIED: 'ACCESS_DENIED',
  /** The broker's `authenticate` refused the token. */
  AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
  /** The peer id is taken by another live connection. */
  ALREADY_REGISTERED: 'ALREADY_REGISTERED',
  /** An argument or result broke its type or a constraint; the message names the field path. */
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  /** Caller and callee run incompatible versions of a contract; the message names both fingerprints. */
  CONTRACT_MISMATCH: 'CONTRACT_MISMATCH',
  /** The callee's action threw; the message is the callee's. */
  REMOTE_ERROR: 'REMOTE_ERROR',
  /** The callee left while the call or stream was open. */
  PEER_DISCONNECTED: 'PEER_DISCONNECTED',
  /** No answer within the call's timeout. */
  TIMEOUT: 'TIMEOUT',
  /** The client is not connected (or disconnected while the call was pending). */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** A message is larger than the configured limit. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** The caller cancelled (an AbortSignal, or unsubscribing a stream). */
  CANCELLED: 'CANCELLED',
  /** A stream's consumer fell too far behind a source that cannot pause (see pullStream). */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** The connection has more calls in flight than the broker allows; the call was refused, the connection lives. */
  TOO_MANY_CALLS: 'TOO_MANY_CALLS',
  /** A broker limit on what one connection may hold or announce was reached (announced controllers, peer ids, presence subscriptions); the request was refused, the connection lives. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** A protocol rule was broken (a malformed frame or control request). */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** The broker (or, in a cluster, the way to the peer's broker) cannot take the call right now; see `mayHaveRun` before calling again. */
  UNAVAILABLE: 'UNAVAILABLE',
} as const;

export type RpcErrorCode = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

const codes = new Set<string>(Object.values(RpcErrorCode));
const brand = Symbol.for('p2pgen.RpcError');

export function isRpcErrorCode(value: unknown): value is RpcErrorCode {
  return typeof value === 'string' && codes.has(value);
}

/**
 * Whether an error of each code may come after the action ran, unless the error says otherwise:
 * false for refusals that come before the action runs, true where the call was on its way or
 * running (a timeout, a lost connection or peer, a thrown action).
 */
export const MAY_HAVE_RUN: Readonly<Record<RpcErrorCode, boolean>> = {
  PEER_NOT_FOUND: false,
  CONTROLLER_NOT_REGISTERED: false,
  ACTION_NOT_FOUND: false,
  ACCESS_DENIED: false,
  AUTHENTICATION_FAILED: false,
  ALREADY_REGISTERED: false,
  VALIDATION_FAILED: false,
  CONTRACT_MISMATCH: false,
  REMOTE_ERROR: true,
  PEER_DISCONNECTED: true,
  TIMEOUT: true,
  NOT_CONNECTED: true,
  FRAME_TOO_LARGE: false,
  CANCELLED: true,
  SLOW_CONSUMER: true,
  TOO_MANY_CALLS: false,
  LIMIT_EXCEEDED: false,
  PROTOCOL_ERROR: false,
  UNAVAILABLE: true,
};

export interface RpcErrorDetails {
  cause?: unknown;
  /** Whether the action may have run (default: the code's, MAY_HAVE_RUN). */
  mayHaveRun?: boolean;
  /** For VALIDATION_FAILED: each broken rule with its path. */
  issues?: ReadonlyArray<{ path: string; message: string }>;
  /** Machine-readable facts about the error (for CONTRACT_MISMATCH: the fingerprints and the rule); plain data. */
  details?: Readonly<Record<string, unknown>>;
  /** For REMOTE_ERROR: the application's own code for what went wrong (see `RpcError.remote`). */
  remoteCode?: string;
}

export class RpcError extends Error {
  readonly code: RpcErrorCode;
  /** The message without the code prefix. */
  readonly rawMessage: string;
  readonly issues?: ReadonlyArray<{ path: string; message: string }>;
  readonly details?: Readonly<Record<string, unknown>>;
  /** For REMOTE_ERROR: the callee's application code (`RpcError.remote`), e.g. 'OUT_OF_STOCK'. */
  readonly remoteCode?: string;
  /** Whether the action may have run: false only when the call certainly never reached it (safe to send again). */
  readonly mayHaveRun: boolean;

  constructor(code: RpcErrorCode, message: string, details: RpcErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RpcError';
    this.code = code;
    this.rawMessage = message;
    this.mayHaveRun = details.mayHaveRun ?? MAY_HAVE_RUN[code];
    if (details.issues) this.issues = details.issues;
    if (details.details) this.details = details.details;
    if (details.remoteCode !== undefined) this.remoteCode = details.remoteCode;
  }

  /**
   * An application error for an action to throw: its caller gets a REMOTE_ERROR with this
   * message, `remoteCode` (letters, digits, `_ . : -`; at most 64) and `details` (plain data,
   * as JSON at most 64 KiB; larger or not JSON-able details are left out, saying so).
   */
  static remote(remoteCode: string, message: string, details?: Readonly<Record<string, unknown>>): RpcError {
    return new RpcError(RpcErrorCode.REMOTE_ERROR, message, { remoteCode, ...(details ? { details } : {}) });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [brand]?: true })[brand] === true;
  }

  /** Normalises anything thrown into an RpcError (unknown errors become `fallback`). */
  static from(error: unknown, fallback: RpcErrorCode = RpcErrorCode.REMOTE_ERROR): RpcError {
    if (error instanceof RpcError) return error;
    return new RpcError(fallback, messageOf(error), { cause: error });
  }
}

Object.defineProperty(RpcError.prototype, brand, { value: true });

/** The text of anything thrown; never throws itself (a thrown `Object.create(null)` has no toString). */
function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message);
    if (typeof error === 'string') return error;
    if (error === null || (typeof error !== 'object' && typeof error !== 'function')) return String(error);
    return `a thrown ${Object.prototype.toString.call(error).slice(8, -1)}`;
  } catch {
    return 'a thrown value that cannot be described';
  }
}
