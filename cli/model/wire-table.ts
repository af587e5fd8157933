/**
 * The compact wire schema of a contract model (runtime/contracts/wire-schema.ts): what
 * generated code embeds for run-time negotiation (without names, equal types shared) and what
 * `p2pgen check` compares (with names, for its reports).
 */
import type { ContractModel, EnumModel, FieldModel, MessageModel, TypeRef, UnionModel } from './contract-model.js';
import { TYPED_ARRAYS } from './typed-arrays.js';
import { remap, type Presence, type WireExpr, type WireField, type WireTable, type WireType } from 'p2pgen/tooling';

export interface WireTableOptions {
  /** Keep type names (for `p2pgen check`'s rename findings); without them equal structures share one entry. Field names are always kept. */
  names: boolean;
}

export function presenceOf(field: Pick<FieldModel, 'optional' | 'nullable'>): Presence {
  return ((field.optional ? 1 : 0) + (field.nullable ? 2 : 0)) as Presence;
}

export function wireTable(model: ContractModel, options: WireTableOptions): WireTable {
  const messages = new Map(model.messages.map((m) => [m.name, m]));
  const unions = new Map(model.unions.map((u) => [u.name, u]));
  const enums = new Map(model.enums.map((e) => [e.name, e]));
  const types: WireType[] = [];
  const byName = new Map<string, number>();
  const byShape = new Map<string, number>();

  const ref = (kind: 'message' | 'union' | 'enum', name: string): number => {
    const key = `${kind}:${name}`;
    const known = byName.get(key);
    if (known !== undefined) return known;
    // Reserve the slot first: recursive types refer to themselves.
    const at = types.length;
    byName.set(key, at);
    types.push(undefined as unknown as WireType);
    const type =
      kind === 'message' ? message(messages.get(name)!) : kind === 'union' ? union(unions.get(name)!) : enumType(enums.get(name)!);
    if (options.names) type.name = name;
    types[at] = type;
    return at;
  };

  const expr = (t: TypeRef): WireExpr => {
    switch (t.kind) {
      case 'scalar':
        return t.constraints ? { s: t.scalar, c: t.constraints } : { s: t.scalar };
      case 'date':
        return { s: 'date' };
      case 'literal':
        return { lit: t.value };
      case 'nullable':
        return { n: expr(t.inner) };
      case 'array': {
        // A narrow typed array's elements carry its range: a reader with a narrower one refuses values.
        const range = t.typed && TYPED_ARRAYS[t.typed].range;
        const element = range ? { ...(expr(t.element) as { s: string }), c: range } : expr(t.element);
        const list: WireExpr = t.constraints ? { l: element, c: t.constraints } : { l: element };
        return t.set ? { ...list, u: 1 } : list;
      }
      case 'map':
        return { k: expr(t.key), v: expr(t.value) };
      default:
        return { t: ref(t.kind, t.name) };
    }
  };

  const message = (m: MessageModel): WireType => ({
    m: m.fields.map((f): WireField => [f.number, f.name, expr(f.type), presenceOf(f), f.nullNumber ?? 0]),
  });
  const union = (u: UnionModel): WireType => ({ u: u.variants.map((v) => [v.number, expr(v.type)] as [number, WireExpr]) });
  // A TS enum member is known by its name (its value is an artifact of its position), a literal by its value.
  const enumType = (e: EnumModel): WireType => ({ e: e.values.map((v) => [v.number, v.member ?? v.value] as [number, string | number]) });

  const actions: WireTable['actions'] = {};
  for (const controller of model.controllers) {
    for (const action of controller.actions) {
      actions[`${controller.path} ${action.name}`] = { kind: action.kind, request: ref('message', action.request), response: ref('message', action.response) };
    }
  }
  if (options.names) return { types, actions };
  return shareEqualTypes({ types, actions }, byShape);
}

/** Without type names many entries are equal (requests of the same shape): keep one of each. */
function shareEqualTypes(table: WireTable, byShape: Map<string, number>): WireTable {
  // Iterate to a fixed point: merging two types can make the types referring to them equal.
  let current = table;
  for (;;) {
    const firstOf = new Map<number, number>();
    current.types.forEach((type, i) => {
      const shape = JSON.stringify(type);
      const first = byShape.get(shape);
      if (first === undefined) byShape.set(shape, i);
      firstOf.set(i, first ?? i);
    });
    if ([...firstOf].every(([from, to]) => from === to)) return current;
    const kept = [...new Set(firstOf.values())].sort((a, b) => a - b);
    const position = new Map(kept.map((old, i) => [old, i]));
    const to = (i: number) => position.get(firstOf.get(i)!)!;
    const types = kept.map((old): WireType => remap(current.types[old]!, to));
    const actions = Object.fromEntries(Object.entries(current.actions).map(([k, a]) => [k, { ...a, request: to(a.request), response: to(a.response) }]));
    current = { types, actions };
    byShape.clear();
  }
}
