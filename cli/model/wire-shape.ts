/**
 * How model types are laid out in protobuf, shared by the .proto emitter and the codec emitter
 * so both always agree, and by the model's lock and name checks (proto-names.ts). Shapes
 * protobuf cannot express directly (a list of lists, an optional list, a nullable list element,
 * a map with a Date key) go through small structural wrapper messages whose names follow from
 * the type (`StringList`, `StringSet`, `Float32Array`, `NullableInt32`, `TimestampDoubleEntry`).
 */
import type { ContractModel, FieldModel, ScalarKind, TypeRef } from './contract-model.js';

export const TIMESTAMP = 'google.protobuf.Timestamp';
export const NULL_VALUE = 'google.protobuf.NullValue';

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;

export function scalarWireType(scalar: ScalarKind): number {
  switch (scalar) {
    case 'double':
    case 'sfixed64':
    case 'fixed64':
      return WireType.Fixed64;
    case 'float':
    case 'sfixed32':
    case 'fixed32':
      return WireType.Fixed32;
    case 'string':
    case 'bytes':
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

/** The wire type of one value of `type` (not of a repeated field). */
export function valueWireType(type: TypeRef): number {
  if (type.kind === 'scalar') return scalarWireType(type.scalar);
  if (type.kind === 'enum') return WireType.Varint;
  return WireType.LengthDelimited;
}

export function tag(fieldNumber: number, wireType: number): number {
  return ((fieldNumber << 3) | wireType) >>> 0;
}

/** Numbers, bools and enums in a repeated field are packed (and accepted unpacked). */
export function isPackable(type: TypeRef): boolean {
  return type.kind === 'enum' || (type.kind === 'scalar' && type.scalar !== 'string' && type.scalar !== 'bytes');
}

/** Key types protobuf allows in `map<K, V>`; other Map keys use a list of entry messages. */
export function isProtoMapKey(type: TypeRef): boolean {
  return type.kind === 'scalar' && ['string', 'int32', 'uint32', 'int64', 'bool'].includes(type.scalar);
}

/** Types that can be one value in a repeated field, map value or oneof member without a wrapper. */
export function isSingular(type: TypeRef): boolean {
  return type.kind === 'scalar' || type.kind === 'date' || type.kind === 'enum' || type.kind === 'message' || type.kind === 'union';
}

/** The name part of each scalar in generated names (`StringList`, `Args_String`). */
export const scalarBaseNames: Record<ScalarKind, string> = {
  string: 'String',
  bool: 'Bool',
  double: 'Double',
  float: 'Float',
  int32: 'Int32',
  uint32: 'Uint32',
  int64: 'Int64',
  bytes: 'Bytes',
  sfixed32: 'Sfixed32',
  fixed32: 'Fixed32',
  sfixed64: 'Sfixed64',
  fixed64: 'Fixed64',
  sint32: 'Sint32',
};

/** The name part a type contributes to a wrapper's name. */
export function baseName(type: TypeRef): string {
  switch (type.kind) {
    case 'scalar':
      return scalarBaseNames[type.scalar];
    case 'date':
      return 'Timestamp';
    case 'enum':
    case 'message':
    case 'union':
      return type.name;
    case 'literal':
      return 'Constant';
    default:
      return wrapperName(type);
  }
}

/** The wrapper message that carries a non-singular `type` as one value. */
export function wrapperName(type: TypeRef): string {
  switch (type.kind) {
    case 'array':
      // A typed array's wrapper is named after it (`Float32Array`): it decodes to one.
      return type.typed ?? `${baseName(type.element)}${type.set ? 'Set' : 'List'}`;
    case 'map':
      return `${baseName(type.key)}${baseName(type.value)}Map`;
    case 'nullable':
      return `Nullable${baseName(type.inner)}`;
    default:
      throw new Error(`no wrapper for ${type.kind}`);
  }
}

/** The entry message of a Map whose key protobuf cannot use as a map key. */
export function entryName(type: Extract<TypeRef, { kind: 'map' }>): string {
  return `${baseName(type.key)}${baseName(type.value)}Entry`;
}

/** The protobuf type name of one value of `type` (wrapped when not singular). */
export function protoValueType(type: TypeRef): string {
  switch (type.kind) {
    case 'scalar':
      return type.scalar;
    case 'date':
      return TIMESTAMP;
    case 'enum':
    case 'message':
    case 'union':
      return type.name;
    default:
      return wrapperName(type);
  }
}

/** The `NullValue` member of an optional and nullable field's oneof (`x` -> `x_null`). */
export function nullMarkerName(fieldProtoName: string): string {
  return `${fieldProtoName}_null`;
}

/** The oneof holding an optional and nullable field and its null marker (`x` -> `x_or_null`). */
export function nullableOneofName(fieldProtoName: string): string {
  return `${fieldProtoName}_or_null`;
}

/** How a field is laid out, derived from its type and presence. */
export type FieldShape =
  /** `T f = n;` (scalars: implicit presence, defaults not written) */
  | { kind: 'plain' }
  /** `optional T f = n;` (explicit presence; absent means undefined or null) */
  | { kind: 'optional' }
  /** `repeated T f = n;` */
  | { kind: 'repeated' }
  /** `map<K, V> f = n;` or `repeated Entry f = n;` */
  | { kind: 'map' }
  /** `Wrapper f = n;`: a list or map that may be absent */
  | { kind: 'wrapped' }
  /** `oneof f_value { T f = n; NullValue f_null = m; }`: absent, null and a value kept apart */
  | { kind: 'nullable-oneof' };

export function fieldShape(field: FieldModel): FieldShape {
  const { type } = field;
  const hasPresence = field.optional || field.nullable;
  const composite = type.kind === 'array' || type.kind === 'map';
  if (field.optional && field.nullable) return { kind: 'nullable-oneof' };
  if (!hasPresence) return composite ? { kind: type.kind === 'array' ? 'repeated' : 'map' } : { kind: 'plain' };
  if (composite) return { kind: 'wrapped' };
  return type.kind === 'scalar' || type.kind === 'enum' ? { kind: 'optional' } : { kind: 'plain' };
}

/** Every wrapper and entry message the model's fields and union variants reach, sorted by name. */
export function collectWrappers(model: ContractModel): Map<string, TypeRef> {
  const found = new Map<string, TypeRef>();
  // `t` is one value in a repeated field, map, wrapper or oneof: wrapped unless singular.
  const visitValue = (t: TypeRef) => {
    if (isSingular(t) || t.kind === 'literal') return;
    found.set(wrapperName(t), t);
    visitInner(t);
  };
  const visitInner = (t: TypeRef) => {
    if (t.kind === 'array') visitValue(t.element);
    else if (t.kind === 'map') {
      if (!isProtoMapKey(t.key)) found.set(entryName(t), t);
      visitValue(t.key);
      visitValue(t.value);
    } else if (t.kind === 'nullable') visitValue(t.inner);
  };
  for (const message of model.messages) {
    for (const field of message.fields) {
      const shape = fieldShape(field).kind;
      if (shape === 'wrapped' || shape === 'nullable-oneof') visitValue(field.type);
      else visitInner(field.type);
    }
  }
  for (const union of model.unions) for (const variant of union.variants) visitValue(variant.type);
  return new Map([...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
