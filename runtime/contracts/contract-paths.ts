/**
 * Which contract lives at which path, at the type level: what types `client.peer(id).controller(path)`
 * and `client.registerController(path, instance)`. Generated code declares its controllers here
 * (a module augmentation of 'p2pgen'); nothing of this exists at run time.
 */
import type { RemoteController } from '../remote-controller.js';

/**
 * Filled in by generated code: each generated `index.ts` adds, for every controller, the key
 * `'<controller fingerprint> <path>'` with the contract at that path (its actions):
 *
 * ```ts
 * declare module 'p2pgen' {
 *   interface ContractDeclarations {
 *     'a208684a3cff47e4 /chat': Pick<ChatPeerController, keyof typeof ChatPeerControllerActions>;
 *   }
 * }
 * ```
 *
 * The fingerprint in the key lets two generated files declare one path (two versions of a
 * contract in one program, as a peer that talks to old and new peers has) without their
 * declarations clashing. Read it through `ContractPaths`.
 */
export interface ContractDeclarations {}

/**
 * The contract at each path generated code declares (`ContractPaths['/chat']`); a union where
 * generated files loaded together declare one path differently.
 */
export type ContractPaths = {
  [K in keyof ContractDeclarations as K extends `${infer _Fingerprint} ${infer Path}` ? Path : never]: ContractDeclarations[K];
};

/** A path some generated code declares. */
export type DeclaredPath = keyof ContractPaths & string;

/**
 * What `controller(path)` without a type argument accepts besides a declared path: nothing (no
 * string is this object type, nor is it offered as a completion), but the compiler's message
 * then says what to do.
 */
export interface PathNotDeclaredByGeneratedCode {
  readonly 'no generated code declares this path: import the generated index.ts, or name the contract: controller<MyController>(path)': never;
}

/** Whether `T` is the contract `C` or a view of it: T has every action of C, or C every member of T. */
type Fits<T, C> = [T] extends [C] ? true : [C] extends [T] ? true : false;

/** The declared paths whose contract `T` is. */
export type PathsOf<T> = { [P in DeclaredPath]: Fits<T, ContractPaths[P]> extends true ? P : never }[DeclaredPath];

/**
 * The paths `controller<T>(path)` accepts: those where generated code declares `T` (another
 * declared path, or an undeclared one, is a compile error); any path for a `T` no generated code
 * declares (a hand-written interface: the run time checks it).
 */
export type PathFor<T> = [T] extends [never] ? DeclaredPath | PathNotDeclaredByGeneratedCode : [PathsOf<T>] extends [never] ? string : PathsOf<T>;

/** Every member name of each member of a union. */
type KeysOfEach<C> = C extends unknown ? keyof C : never;

/**
 * What `controller<T>(path)` gives: `T`'s methods as remote calls, only those that are actions
 * of the contract it is declared as (helpers and fields of a contract class are not callable).
 */
export type RemoteOf<T> = [PathsOf<T>] extends [never] ? RemoteController<T> : RemoteController<Pick<T, keyof T & KeysOfEach<ContractPaths[PathsOf<T>]>>>;

/**
 * What serves contract `C`: each action as the contract declares it, or returning a Promise of
 * its result (the callee awaits it).
 */
export type Implementation<C> = {
  [K in keyof C]: C[K] extends (...args: infer A) => infer R ? (...args: A) => Awaited<R> | PromiseLike<Awaited<R>> : C[K];
};

/** What `registerController(path, instance)` requires: an implementation of the contract declared at `path`, else any object. */
export type ImplementationFor<P extends string> = P extends DeclaredPath ? Implementation<ContractPaths[P]> : object;
