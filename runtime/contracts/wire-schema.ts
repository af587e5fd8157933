/**
 * Compact wire schemas, and whether bytes written under one can be read under another.
 *
 * A schema is a table of types (messages, enums, unions) and, per action, its kind and the
 * types of its request and response. Generated code embeds one table (a single JSON string,
 * parsed only when two peers disagree); `p2pgen check` builds the same from two contract
 * models. Both use `compareAction` here, so CI and run time apply the same wire rules.
 *
 * Types are compared by structure (field numbers, wire types, presence, constraints), never
 * by name: a renamed entity with the same fields and numbers is the same type.
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
  | { l: WireExpr; c?: Constraints } // list
  | { k: WireExpr; v: WireExpr } // map
  | { n: WireExpr } // nullable element
  | { lit: string | number | boolean }; // constant, not on the wire

/** Presence: 0 required (always written), 1 optional (absent = undefined), 2 nullable (absent = null), 3 both (oneof with a null marker). */
export type Presence = 0 | 1 | 2 | 3;

/** [number, name, type, presence, null marker number] */
export type WireField = [number, string, WireExpr, Presence, number];

export type WireType =
  | { m: WireField[]; name?: string } // message
  | { e: [number, string | number][]; name?: string } // enum: wire number -> value
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

/** The names of the wire rules, stable across versions (README lists them with examples). */
export const WireRule = {
  controllerDeleted: 'controller-deleted',
  actionDeleted: 'action-deleted',
  streamKindChanged: 'stream-kind-changed',
  parameterAddedRequired: 'parameter-added-required',
  fieldAddedRequired: 'field-added-required',
  requiredFieldDeleted: 'required-field-deleted',
  fieldTypeChanged: 'field-type-changed',
  fieldDeletedNotReserved: 'field-deleted-not-reserved',
  fieldNumberReused: 'field-number-reused',
  enumValueDeleted: 'enum-value-deleted',
  constraintTightened: 'constraint-tightened',
  entityRenamedIncompatible: 'entity-renamed-incompatible',
} as const;
export type WireRule = (typeof WireRule)[keyof typeof WireRule];

