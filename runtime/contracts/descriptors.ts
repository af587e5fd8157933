/**
 * What generated code hands the runtime: one descriptor per action with its routing keys,
 * fingerprint and generated codec/validator functions, and one per controller. The runtime
 * only looks these up and calls them; it never interprets a schema per call.
 */
import type { Observable } from 'rxjs';
import type { Reader, Writer } from '../codec/protobuf.js';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionSchema, WireTable } from './wire-schema.js';

/** Generated codec of an action's arguments (the request message), shared by actions of one shape. */
export interface RequestCodec<Args extends readonly unknown[]> {
  encode(w: Writer, args: Args): Writer;
  decode(r: Reader, end: number): Args;
  /** `paths[i]` names parameter i in issues, e.g. `join(player)`; no path is built unless there is an issue. */
  validate(args: Args, issues: ValidationIssue[], paths: readonly string[]): void;
}

/** Generated codec of an action's result (for streams: of one item). */
export interface ResponseCodec<Result> {
  encode(w: Writer, value: Result): Writer;
  /** Undefined when the bytes carry no result where one is required: the validator refuses it. */
  decode(r: Reader, end: number): Result | undefined;
  validate(value: unknown, issues: ValidationIssue[], path: string): void;
}

export interface ActionDescriptor<Args extends readonly unknown[] = readonly any[], Result = any> {
  readonly controller: string;
  readonly name: string;
  readonly kind: 'unary' | 'stream';
  /** Routing keys in the frame header: FNV-1a of the controller path and of the action name. */
  readonly controllerKey: number;
  readonly actionKey: number;
  /** 64-bit fingerprint of the action's wire schema as 16 hex digits, and as two uint32 halves. */
  readonly fingerprint: string;
  readonly fingerprintHi: number;
  readonly fingerprintLo: number;
  readonly request: RequestCodec<Args>;
  readonly response: ResponseCodec<Result>;
  /** How parameters, the result and stream items are named in validation issues: `join(player)`, `join:return`, `watch:item`. */
  readonly paramPaths: readonly string[];
  /** The action's last parameter is a CallContext (not on the wire): the callee's runtime passes one after the arguments. */
  readonly takesContext: boolean;
  readonly resultPath: string;
  readonly itemPath: string;
  /** The action's compact wire schema, for peers whose fingerprint differs (parsed on first use). */
  schema(): ActionSchema | undefined;
}

/** Per-call options for a remote controller (applies to every call made through it). */
export interface CallOptions {
  /** Overrides the client's timeout for calls through this controller (ms; 0 = none). */
  timeoutMs?: number;
  /** Aborting rejects the call with CANCELLED (and cancels a stream on the callee). */
  signal?: AbortSignal;
  /** Send a call the broker refused before it reached the callee again, within its deadline (see the client's `retry`). Default: the client's. */
  retry?: boolean;
}

/** What a generated proxy calls into: the client side of one peer. */
export interface PeerChannel {
  call<Args extends readonly unknown[], Result>(action: ActionDescriptor<Args, Result>, args: Args): Promise<Result>;
  stream<Args extends readonly unknown[], Item>(action: ActionDescriptor<Args, Item>, args: Args): Promise<Observable<Item>>;
}

export interface ControllerDescriptor {
  readonly path: string;
  /** The contract class name, for messages. */
  readonly name: string;
  readonly controllerKey: number;
  /** Fingerprint of the controller's contract (over its actions' names and fingerprints). */
  readonly fingerprint: string;
  readonly actions: readonly ActionDescriptor[];
  /** Builds the generated proxy class for this controller. */
  createProxy(channel: PeerChannel): object;
}

/** Everything one generated `index.ts` defines. */
export interface ContractSet {
  /** e.g. 'p2pgen 0.1.0'. */
  readonly generator: string;
  readonly controllers: readonly ControllerDescriptor[];
  /** The wire schemas of every action (see wire-schema.ts), built on first use. */
  readonly wire: () => WireTable;
}
