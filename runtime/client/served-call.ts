/**
 * The callee's view of one call it serves, for an action that takes a CallContext or a client
 * with serve interceptors: who called (callers.ts), what the caller's interceptors sent
 * (metadata), until when the caller waits (its Request's deadline, on this peer's clock), and
 * a signal that fires when the call is over for the caller (Cancel, the deadline, or this
 * peer's connection lost). The AbortController is made, and the deadline watched, only when
 * someone reads `signal`. To
 * serve interceptors it is also the IncomingCall: what is called, with which arguments.
 */
import type { CallContext } from '../call-context.js';
import type { IncomingCall } from '../interceptors.js';
import type { ActionDescriptor } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { CallerInfo } from './callers.js';
import type { Timed } from './deadlines.js';

/** The ServedCall behind an IncomingCall (also behind a copy an interceptor made with `{ ...call }`). */
export const servedCallKey = Symbol('p2pgen.servedCall');

export class ServedCall implements CallContext, IncomingCall, Timed {
  heapIndex = -1;
  /** What is called (filled in for serve interceptors). */
  kind: 'unary' | 'stream' = 'unary';
  path = '';
  action = '';
  args: readonly unknown[] = [];
  readonly [servedCallKey]: ServedCall = this;
  /** The action the serve interceptors' chain ends in (on `instance`), until it ran (once). */
  invokes: ActionDescriptor | undefined;
  instance: Record<string, unknown> | undefined;
  /** The group the call was made to (docs/groups.md); undefined for a call to this peer. */
  group: string | undefined;
  private controller: AbortController | undefined;
  /** Why it was aborted (kept until someone reads `signal`). */
  private reason: RpcError | undefined;

  constructor(
    readonly routeId: number,
    private readonly caller: CallerInfo,
    /** Absolute (Date.now() scale); Infinity without. */
    public deadline: number,
    private readonly onExpire: (call: ServedCall) => void,
    readonly metadata: ReadonlyMap<string, string>,
    /** Called when `signal` is first read, with a deadline: from then on the deadline is watched (nobody else would see it pass). */
    private readonly watch: (call: ServedCall) => void,
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
      else if (this.deadline !== Infinity) this.watch(this);
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
