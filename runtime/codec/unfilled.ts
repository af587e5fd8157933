/**
 * What a decoder fills: a message or an argument list whose fields (elements) may still be
 * undefined, because their bytes have not arrived yet or never came. A decoder starts from one
 * and hands it on as the type it is filling; every decoded value passes its validator before
 * anyone uses it, and the validator refuses one whose required fields stayed undefined. This is
 * the one place that tells the type checker so: generated code starts its values with
 * `unfilled<T>(…)` or through `instanceConstructor`, and needs no casts.
 */

/** `T` with every field (or tuple element) possibly still undefined; optional ones stay optional. */
export type Unfilled<T> = { [K in keyof T]: T[K] | undefined };

/** `initial` as the `T` a decoder fills it into (see the top of this file). */
export function unfilled<T>(initial: Unfilled<T>): T {
  return initial as T;
}
