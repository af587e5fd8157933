/**
 * The contract-side API: what `contracts/*.ts` import from 'p2pgen'.
 *
 * At run time the decorators only record the controller path / entity name on the class;
 * everything else about a contract is read from its TypeScript source by `p2pgen build`.
 * The number and constraint types are brands: they cost nothing at run time and are
 * plain `number`/`string` to the type checker, but the generator reads them.
 */

const controllerPathKey: unique symbol = Symbol.for('p2pgen.controllerPath');
const entityNameKey: unique symbol = Symbol.for('p2pgen.entityName');

/**
 * Decorator factories accept both standard (TC39) decorators and TypeScript's legacy
 * `experimentalDecorators`, so contracts compile in either kind of project.
 */
type AnyDecorator = (target: any, context?: any, descriptor?: any) => any;

function recordOnClass(key: symbol, value: string): AnyDecorator {
  return (target: unknown) => {
    if (typeof target === 'function') {
      Object.defineProperty(target, key, { value, enumerable: false, configurable: true });
    }
  };
}

export const rpc = {
  /** Marks a class as a controller reachable at `path` (e.g. '/chat'). */
  controller(path: string): AnyDecorator {
    return recordOnClass(controllerPathKey, path);
  },
  /** Marks a method as an action: only decorated methods are part of the contract. */
  action(): AnyDecorator {
    return () => undefined;
  },
};

export const entity = {
  /** Names the protobuf message for this class (e.g. 'chat-message' becomes ChatMessage). */
  name(name: string): AnyDecorator {
    return recordOnClass(entityNameKey, name);
  },
};

/** The path given to `@rpc.controller`, if `cls` is a controller class. */
export function controllerPathOf(cls: unknown): string | undefined {
  return typeof cls === 'function' ? (cls as any)[controllerPathKey] : undefined;
}

/** The name given to `@entity.name`, if any. */
export function entityNameOf(cls: unknown): string | undefined {
  return typeof cls === 'function' ? (cls as any)[entityNameKey] : undefined;
}

// ---- number formats and constraints (type-level brands) ----------------------------------

declare const numberFormat: unique symbol;
declare const constraint: unique symbol;

/** A 32-bit signed integer: protobuf int32. */
export type int32 = number & { readonly [numberFormat]?: 'int32' };
/** A 32-bit unsigned integer: protobuf uint32. */
export type uint32 = number & { readonly [numberFormat]?: 'uint32' };
/** A 32-bit float: protobuf float (values are rounded to float32 on the wire). */
export type float32 = number & { readonly [numberFormat]?: 'float32' };

/** The string (or array) has at least `N` characters (elements). */
export type MinLength<N extends number> = { readonly [constraint]?: { minLength: N } };
/** The string (or array) has at most `N` characters (elements). */
export type MaxLength<N extends number> = { readonly [constraint]?: { maxLength: N } };
/** The string matches the regular expression source `R` (no flags). */
export type Pattern<R extends string> = { readonly [constraint]?: { pattern: R } };
/** The number (or bigint) is at least `N`. */
export type Minimum<N extends number> = { readonly [constraint]?: { minimum: N } };
/** The number (or bigint) is at most `N`. */
export type Maximum<N extends number> = { readonly [constraint]?: { maximum: N } };
/** The number (or bigint) is greater than zero. */
export type Positive = { readonly [constraint]?: { positive: true } };
/** The string is an e-mail address (a pragmatic check: local@domain.tld, no spaces). */
export type Email = { readonly [constraint]?: { email: true } };
