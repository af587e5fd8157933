/**
 * Interceptors: functions around every call a client makes (`interceptors`) or serves
 * (`serveInterceptors`), for what applications do beside their actions: request ids, auth
 * tokens, logging, timing, tracing (p2pgen/otel is two of them). Each is
 * `(next) => async (call) => …`: it may read the call, set metadata (on the caller's side),
 * throw an RpcError (the caller sees its code), and call `next(call)` and return its result,
 * or a wrapped one.
 *
 * Several compose in array order: the first is the outermost (it runs first on the way out and
 * sees the result last). The chain is built once per client.
 *
 * What `next(call)` resolves with: a unary action's result; for a stream action the
 * Observable of its items (on the caller's side once the callee accepted the stream; on the
 * callee's, what the action returned). To watch a stream to its end without turning a
 * pullStream into a push source, wrap it with `tapStream`.
 */
import type { CallContext } from './call-context.js';

/** What a call is, for an interceptor: the same on both sides. */
export interface InterceptedCall {
  /** 'stream' for an action that returns an Observable. */
  readonly kind: 'unary' | 'stream';
  /** The controller's path (`'/chat'`). */
  readonly path: string;
  /** The action's name (`'sendMessage'`). */
  readonly action: string;
  /** The arguments, as the caller passed them (validated against the contract after the interceptors ran, before sending). */
  readonly args: readonly unknown[];
  /** Fires when the call is over for the caller (on the caller's side: the signal it was made with; one that never fires without). */
  readonly signal: AbortSignal;
  /** When the caller stops waiting, in `Date.now()` time (Infinity: no timeout). */
  readonly deadline: number;
}

/** A call this client makes, as its `interceptors` see it. */
export interface OutgoingCall extends InterceptedCall {
  /** The id of the peer called. */
  readonly target: string;
  /**
   * What the callee's `ctx.metadata` will hold: set entries before calling `next`. Keys are
   * lowercase letters, digits, `-`, `_`, `.`; at most METADATA_LIMITS (64 entries, 8 KiB).
   */
  readonly metadata: Map<string, string>;
}

/** A call this client serves, as its `serveInterceptors` see it: its CallContext, and what is called. */
export interface IncomingCall extends InterceptedCall, CallContext {}

export type OutgoingHandler = (call: OutgoingCall) => Promise<unknown>;
export type IncomingHandler = (call: IncomingCall) => Promise<unknown>;

/** Around every call and stream this client makes. */
export type Interceptor = (next: OutgoingHandler) => OutgoingHandler;
/** Around every call and stream this client serves. */
export type ServeInterceptor = (next: IncomingHandler) => IncomingHandler;

/** The handler that runs `interceptors` around `terminal` (the first interceptor outermost), or undefined without any. */
export function compose<Handler>(interceptors: readonly ((next: Handler) => Handler)[] | undefined, terminal: Handler): Handler | undefined {
  if (interceptors === undefined || interceptors.length === 0) return undefined;
  let handler = terminal;
  for (let i = interceptors.length - 1; i >= 0; i--) handler = interceptors[i]!(handler);
  return handler;
}
