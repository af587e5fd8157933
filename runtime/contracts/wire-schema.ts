/**
 * Compact wire schemas, and whether bytes written under one can be read under another.
 *
 * A schema is a table of types (messages, enums, unions) and, per action, its kind and the
 * types of its request and response. Generated code embeds one table (a single JSON string,
 * parsed only when two peers disagree); `p2pgen check` builds the same from two contract
 * models. Both compare them with one engine (compatibility.ts).
 */

export interface Constraints {
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  positive?: boolean;
  email?: boolean;
}

/** One value's type: a scalar, a reference into the table, or a composite. */
export type WireExpr =
  | { s: string; c?: Constraints } // scalar: string, bool, double, float, int32, uint32, int64, bytes, date
  | { t: number } // message, enum or union in the table
  | { l: WireExpr; c?: Constraints; u?: 1 } // list (u: a Set, whose reader refuses an element twice)
  | { k: WireExpr; v: WireExpr } // map
  | { n: WireExpr } // nullable element
  | { lit: string | number | boolean }; // constant, not on the wire

/** Presence: 0 required (always written), 1 optional (absent = undefined), 2 nullable (absent = null), 3 both (oneof with a null marker). */
export type Presence = 0 | 1 | 2 | 3;

/** [number, name, type, presence, null marker number] */
export type WireField = [number, string, WireExpr, Presence, number];

export type WireType =
  | { m: WireField[]; name?: string } // message
  | { e: [number, string | number][]; name?: string } // enum: wire number -> identity (a TS enum's member name, a literal's value)
  | { u: [number, WireExpr][]; name?: string }; // union: oneof member number -> type

export interface WireAction {
  kind: 'unary' | 'stream';
  request: number;
  response: number;
}

export interface WireTable {
  types: WireType[];
  /** By `${controllerPath} ${actionName}`. */
  actions: Record<string, WireAction>;
}

/** One action with the part of a table it reaches (what a callee sends a caller that disagrees). */
export interface ActionSchema extends WireAction {
  types: WireType[];
}

/** The slice of `table` one action reaches, renumbered from 0 (compact, self-contained). */
export function actionSchema(table: WireTable, key: string): ActionSchema | undefined {
  const action = table.actions[key];
  if (!action) return undefined;
  const index = new Map<number, number>();
  const types: WireType[] = [];
  const visit = (t: number): number => {
    const known = index.get(t);
    if (known !== undefined) return known;
    const at = types.length;
    index.set(t, at);
    types.push(undefined as unknown as WireType);
    types[at] = remap(table.types[t]!, visit);
    return at;
  };
  const request = visit(action.request);
  const response = visit(action.response);
  return { kind: action.kind, request, response, types };
}

/** `type` with every table reference `t` replaced by `visit(t)` (renumbering a table). */
export function remap(type: WireType, visit: (t: number) => number): WireType {
  const expr = (e: WireExpr): WireExpr => {
    if ('t' in e) return { t: visit(e.t) };
    if ('l' in e) return { ...e, l: expr(e.l) };
    if ('k' in e) return { k: expr(e.k), v: expr(e.v) };
    if ('n' in e) return { n: expr(e.n) };
    return e;
  };
  if ('m' in type) return { ...type, m: type.m.map(([n, name, t, p, nn]) => [n, name, expr(t), p, nn] as WireField) };
  if ('u' in type) return { ...type, u: type.u.map(([n, t]) => [n, expr(t)] as [number, WireExpr]) };
  return type;
}
