/**
 * The compatibility engine: what happens when bytes written under one wire schema are read
 * under another. `p2pgen check` (comparing two contract models) and the run-time negotiation
 * (a caller comparing its schema with the one a callee answered CONTRACT_MISMATCH with) both
 * call `compareAction`, so CI reports exactly what peers will do.
 *
 * Every difference gets one outcome:
 * - `mismatch`: some value could decode into another value (a narrower number, another type, a
 *   default standing in for an absent value), so the caller refuses the action with
 *   CONTRACT_MISMATCH and never sends it;
 * - `values`: the reader refuses some values the writer may send (an enum value or union
 *   member it lacks, a tighter constraint, a message it requires), each with
 *   VALIDATION_FAILED; every other value reads back as written.
 *
 * Types are compared by structure (field numbers, wire types, presence, constraints), never
 * by name: a renamed entity with the same fields and numbers is the same type.
 */
import type { ActionSchema, Constraints, Presence, WireExpr, WireField, WireType } from './wire-schema.js';

/** The names of the wire rules, stable across versions (docs/checks.md lists them with examples). */
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

export type Outcome = 'mismatch' | 'values';

export interface Difference {
  rule: WireRule;
  /** Where, e.g. `request.message(1).from(1)` or `response.value(1)[]`. */
  path: string;
  detail: string;
  outcome: Outcome;
}

/** What the run time does for a call between two versions: the worst outcome, or 'ok'. */
export function verdict(differences: readonly Difference[]): Outcome | 'ok' {
  if (differences.some((d) => d.outcome === 'mismatch')) return 'mismatch';
  return differences.length > 0 ? 'values' : 'ok';
}

interface Side {
  types: WireType[];
}

/**
 * Can a caller running `caller` and a callee running `callee` talk? Requests are written by
 * the caller and read by the callee; responses (and stream items) the other way round.
 */
export function compareAction(caller: ActionSchema, callee: ActionSchema): Difference[] {
  if (caller.kind !== callee.kind) {
    return [{ rule: WireRule.streamKindChanged, path: '', detail: `the caller expects a ${caller.kind} action, the callee serves a ${callee.kind} one`, outcome: 'mismatch' }];
  }
  return [
    ...compareTypes(caller, { t: caller.request }, callee, { t: callee.request }, 'request', true),
    ...compareTypes(callee, { t: callee.response }, caller, { t: caller.response }, 'response', false),
  ];
}

/**
 * Differences when bytes of `writerExpr` (in `writer`) are read as `readerExpr` (in `reader`).
 * `isRequest` names added required fields as parameters.
 */
