/**
 * Every failure a caller sees is an RpcError with a code from one closed list. The message is
 * prefixed with the code; `rawMessage` keeps the text without it. `instanceof RpcError` holds
 * across duplicate copies of the package (it checks a registered brand, not the prototype).
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
  /** In a cluster: the broker the peer is on cannot be reached right now (NATS is down or the link was lost); retry later. */
  UNAVAILABLE: 'UNAVAILABLE',
} as const;

export type RpcErrorCode = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

const codes = new Set<string>(Object.values(RpcErrorCode));
const brand = Symbol.for('p2pgen.RpcError');

export function isRpcErrorCode(value: unknown): value is RpcErrorCode {
  return typeof value === 'string' && codes.has(value);
}

export interface RpcErrorDetails {
  cause?: unknown;
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

  constructor(code: RpcErrorCode, message: string, details: RpcErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RpcError';
    this.code = code;
    this.rawMessage = message;
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