export interface WireViolation {
  rule: WireRule;
  /** Where, e.g. `request.message(1).from(1)` or `response.value(1)[]`. */
  path: string;
  detail: string;
  /**
   * The writer allows values the reader refuses (an enum value, a looser constraint, an
   * omitted field): those values fail validation one by one, the others go through.
   */
  perValue?: true;
  /** The writer's number type is wider than the reader's: large values would be cut. */
  widened?: true;
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

interface Side {
  types: WireType[];
}

/**
 * Can a caller running `caller` and a callee running `callee` talk? Requests are written by
 * the caller and read by the callee; responses (and stream items) the other way round.
 */
export function compareAction(caller: ActionSchema, callee: ActionSchema): WireViolation[] {
  if (caller.kind !== callee.kind) {
    return [{ rule: WireRule.streamKindChanged, path: '', detail: `the caller expects a ${caller.kind} action, the callee serves a ${callee.kind} one` }];
  }
  return [
    ...compareTypes(caller, { t: caller.request }, callee, { t: callee.request }, 'request', true),
    ...compareTypes(callee, { t: callee.response }, caller, { t: caller.response }, 'response', false),
  ];
}

/**
 * Violations when bytes of `writerExpr` (in `writer`) are read as `readerExpr` (in `reader`).
 * `isRequest` names added required fields as parameters.
 */
export function compareTypes(writer: Side, writerExpr: WireExpr, reader: Side, readerExpr: WireExpr, path: string, isRequest: boolean): WireViolation[] {
  const out: WireViolation[] = [];
  // Pairs of (writer type, reader type) being compared: recursion assumes they match.
  const assumed = new Set<string>();
  const fail = (rule: WireRule, at: string, detail: string, flag?: 'perValue' | 'widened') =>
    out.push(flag ? { rule, path: at, detail, [flag]: true } : { rule, path: at, detail });

  const exprs = (w: WireExpr, r: WireExpr, at: string, topLevel: boolean): void => {
    if ('lit' in w || 'lit' in r) return; // constants are not on the wire
    if ('t' in w && 't' in r) return tables(w.t, r.t, at, topLevel);
    if ('s' in w && 's' in r) return scalars(w, r, at);
    if ('l' in w && 'l' in r) {
      exprs(w.l, r.l, `${at}[]`, false);
      tightened(w.c, r.c, at, 'items');
      return;
    }
    if ('k' in w && 'k' in r) {
      exprs(w.k, r.k, `${at}<key>`, false);
      exprs(w.v, r.v, `${at}<value>`, false);
      return;
    }
    // Nullable elements travel in wrapper messages: nullable and not are different bytes.
    if ('n' in w && 'n' in r) return exprs(w.n, r.n, at, false);
    fail(WireRule.fieldTypeChanged, at, `${describe(writer, w)} is read as ${describe(reader, r)}`);
  };

  const scalars = (w: { s: string; c?: Constraints }, r: { s: string; c?: Constraints }, at: string): void => {
    if (w.s !== r.s && !widens(w.s, r.s)) {
      fail(WireRule.fieldTypeChanged, at, `${w.s} is read as ${r.s}`, widens(r.s, w.s) ? 'widened' : undefined);
      return;
    }
    tightened(w.c, r.c, at, w.s === 'string' ? 'characters' : 'value');
  };

  const tightened = (w: Constraints | undefined, r: Constraints | undefined, at: string, what: string): void => {
    if (!r) return;
    const reasons = tighterConstraints(w ?? {}, r);
    if (reasons.length > 0) fail(WireRule.constraintTightened, at, `the reader refuses ${what} the writer allows: ${reasons.join(', ')}`, 'perValue');
  };

  const tables = (wi: number, ri: number, at: string, topLevel: boolean): void => {
    const pair = `${wi}:${ri}`;
    if (assumed.has(pair)) return;
    assumed.add(pair);
    const w = writer.types[wi]!;
    const r = reader.types[ri]!;
    const renamed = w.name !== undefined && r.name !== undefined && w.name !== r.name;
    const before = out.length;
    if ('m' in w && 'm' in r) messages(w.m, r.m, at, topLevel);
    else if ('e' in w && 'e' in r) enums(w.e, r.e, at);
    else if ('u' in w && 'u' in r) unions(w.u, r.u, at);
    else fail(WireRule.fieldTypeChanged, at, `${kindOf(w)} ${w.name ?? ''} is read as ${kindOf(r)} ${r.name ?? ''}`.replace(/\s+/g, ' ').trim());
    if (renamed && out.length > before) {
      // One finding for a renamed type whose structure changed, not one per field.
      const first = out[before]!;
      out.length = before;
      fail(WireRule.entityRenamedIncompatible, at, `${w.name} was renamed ${r.name} and its structure changed: ${first.path ? `${first.path}: ` : ''}${first.detail}`);
    }
  };

  const messages = (w: WireField[], r: WireField[], at: string, topLevel: boolean): void => {
    const readerFields = new Map(r.map((f) => [f[0], f]));
    const writerFields = new Map(w.map((f) => [f[0], f]));
    for (const wf of w) {
      const rf = readerFields.get(wf[0]);
      const fieldAt = `${at}.${wf[1]}(${wf[0]})`;
      if (!rf) {
        // The reader skips a field it does not know.
        continue;
      }
      if (isConstant(wf[2]) || isConstant(rf[2])) continue;
      presence(wf, rf, `${at}.${rf[1]}(${rf[0]})`);
      exprs(wf[2], rf[2], `${at}.${rf[1]}(${rf[0]})`, false);
    }
    for (const rf of r) {
      if (writerFields.has(rf[0]) || isConstant(rf[2]) || rf[3] !== 0 || isCollection(rf[2])) continue;
      const rule = isRequest && topLevel ? WireRule.parameterAddedRequired : WireRule.fieldAddedRequired;
      fail(rule, `${at}.${rf[1]}(${rf[0]})`, `the reader requires ${rf[1]}, which the writer does not send`);
    }
  };

  const presence = (wf: WireField, rf: WireField, at: string): void => {
    const [, , , wp, wNull] = wf;
    const [, , , rp, rNull] = rf;
    if (wp === rp && (wp !== 3 || wNull === rNull)) return;
    // Compatible when every state the writer can send reads back as the same state.
    const ok = wp === 0 || (wp === 1 && rp === 3) || (wp === 3 && rp === 3 && wNull === rNull);
    if (ok && !(wp === 0 && isCollection(wf[2]) && rp !== 0)) return;
    // Optional where the reader requires (same encoding): only an omitted value is refused.
    const sameEncoding = !isCollection(wf[2]) && ((wp === 1 && rp === 0) || (wp === 2 && rp === 0));
    fail(WireRule.fieldTypeChanged, at, `written as ${presenceName(wp)}, read as ${presenceName(rp)}`, sameEncoding ? 'perValue' : undefined);
  };

  const enums = (w: [number, string | number][], r: [number, string | number][], at: string): void => {
    const readerValues = new Map(r);
    for (const [number, value] of w) {
      if (!readerValues.has(number)) fail(WireRule.enumValueDeleted, at, `value ${JSON.stringify(value)} (${number}) is unknown to the reader`, 'perValue');
      else if (readerValues.get(number) !== value) fail(WireRule.fieldTypeChanged, at, `value ${number} is ${JSON.stringify(value)} for the writer, ${JSON.stringify(readerValues.get(number))} for the reader`);
    }
  };

  const unions = (w: [number, WireExpr][], r: [number, WireExpr][], at: string): void => {
    const readerMembers = new Map(r);
    for (const [number, type] of w) {
      const readerType = readerMembers.get(number);
      if (!readerType) fail(WireRule.fieldTypeChanged, at, `union member ${number} is unknown to the reader`);
      else exprs(type, readerType, `${at}|${number}`, false);
    }
  };

  exprs(writerExpr, readerExpr, path, true);
  return out;
}

/** Widenings protobuf keeps the value of: varints sign-extend into int64. */
function widens(from: string, to: string): boolean {
  return to === 'int64' && (from === 'int32' || from === 'uint32');
}

/** What a reader with constraints `r` refuses that a writer with constraints `w` allows. */
export function tighterConstraints(w: Constraints, r: Constraints): string[] {
  const reasons: string[] = [];
  if (r.minLength !== undefined && r.minLength > (w.minLength ?? 0)) reasons.push(`minLength ${w.minLength ?? 'none'} -> ${r.minLength}`);
  if (r.maxLength !== undefined && r.maxLength < (w.maxLength ?? Infinity)) reasons.push(`maxLength ${w.maxLength ?? 'none'} -> ${r.maxLength}`);
  if (r.minimum !== undefined && r.minimum > (w.minimum ?? -Infinity)) reasons.push(`minimum ${w.minimum ?? 'none'} -> ${r.minimum}`);
  if (r.maximum !== undefined && r.maximum < (w.maximum ?? Infinity)) reasons.push(`maximum ${w.maximum ?? 'none'} -> ${r.maximum}`);
  if (r.positive && !w.positive && !((w.minimum ?? 0) > 0)) reasons.push('positive added');
  if (r.email && !w.email) reasons.push('email added');
  if (r.pattern !== undefined && r.pattern !== w.pattern) reasons.push(`pattern ${w.pattern === undefined ? 'added' : 'changed'}: /${r.pattern}/`);
  return reasons;
}

function isConstant(e: WireExpr): boolean {
  return 'lit' in e;
}

function isCollection(e: WireExpr): boolean {
  return 'l' in e || 'k' in e;
}

function presenceName(p: Presence): string {
  return ['required', 'optional (absent: undefined)', 'nullable (absent: null)', 'optional and nullable'][p]!;
}

function kindOf(t: WireType): string {
  return 'm' in t ? 'message' : 'e' in t ? 'enum' : 'union';
}

function describe(side: Side, e: WireExpr): string {
  if ('s' in e) return e.s;
  if ('t' in e) {
    const t = side.types[e.t]!;
    return `${kindOf(t)}${t.name ? ` ${t.name}` : ''}`;
  }
  if ('l' in e) return 'a list';
  if ('k' in e) return 'a map';
  if ('n' in e) return 'a nullable value';
  return 'a constant';
}
