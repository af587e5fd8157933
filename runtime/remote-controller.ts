import type { Observable } from 'rxjs';
import type { CallContext } from './call-context.js';

/** What calling an action remotely gives: a Promise of its result; an Observable result arrives as `Promise<Observable<T>>`. */
export type RemoteResult<R> = [R] extends [Observable<infer Item>]
  ? Promise<Observable<Item>>
  : [R] extends [PromiseLike<infer Value>]
    ? [Value] extends [Observable<infer Item>]
      ? Promise<Observable<Item>>
      : Promise<Value>
    : Promise<R>;

/** An action's parameters as a caller passes them: a last CallContext (filled in on the callee) is not among them. */
export type CallerArgs<A extends readonly unknown[]> = A extends readonly [...infer Rest, CallContext]
  ? Rest
  : A extends readonly [...infer Rest, CallContext?]
    ? Rest
    : A;

/** The view of a controller `T` on another peer: each method becomes `(...args) => Promise<R>`. */
export type RemoteController<T> = {
  [K in keyof T as T[K] extends (...args: any[]) => any ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: CallerArgs<A>) => RemoteResult<R>
    : never;
};
