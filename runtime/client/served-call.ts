/**
 * The callee's view of one call it serves, for an action that takes a CallContext: who called
 * (callers.ts), until when the caller waits (its Request's deadline, on this peer's clock), and
 * a signal that fires when the call is over for the caller (Cancel, the deadline, or this
 * peer's connection lost). The AbortController is made only when the action reads `signal`.
 */
import type { CallContext } from '../call-context.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { CallerInfo } from './callers.js';
import type { Timed } from './deadlines.js';

export class ServedCall implements CallContext, Timed {
  heapIndex = -1;
  private controller: AbortController | undefined;
  /** Why it was aborted (kept until someone reads `signal`). */
  private reason: RpcError | undefined;

  constructor(
    readonly routeId: number,
    private readonly caller: CallerInfo,
    /** Absolute (Date.now() scale); Infinity without. */
    public deadline: number,
    private readonly onExpire: (call: ServedCall) => void,
  ) {}

  get peer(): string | undefined {
    return this.caller.peers[0];
  }

  get peers(): readonly string[] {
    return this.caller.peers;
  }

  get session(): { readonly username: string } {
    return { username: this.caller.user };
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** The call is over for the caller. */
  abort(reason: RpcError): void {
    if (this.reason) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  /** Deadlines: the caller's timeout passed. */
  expire(): void {
    this.abort(new RpcError(RpcErrorCode.TIMEOUT, "the caller's timeout passed"));
    this.onExpire(this);
  }
}
