/**
 * Emits the contracts as one proto3 file: a service per controller, an rpc per action (`stream`
 * for Observable results), a message per entity and per action request/response, enums,
 * oneofs, maps, structural wrappers, and `reserved` for numbers that must never come back.
 */
import type { ContractModel, EnumModel, FieldModel, MessageModel, TypeRef, UnionModel } from '../model/contract-model.js';
import {
  collectWrappers,
  entryName,
  fieldShape,
  isProtoMapKey,
  NULL_VALUE,
  nullableOneofName,
  nullMarkerName,
  protoValueType,
} from '../model/wire-shape.js';
import { enumZeroName } from '../naming.js';
import { TYPED_ARRAYS } from '../model/typed-arrays.js';

export interface ProtoEmitOptions {
  /** The comment lines at the top (generator, sources, how to regenerate). */
  header: string[];
}

export function emitProto(model: ContractModel, options: ProtoEmitOptions): string {
  const out: string[] = [];
  const line = (text = '') => out.push(text);
  for (const h of options.header) line(`// ${h}`);
  line();
  line('syntax = "proto3";');
  line();
  line(`package ${model.protoPackage};`);
  line();
  const text = JSON.stringify(model);
  const imports: string[] = [];
  if (text.includes('"kind":"date"')) imports.push('google/protobuf/timestamp.proto');
  if (model.messages.some((m) => m.fields.some((f) => f.optional && f.nullable))) imports.push('google/protobuf/struct.proto');
  for (const i of imports) line(`import "${i}";`);
  if (imports.length > 0) line();

  for (const controller of model.controllers) {
    line(`// ${controller.path} (${controller.file})`);
    line(`service ${controller.className} {`);
    for (const action of controller.actions) {
      const stream = action.kind === 'stream' ? 'stream ' : '';
      line(`  rpc ${action.name}(${action.request}) returns (${stream}${action.response});`);
    }
    line('}');
    line();
  }
  for (const message of model.messages) emitMessage(message, line);
  for (const union of model.unions) emitUnion(union, line);
  for (const [name, type] of collectWrappers(model)) emitWrapper(name, type, line);
  for (const e of model.enums) emitEnum(e, line);
  while (out[out.length - 1] === '') out.pop();
  return out.join('\n') + '\n';
}

type Line = (text?: string) => void;

function describeOrigin(message: MessageModel): string | undefined {
  switch (message.origin.kind) {
    case 'class':
      return `class ${message.origin.tsName} (${message.origin.file})`;
    case 'interface':
      return `type ${message.origin.tsName} (${message.origin.file})`;
    case 'tuple':
      return `tuple ${message.origin.tsName ? `${message.origin.tsName} (${message.origin.file})` : `at ${message.source?.file}:${message.source?.line}`}: field n+1 holds element n`;
    case 'request':
      return `arguments of ${message.origin.controller} ${message.origin.action}`;
    case 'response':
      return `result of ${message.origin.controller} ${message.origin.action}`;
    default:
      return message.source ? `anonymous type at ${message.source.file}:${message.source.line}` : undefined;
  }
}

function emitMessage(message: MessageModel, line: Line): void {
  const origin = describeOrigin(message);
  if (origin) line(`// ${origin}`);
  line(`message ${message.name} {`);
  emitReserved(message.reserved, message.reservedNames, line);
  for (const field of message.fields) emitField(field, line);
  line('}');
  line();
}

/**
 * What absence means where protobuf's schema cannot say it (docs/contracts.md, "Decoding"): a peer
 * written from the .proto alone reads these comments to know p2pgen's rules.
 */
function presenceComment(field: FieldModel): string | undefined {
  const { type } = field;
  const shape = fieldShape(field).kind;
  const typed = typedComment(type);
  if (typed) return [typed, presenceComment({ ...field, type: { kind: 'array', element: (type as Extract<TypeRef, { kind: 'array' }>).element } })].filter(Boolean).join('; ');
  if (shape === 'nullable-oneof') return 'absent: undefined; NullValue: null';
  if (field.nullable) return 'absent: null';
  if (field.optional) return shape === 'optional' ? undefined : 'absent: undefined';
  if (shape === 'repeated' || shape === 'map' || type.kind === 'scalar') return undefined;
  return 'required: absent is refused';
}

