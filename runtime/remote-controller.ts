import type { Observable } from 'rxjs';
import type { CallContext } from './call-context.js';
import type { RpcError } from './errors.js';

/** What calling an action remotely gives: a Promise of its result; an Observable result arrives as `Promise<Observable<T>>`. */
export type RemoteResult<R> = [R] extends [Observable<infer Item>] ? Promise<Observable<Item>> : [R] extends [PromiseLike<infer Value>] ? ([Value] extends [Observable<infer Item>] ? Promise<Observable<Item>> : Promise<Value>) : Promise<R>;

/** An action's parameters as a caller passes them: a last CallContext (filled in on the callee) is not among them. */
export type CallerArgs<A extends readonly unknown[]> = A extends readonly [...infer Rest, CallContext] ? Rest : A extends readonly [...infer Rest, CallContext?] ? Rest : A;

/** The view of a controller `T` on another peer: each method becomes `(...args) => Promise<R>`. */
export type RemoteController<T> = {
  [K in keyof T as T[K] extends (...args: any[]) => any ? K : never]: T[K] extends (...args: infer A) => infer R ? (...args: CallerArgs<A>) => RemoteResult<R> : never;
};

/** One member's outcome of a group call: its value, or the error it (or the broker, for it) answered. */
export type GroupResult<R> = { peer: string; ok: true; value: R } | { peer: string; ok: false; error: RpcError };

/** A unary action's result value (never for a stream action: streams are not called on groups). */
type UnaryValue<R> = [R] extends [Observable<unknown>] ? never : [R] extends [PromiseLike<infer Value>] ? ([Value] extends [Observable<unknown>] ? never : Value) : R;

/** The unary actions of `T` (a group call names no stream action: calling one is a compile error). */
type UnaryKeys<T> = { [K in keyof T]: T[K] extends (...args: any[]) => infer R ? ([UnaryValue<R>] extends [never] ? never : K) : never }[keyof T];

/** The view of a controller `T` on every member of a group: each unary action resolves to one GroupResult per member. */
export type GroupController<T> = {
  [K in UnaryKeys<T>]: T[K] extends (...args: infer A) => infer R ? (...args: CallerArgs<A>) => Promise<GroupResult<UnaryValue<R>>[]> : never;
};

/** The view of a controller `T` on a group, collecting no answers: each unary action resolves once the broker took the call. */
export type GroupNotifier<T> = {
  [K in UnaryKeys<T>]: T[K] extends (...args: infer A) => unknown ? (...args: CallerArgs<A>) => Promise<void> : never;
};