export function compareTypes(writer: Side, writerExpr: WireExpr, reader: Side, readerExpr: WireExpr, path: string, isRequest: boolean): Difference[] {
  const out: Difference[] = [];
  // Pairs of (writer type, reader type) being compared: recursion assumes they match.
  const assumed = new Set<string>();
  const fail = (rule: WireRule, at: string, detail: string, outcome: Outcome = 'mismatch') => out.push({ rule, path: at, detail, outcome });

  const exprs = (w: WireExpr, r: WireExpr, at: string, topLevel: boolean): void => {
    if ('lit' in w || 'lit' in r) return; // constants are not on the wire
    if ('t' in w && 't' in r) return tables(w.t, r.t, at, topLevel);
    if ('s' in w && 's' in r) return scalars(w, r, at);
    if ('l' in w && 'l' in r) {
      exprs(w.l, r.l, `${at}[]`, false);
      tightened(w.c, r.c, at, 'items');
      if (r.u && !w.u) fail(WireRule.constraintTightened, at, 'the reader refuses a list with an element twice (a Set), which the writer may send', 'values');
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
      const cut = widens(r.s, w.s) ? ` (values beyond ${r.s} would be cut)` : '';
      fail(WireRule.fieldTypeChanged, at, `${w.s} is read as ${r.s}${cut}`);
      return;
    }
    tightened(w.c, r.c, at, w.s === 'string' ? 'characters' : 'value');
  };

  const tightened = (w: Constraints | undefined, r: Constraints | undefined, at: string, what: string): void => {
    if (!r) return;
    const reasons = tighterConstraints(w ?? {}, r);
    if (reasons.length > 0) fail(WireRule.constraintTightened, at, `the reader refuses ${what} the writer allows: ${reasons.join(', ')}`, 'values');
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
      const found = out.splice(before);
      const first = found[0]!;
      fail(WireRule.entityRenamedIncompatible, at, `${w.name} was renamed ${r.name} and its structure changed: ${first.path ? `${first.path}: ` : ''}${first.detail}`, worst(found));
    }
  };

  const messages = (w: WireField[], r: WireField[], at: string, topLevel: boolean): void => {
    const readerFields = new Map(r.map((f) => [f[0], f]));
    const writerFields = new Map(w.map((f) => [f[0], f]));
    for (const wf of w) {
      const rf = readerFields.get(wf[0]);
      // The reader skips a field it does not know.
      if (rf && !isConstant(wf[2]) && !isConstant(rf[2])) {
        const fieldAt = `${at}.${rf[1]}(${rf[0]})`;
        presence(wf, rf, fieldAt);
        exprs(wf[2], rf[2], fieldAt, false);
      }
    }
    // A null marker has a number of its own: neither side may read it as another field.
    for (const [a, b, role] of [[w, readerFields, 'writer'], [r, writerFields, 'reader']] as const) {
      for (const f of a) {
        const other = f[3] === 3 ? b.get(f[4]) : undefined;
        if (other) fail(WireRule.fieldNumberReused, `${at}.${other[1]}(${other[0]})`, `number ${f[4]} is the null marker of ${f[1]} for the ${role}`);
      }
    }
    for (const rf of r) {
      if (writerFields.has(rf[0]) || isConstant(rf[2]) || rf[3] !== 0 || isCollection(rf[2])) continue;
      const rule = isRequest && topLevel ? WireRule.parameterAddedRequired : WireRule.fieldAddedRequired;
      fail(rule, `${at}.${rf[1]}(${rf[0]})`, `the reader requires ${rf[1]}, which the writer does not send`);
    }
  };

  /**
   * Every state the writer can send (a value; absent for undefined or null; the null marker)
   * must read back as the same state. A required scalar reads an absent value as its default
   * ('' or 0), a wrong value; any other required type refuses it (per value).
   */
  const presence = (wf: WireField, rf: WireField, at: string): void => {
    const [, , type, wp, wNull] = wf;
    const [, , , rp, rNull] = rf;
    if (wp === rp && (wp !== 3 || wNull === rNull)) return;
    if (wp === 0 && !isCollection(type)) return; // always written
    if (wp === 1 && rp === 3) return; // absent is undefined for both
    const detail = `written as ${presenceName(wp)}, read as ${presenceName(rp)}`;
    if (rp === 0 && !isCollection(type)) {
      if (isScalar(type)) fail(WireRule.fieldTypeChanged, at, `${detail}: an absent value would be read as ${defaultOf(type)}`);
      else fail(WireRule.fieldTypeChanged, at, `${detail}: the reader refuses an absent value`, 'values');
      return;
    }
    fail(WireRule.fieldTypeChanged, at, detail);
  };

  const enums = (w: [number, string | number][], r: [number, string | number][], at: string): void => {
    const readerValues = new Map(r);
    for (const [number, value] of w) {
      if (!readerValues.has(number)) fail(WireRule.enumValueDeleted, at, `value ${JSON.stringify(value)} (${number}) is unknown to the reader`, 'values');
      else if (readerValues.get(number) !== value) fail(WireRule.fieldTypeChanged, at, `value ${number} is ${JSON.stringify(value)} for the writer, ${JSON.stringify(readerValues.get(number))} for the reader`);
    }
  };

  const unions = (w: [number, WireExpr][], r: [number, WireExpr][], at: string): void => {
    const readerMembers = new Map(r);
    for (const [number, type] of w) {
      const readerType = readerMembers.get(number);
      // A union without a member it knows is refused by the reader's decoder.
      if (!readerType) fail(WireRule.fieldTypeChanged, at, `union member ${number} is unknown to the reader`, 'values');
      else exprs(type, readerType, `${at}|${number}`, false);
    }
  };

  exprs(writerExpr, readerExpr, path, true);
  return out;
}

function worst(differences: readonly Difference[]): Outcome {
  return verdict(differences) === 'mismatch' ? 'mismatch' : 'values';
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

/** Scalars with implicit presence: absent reads as their default. */
function isScalar(e: WireExpr): e is { s: string } {
  return 's' in e && e.s !== 'date';
}

function defaultOf(e: { s: string }): string {
  return e.s === 'string' ? "''" : e.s === 'bool' ? 'false' : e.s === 'bytes' ? 'empty bytes' : e.s === 'int64' ? '0n' : '0';
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
