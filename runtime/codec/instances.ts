/**
 * How decoders make contract-class instances: the class's constructor is not run (it may
 * have side effects or required arguments), yet the value must look as if it had been: an
 * instance of the class (`instanceof` holds, methods work) with every public field an own
 * property.
 */

import type { Unfilled } from './unfilled.js';

/**
 * A constructor of `cls`'s instances that runs `init` (which sets every field to its default,
 * or to undefined until the decoder fills it: `this` is Unfilled) instead of the class's
 * constructor. All instances it makes share one shape with the fields stored in the object, so
 * a decoder fills them as cheaply as a plain object literal; an instance made with
 * `Object.create(prototype)` and then given its fields one by one grows its property storage
 * with each.
 */
export function instanceConstructor<T>(cls: { readonly prototype: T }, init: (this: Unfilled<T>) => void): new () => T {
  init.prototype = cls.prototype;
  return init as unknown as new () => T;
}
