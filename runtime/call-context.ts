/**
 * What an action is told about the call it serves. Declare it as an action's last parameter
 * (`ctx: CallContext`): it is not part of the contract (no field on the wire, no change to
 * the fingerprint, not in the `.proto`, not on the caller's proxy), and the callee's runtime
 * fills it in. Everything in it but `metadata` comes from the broker or from this peer's own
 * clock, never from what the caller wrote.
 */

declare const callContextBrand: unique symbol;

export interface CallContext {
  /**
   * The caller's peer id, as the broker knows it (it stamps the true source on every call):
   * the first of its ids when its connection holds several, undefined when it holds none.
   */
  readonly peer: string | undefined;
  /** Every peer id the caller's connection holds. */
  readonly peers: readonly string[];
  /** What the broker's `authenticate` made of the caller's connection. */
  readonly session: { readonly username: string };
  /**
   * Fires when the call is over for the caller: it cancelled (an AbortSignal, unsubscribing a
   * stream), its timeout passed, or it left. Long actions should stop then: nobody waits for
   * their result. `signal.reason` is the RpcError the caller saw (CANCELLED, TIMEOUT,
   * NOT_CONNECTED when this peer lost its own connection).
   */
  readonly signal: AbortSignal;
  /** When the caller stops waiting, in `Date.now()` time of this peer (Infinity: no timeout). */
  readonly deadline: number;
  /**
   * What the caller's interceptors put beside the arguments (a request id, a trace context, a
   * token): read-only, empty when it sent none. Unlike the rest of the context it is the
   * caller's word, not the broker's: check it as you would an argument.
   */
  readonly metadata: ReadonlyMap<string, string>;
  /** The group the caller called (`client.group(name)`, or `client.anyPeer({ group })`), undefined for a call to this peer by id or to any peer (docs/groups.md). */
  readonly group: string | undefined;
  /** Types only: a CallContext is made by the runtime, not by hand. */
  readonly [callContextBrand]?: never;
}
