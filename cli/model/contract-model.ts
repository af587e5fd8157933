/**
 * The contract model: plain, serializable data describing every controller, action and type
 * reachable from the contracts. The reader produces it, the numbering step fills in field
 * numbers and fingerprints, and every emitter and the compatibility checker read only this.
 * Nothing downstream of the reader touches ts-morph.
 */

export const MODEL_VERSION = 1;

/** A place in a contract source file; `file` is relative to the contracts folder, with '/'. */
export interface SourceRef {
  file: string;
  line: number;
  column: number;
}

/**
 * Wire scalars. The last five are only ever the elements of a typed array (a packed repeated
 * field whose elements are fixed-width where the bytes can be viewed, zigzag where they cannot).
 */
export type ScalarKind = 'string' | 'bool' | 'double' | 'float' | 'int32' | 'uint32' | 'int64' | 'bytes' | 'sfixed32' | 'fixed32' | 'sfixed64' | 'fixed64' | 'sint32';

/** The typed arrays a contract may use (Uint8Array is `bytes`). */
export type TypedArrayName =
  | 'Float32Array'
  | 'Float64Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'BigInt64Array'
  | 'BigUint64Array'
  | 'Int16Array'
  | 'Int8Array'
  | 'Uint16Array'
  | 'Uint8ClampedArray';

/** Validation constraints that ride on a type (from the constraint brands); the runtime's wire schemas carry the same. */
export type { Constraints } from 'p2pgen/tooling';
import type { Constraints } from 'p2pgen/tooling';

/** How a TypeScript type maps onto the wire. */
export type TypeRef =
  | { kind: 'scalar'; scalar: ScalarKind; constraints?: Constraints }
  | { kind: 'date' }
  | { kind: 'enum'; name: string }
  | { kind: 'message'; name: string }
  | { kind: 'union'; name: string }
  /**
   * A repeated field. `set`: a `Set<T>`, whose decoder refuses an element twice. `typed`: a typed
   * array, whose `element` is its wire scalar (typed-arrays.ts).
   */
  | { kind: 'array'; element: TypeRef; constraints?: Constraints; set?: true; typed?: TypedArrayName }
  /** `record`: a `Record<string, V>` received as a plain object, else a `Map`. */
  | { kind: 'map'; key: TypeRef; value: TypeRef; record: boolean }
  /** A value that may be `null` where presence cannot be expressed by a field (array element, map value). */
  | { kind: 'nullable'; inner: TypeRef }
  /** A single literal type (e.g. a discriminant `kind: 'circle'`): constant, never on the wire. */
  | { kind: 'literal'; value: string | number | boolean };

export interface FieldModel {
  /** The TypeScript property (or parameter) name. */
  name: string;
  /** The protobuf field name (the TS name made a valid identifier). */
  protoName: string;
  number: number;
  type: TypeRef;
  /** May be `undefined` (`x?: T`, `T | undefined`, a parameter with a default). */
  optional: boolean;
  /** May be `null`. */
  nullable: boolean;
  /** When both optional and nullable: the field number of the `null` marker in the field's oneof. */
  nullNumber?: number;
  source?: SourceRef;
}

/** Where a message comes from, which decides what a receiving peer gets. */
export type MessageOrigin =
  /** An exported class: received as an instance of it (`typeArguments` for an instantiated generic class). */
  | { kind: 'class'; tsName: string; file: string; typeArguments?: TypeRef[] }
  /** An exported interface or object type alias: received as a plain object. */
  | { kind: 'interface'; tsName: string; file: string }
  /** An anonymous object type in a signature: a plain object with a synthesized name. */
  | { kind: 'anonymous' }
  /**
   * A tuple (`[string, int32]`): its elements are the fields `0`, `1`, …; received as an array.
   * `tsName` and `file` when it is an exported type alias (generated code imports it).
   */
  | { kind: 'tuple'; tsName?: string; file?: string }
  /** The arguments of an action, one field per parameter. */
  | { kind: 'request'; controller: string; action: string }
  /** The result of an action, in the field `value` (no field for `void`). */
  | { kind: 'response'; controller: string; action: string };

export interface MessageModel {
  name: string;
  origin: MessageOrigin;
  fields: FieldModel[];
  /** Field numbers that were used before and must never be used again. */
  reserved: number[];
  /** protobuf names of removed fields (filled in from the lock), so no field takes one with another meaning. */
  reservedNames?: string[];
  source?: SourceRef;
}

/** How a receiving peer tells the variants of a union apart when encoding. */
export type VariantMatch =
  | { kind: 'discriminant'; property: string; value: string | number | boolean }
  | { kind: 'typeof'; type: 'string' | 'number' | 'boolean' | 'bigint' }
  | { kind: 'instanceof'; ctor: 'Date' | 'Uint8Array' }
  | { kind: 'array' }
  | { kind: 'object' };

export interface UnionVariant {
  /** The protobuf field name of this variant inside the union's oneof. */
  protoName: string;
  number: number;
  type: TypeRef;
  match: VariantMatch;
}

/** A union of distinguishable types (a discriminated union of objects, or of primitives): a oneof. */
export interface UnionModel {
  name: string;
  /** The alias name when the union is a named type alias. */
  tsName?: string;
  file?: string;
  variants: UnionVariant[];
  reserved: number[];
  reservedNames?: string[];
  source?: SourceRef;
}

export interface EnumValueModel {
  /** The protobuf value name, e.g. DOCUMENT_EDIT_OPERATION_INSERT. */
  protoName: string;
  number: number;
  /** The TypeScript value a peer receives: the literal, or the TS enum member's value. */
  value: string | number;
  /** For TS enums: the member name. */
  member?: string;
}

export interface EnumModel {
  name: string;
  origin: { kind: 'enum'; tsName: string; file: string } | { kind: 'literals' };
  values: EnumValueModel[];
  reserved: number[];
  reservedNames?: string[];
  source?: SourceRef;
}

export interface ActionModel {
  name: string;
  kind: 'unary' | 'stream';
  /** The request message (fields = parameters in source order). */
  request: string;
  /** The response message (stream actions: the message of one item). */
  response: string;
  /** Hex SHA-256 prefix of the action's wire schema (request, response, everything they reach). */
  fingerprint: string;
  /** The action's last parameter is a CallContext (filled in by the callee's runtime; not on the wire, not in the fingerprint). */
  context?: true;
  source: SourceRef;
}

export interface ControllerModel {
  path: string;
  /** The TypeScript class name; also the protobuf service name. */
  className: string;
  file: string;
  /** Hex SHA-256 prefix over the actions' names and fingerprints. */
  fingerprint: string;
  actions: ActionModel[];
  source: SourceRef;
}

export interface ContractModel {
  modelVersion: typeof MODEL_VERSION;
  protoPackage: string;
  /** Contract source files, relative to the contracts folder, sorted. */
  sources: string[];
  controllers: ControllerModel[];
  messages: MessageModel[];
  unions: UnionModel[];
  enums: EnumModel[];
}
