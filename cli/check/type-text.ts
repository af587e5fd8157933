/**
 * Contract types as a user writes them in a contract (`int32`, `bigint`, `ChatMessage[]`,
 * `Map<string, Date>`, `'open' | 'closed'`), for `p2pgen check`'s messages. Constraint brands
 * are left out: they are checked at run time, not part of what TypeScript code sees change.
 */
import type { ContractModel, FieldModel, ScalarKind, TypeRef } from '../model/contract-model.js';

/** The names the contracts import from 'p2pgen' (or TypeScript's own), by wire scalar. */
const scalarNames: Record<ScalarKind, string> = {
  string: 'string',
  bool: 'boolean',
  double: 'number',
  float: 'float32',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'bigint',
  bytes: 'Uint8Array',
  // Typed arrays' elements only (a typed array is written by its own name).
  sfixed32: 'int32',
  fixed32: 'uint32',
  sfixed64: 'bigint',
  fixed64: 'bigint',
  sint32: 'int32',
};

/** How deep anonymous object types are spelled out before they become `{ … }`. */
const maxDepth = 3;

export function typeText(model: Pick<ContractModel, 'messages' | 'unions' | 'enums'>, type: TypeRef, depth = 0): string {
  switch (type.kind) {
    case 'scalar':
      return scalarNames[type.scalar];
    case 'date':
      return 'Date';
    case 'literal':
      return literalText(type.value);
    case 'array': {
      if (type.typed) return type.typed;
      const element = typeText(model, type.element, depth);
      if (type.set) return `Set<${element}>`;
      return / [|&] /.test(element) ? `(${element})[]` : `${element}[]`;
    }
    case 'map':
      return type.record ? `Record<string, ${typeText(model, type.value, depth)}>` : `Map<${typeText(model, type.key, depth)}, ${typeText(model, type.value, depth)}>`;
    case 'nullable':
      return `${typeText(model, type.inner, depth)} | null`;
    case 'enum': {
      const e = model.enums.find((x) => x.name === type.name);
      if (!e) return type.name;
      return e.origin.kind === 'enum' ? e.origin.tsName : e.values.map((v) => literalText(v.value)).join(' | ');
    }
    case 'union': {
      const u = model.unions.find((x) => x.name === type.name);
      if (!u) return type.name;
      return u.tsName ?? u.variants.map((v) => typeText(model, v.type, depth)).join(' | ');
    }
    case 'message': {
      const m = model.messages.find((x) => x.name === type.name);
      if (!m) return type.name;
      if (m.origin.kind === 'class') return m.origin.typeArguments ? `${m.origin.tsName}<${m.origin.typeArguments.map((a) => typeText(model, a, depth)).join(', ')}>` : m.origin.tsName;
      if (m.origin.kind === 'interface') return m.origin.tsName;
      if (m.origin.kind === 'tuple') return m.origin.tsName ?? `[${m.fields.map((f) => fieldTypeText(model, f, depth + 1)).join(', ')}]`;
      if (depth >= maxDepth) return '{ … }';
      const fields = m.fields.map((f) => `${f.name}${f.optional ? '?' : ''}: ${fieldTypeText(model, f, depth + 1)}`);
      return fields.length === 0 ? '{}' : `{ ${fields.join('; ')} }`;
    }
  }
}

/** A field's type with `| null` when it may be null (optionality is the `?` of its declaration). */
export function fieldTypeText(model: Pick<ContractModel, 'messages' | 'unions' | 'enums'>, field: Pick<FieldModel, 'type' | 'nullable'>, depth = 0): string {
  return `${typeText(model, field.type, depth)}${field.nullable ? ' | null' : ''}`;
}

/** A field as declared: `count: int32`, `note?: string | null`. */
export function declarationText(model: Pick<ContractModel, 'messages' | 'unions' | 'enums'>, field: Pick<FieldModel, 'name' | 'type' | 'optional' | 'nullable'>): string {
  return `${field.name}${field.optional ? '?' : ''}: ${fieldTypeText(model, field)}`;
}

function literalText(value: string | number | boolean): string {
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : String(value);
}
