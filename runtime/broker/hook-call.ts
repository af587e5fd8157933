/**
 * Calling a hook the user wrote (the security class's methods): bounded in time, and safe
 * whatever it throws or returns. A hook that does not settle within the deadline counts as
 * timed out (its late answer is ignored); one that throws hands back the thrown value, which
 * is only ever described by `describeThrown` (bounded, never `String()` of an arbitrary value).
 */

export type HookOutcome<T> = { readonly value: T } | { readonly error: unknown } | { readonly timedOut: true };

export function callHook<T>(hook: () => T | PromiseLike<T>, timeoutMs: number): Promise<HookOutcome<T>> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs > 0 && timeoutMs !== Infinity) {
      timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs);
      timer.unref?.();
    }
    const settle = (outcome: HookOutcome<T>) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    // Started on a microtask: a hook is never run inside the broker's own call stack.
    Promise.resolve()
      .then(hook)
      .then(
        (value) => settle({ value }),
        (error: unknown) => settle({ error }),
      );
  });
}

/** At most `max` characters saying what was thrown; never throws itself (a thrown `Object.create(null)` has no toString). */
export function describeThrown(error: unknown, max: number): string {
  let text: string;
  try {
    if (error instanceof Error) text = `${error.name}: ${error.message}`;
    else if (typeof error === 'string') text = error;
    else if (error === null || (typeof error !== 'object' && typeof error !== 'function')) text = String(error);
    else text = `a thrown ${Object.prototype.toString.call(error).slice(8, -1)}`;
  } catch {
    text = 'a thrown value that cannot be described';
  }
  return clip(typeof text === 'string' ? text : 'a thrown value that cannot be described', max);
}

/** The message of an Error the user meant for the client, at most `max` characters ('' if it has none that can be read). */
export function messageOf(error: unknown, max: number): string {
  try {
    const message = (error as { message?: unknown }).message;
    return typeof message === 'string' ? clip(message, max) : '';
  } catch {
    return '';
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
