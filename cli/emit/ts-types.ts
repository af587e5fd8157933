/**
 * The TypeScript side of the model's types in the generated file: contract classes, interfaces,
 * TS enums, named unions and tuple aliases are imported from their contract file; anonymous
 * messages and tuples, literal unions and unnamed unions are declared by the file itself
 * (`declarations`). Also how a value
 * of a union's variant is recognised at run time (`matchTest`), which encoders and validators
 * both test.
 */
import type { ContractModel, EnumModel, FieldModel, MessageModel, ScalarKind, TypeRef, UnionVariant } from '../model/contract-model.js';
import { literal, memberAccess, propertyKey, type GeneratedFile } from './printer.js';

const scalarTsTypes: Record<ScalarKind, string> = {
  string: 'string',
  bool: 'boolean',
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  int64: 'bigint',
  bytes: 'Uint8Array',
  // Typed arrays' elements only.
  sfixed32: 'number',
  fixed32: 'number',
  sfixed64: 'bigint',
  fixed64: 'bigint',
  sint32: 'number',
};

/** A name exported by a contract file (`file` relative to the contracts folder), as printed. */
export type ContractImport = (file: string, name: string, typeOnly: boolean) => string;

export class TsTypes {
  /** TS type of each message, union and enum (imported names are printer symbols). */
  private readonly names = new Map<string, string>();
  /** The class (value) of an instantiated generic class message, whose type has arguments. */
  private readonly classNames = new Map<string, string>();

  constructor(
    private readonly model: ContractModel,
    file: GeneratedFile,
    contract: ContractImport,
  ) {
    for (const m of model.messages) {
      if (m.origin.kind === 'class') this.names.set(m.name, contract(m.origin.file, m.origin.tsName, false));
      else if (m.origin.kind === 'interface') this.names.set(m.name, contract(m.origin.file, m.origin.tsName, true));
      else if (m.origin.kind === 'tuple') this.names.set(m.name, m.origin.tsName && m.origin.file ? contract(m.origin.file, m.origin.tsName, true) : file.declare(m.name));
      else this.names.set(m.name, m.origin.kind === 'anonymous' ? file.declare(m.name) : m.name);
    }
    for (const u of model.unions) this.names.set(u.name, u.tsName && u.file ? contract(u.file, u.tsName, true) : file.declare(u.name));
    for (const e of model.enums) {
      this.names.set(e.name, e.origin.kind === 'enum' ? contract(e.origin.file, e.origin.tsName, false) : file.declare(e.name));
    }
    // Instantiated generic classes: `Box<Item>` (arguments named once every name is known).
    for (const m of model.messages) {
      if (m.origin.kind === 'class' && m.origin.typeArguments) {
        this.classNames.set(m.name, this.names.get(m.name)!);
        this.names.set(m.name, `${this.names.get(m.name)}<${m.origin.typeArguments.map((a) => this.of(a)).join(', ')}>`);
      }
    }
  }

  /** The TS type of the message, union or enum `name`. */
  named(name: string): string {
    return this.names.get(name)!;
  }

  /** The class a decoded message is an instance of (without type arguments). */
  classOf(name: string): string {
    return this.classNames.get(name) ?? this.names.get(name)!;
  }

  /** The TS type of a value of `type`. */
  of(type: TypeRef): string {
    switch (type.kind) {
      case 'scalar':
        return scalarTsTypes[type.scalar];
      case 'date':
        return 'Date';
      case 'enum':
      case 'message':
      case 'union':
        return this.names.get(type.name)!;
      case 'array':
        if (type.typed) return type.typed;
        return `${type.set ? 'Set' : 'Array'}<${this.of(type.element)}>`;
      case 'map':
        return type.record ? `Record<string, ${this.of(type.value)}>` : `Map<${this.of(type.key)}, ${this.of(type.value)}>`;
      case 'nullable':
        return `${this.of(type.inner)} | null`;
      case 'literal':
        return literal(type.value);
    }
  }

  /** A field's type with its presence: `T | null | undefined`. */
  field(field: FieldModel): string {
    return `${this.of(field.type)}${field.nullable ? ' | null' : ''}${field.optional ? ' | undefined' : ''}`;
  }

  /** `message: ChatMessage`, `limit?: number`: a parameter as declared. */
  parameter(param: FieldModel): string {
    return `${propertyKey(param.name)}${param.optional ? '?' : ''}: ${this.of(param.type)}${param.nullable ? ' | null' : ''}`;
  }

  /**
   * `[ChatMessage, number?]`: arguments of this shape as a tuple. Unlabelled, since actions
   * with other parameter names share the codec.
   */
  args(params: FieldModel[]): string {
    const element = (p: FieldModel) => {
      const type = `${this.of(p.type)}${p.nullable ? ' | null' : ''}`;
      return p.optional ? `${type.includes(' ') ? `(${type})` : type}?` : type;
    };
    return `[${params.map(element).join(', ')}]`;
  }

  /** The TS type of an action's result (of one item for a stream). */
  result(response: MessageModel): string {
    return response.fields[0] ? this.field(response.fields[0]) : 'undefined';
  }

  /** A tuple message's elements as a tuple type: `[string, number | null]`. */
  tuple(m: MessageModel): string {
    return `[${m.fields.map((f) => `${this.of(f.type)}${f.nullable ? ' | null' : ''}`).join(', ')}]`;
  }

  /** A TS enum member (`Color.Red`) or the literal of a literal-union member. */
  enumValue(e: EnumModel, value: EnumModel['values'][number]): string {
    return e.origin.kind === 'enum' ? memberAccess(this.names.get(e.name)!, value.member!) : literal(value.value);
  }

  /** Declarations of anonymous messages, literal enums and unnamed unions. */
  *declarations(): Iterable<string> {
    const { model } = this;
    for (const e of model.enums) {
      if (e.origin.kind === 'literals') yield `export type ${this.names.get(e.name)} = ${e.values.map((v) => literal(v.value)).join(' | ')};`;
    }
    for (const m of model.messages) {
      if (m.origin.kind === 'tuple' && !m.origin.tsName) yield `export type ${this.names.get(m.name)} = ${this.tuple(m)};`;
      if (m.origin.kind !== 'anonymous') continue;
      const fields = m.fields.map((f) => `  ${this.parameter(f)};`);
      yield `export interface ${this.names.get(m.name)} {\n${fields.join('\n')}\n}`;
    }
    for (const u of model.unions) {
      if (!u.tsName) yield `export type ${this.names.get(u.name)} = ${u.variants.map((v) => this.of(v.type)).join(' | ')};`;
    }
  }
}

/** Order in which variants of a primitive union are tested: specific kinds before plain objects. */
export function matchOrder(variant: UnionVariant): number {
  const m = variant.match;
  return m.kind === 'typeof' ? 0 : m.kind === 'instanceof' ? 1 : m.kind === 'array' ? 2 : 3;
}

/** An expression that is true when `v` is a value of the variant. */
export function matchTest(variant: UnionVariant, v: string): string {
  const m = variant.match;
  switch (m.kind) {
    case 'typeof':
      return `typeof ${v} === ${literal(m.type)}`;
    case 'instanceof':
      return `${v} instanceof ${m.ctor}`;
    case 'array':
      return `Array.isArray(${v})`;
    case 'object':
      return `typeof ${v} === 'object' && ${v} !== null`;
    case 'discriminant':
      return `${memberAccess(v, m.property)} === ${literal(m.value)}`;
  }
}