/** A typed array says which (a reader builds one) and the range of a narrow one; a Set that no element comes twice. */
function typedComment(type: TypeRef): string | undefined {
  if (type.kind !== 'array') return undefined;
  if (type.set) return 'a Set: no element twice';
  if (!type.typed) return undefined;
  const range = TYPED_ARRAYS[type.typed].range;
  return `${type.typed}${range ? `: each value ${range.minimum} to ${range.maximum}` : ''}`;
}

function emitField(field: FieldModel, line: Line): void {
  const { type } = field;
  if (type.kind === 'literal') {
    line(`  // ${field.name}: always ${JSON.stringify(type.value)} (not on the wire)`);
    return;
  }
  const name = field.protoName;
  const comment = presenceComment(field);
  if (comment) line(`  // ${comment}`);
  switch (fieldShape(field).kind) {
    case 'plain':
      line(`  ${protoValueType(type)} ${name} = ${field.number};`);
      break;
    case 'optional':
      line(`  optional ${protoValueType(type)} ${name} = ${field.number};`);
      break;
    case 'repeated':
      line(`  repeated ${protoValueType((type as Extract<TypeRef, { kind: 'array' }>).element)} ${name} = ${field.number};`);
      break;
    case 'map':
      line(`  ${mapFieldType(type as Extract<TypeRef, { kind: 'map' }>)} ${name} = ${field.number};`);
      break;
    case 'wrapped':
      line(`  ${protoValueType(type)} ${name} = ${field.number};`);
      break;
    case 'nullable-oneof':
      line(`  oneof ${nullableOneofName(name)} {`);
      line(`    ${protoValueType(type)} ${name} = ${field.number};`);
      line(`    ${NULL_VALUE} ${nullMarkerName(name)} = ${field.nullNumber};`);
      line('  }');
      break;
  }
}

function mapFieldType(type: Extract<TypeRef, { kind: 'map' }>): string {
  return isProtoMapKey(type.key)
    ? `map<${protoValueType(type.key)}, ${protoValueType(type.value)}>`
    : `repeated ${entryName(type)}`;
}

function emitUnion(union: UnionModel, line: Line): void {
  line(`// union${union.tsName ? ` ${union.tsName} (${union.file})` : ''}: exactly one member is set`);
  line(`message ${union.name} {`);
  emitReserved(union.reserved, union.reservedNames, line);
  line('  oneof value {');
  for (const variant of union.variants) line(`    ${protoValueType(variant.type)} ${variant.protoName} = ${variant.number};`);
  line('  }');
  line('}');
  line();
}

function emitWrapper(name: string, type: TypeRef, line: Line): void {
  line(`message ${name} {`);
  if (type.kind === 'map' && name.endsWith('Entry')) {
    line(`  ${protoValueType(type.key)} key = 1;`);
    line(`  ${protoValueType(type.value)} value = 2;`);
  } else if (type.kind === 'array') {
    const typed = typedComment(type);
    if (typed) line(`  // ${typed}`);
    line(`  repeated ${protoValueType(type.element)} value = 1;`);
  } else if (type.kind === 'map') {
    line(`  ${mapFieldType(type)} value = 1;`);
  } else if (type.kind === 'nullable') {
    const inner = type.inner;
    const optional = inner.kind === 'scalar' || inner.kind === 'enum' ? 'optional ' : '';
    line(`  // absent: null`);
    line(`  ${optional}${protoValueType(inner)} value = 1;`);
  }
  line('}');
  line();
}

function emitEnum(e: EnumModel, line: Line): void {
  if (e.origin.kind === 'enum') line(`// enum ${e.origin.tsName} (${e.origin.file})`);
  else line(`// ${e.values.map((v) => JSON.stringify(v.value)).join(' | ')}`);
  line('// 0 and numbers not listed are refused, not kept: they are no value of this enum');
  line(`enum ${e.name} {`);
  line(`  ${enumZeroName(e.name)} = 0;`);
  for (const value of e.values) line(`  ${value.protoName} = ${value.number};`);
  emitReserved(e.reserved, e.reservedNames, line);
  line('}');
  line();
}

/** Removed numbers and names: neither may come back with another meaning. */
function emitReserved(numbers: number[], names: string[] | undefined, line: Line): void {
  if (numbers.length > 0) line(`  reserved ${numbers.join(', ')};`);
  if (names && names.length > 0) line(`  reserved ${names.map((n) => JSON.stringify(n)).join(', ')};`);
}
