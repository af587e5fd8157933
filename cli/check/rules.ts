/**
 * Breaking changes between a baseline contract model and the current one. Wire rules say
 * whether peers on the two versions can still exchange bytes that decode and validate (in
 * both directions: old callers and new callees, new callers and old callees); source rules
 * say whether code written against the baseline still compiles. Types are compared by
 * structure through the same engine the runtime uses when two peers disagree.
 */
import { compareAction, WireRule, type ActionSchema, type Difference, type Outcome, type WireTable } from 'p2pgen/tooling';
import type { ActionModel, ContractModel, ControllerModel, FieldModel, MessageModel, SourceRef, TypeRef } from '../model/contract-model.js';
import { wireTable } from '../model/wire-table.js';
import { declarationText, fieldTypeText } from './type-text.js';
import { migrateLock, type AnyLockFile, type LockFile } from '../model/lock-file.js';

export const SourceRule = {
  entityRemoved: 'entity-removed',
  fieldRenamed: 'field-renamed',
  parameterReordered: 'parameter-reordered',
  typeChanged: 'ts-type-changed',
} as const;
export type SourceRule = (typeof SourceRule)[keyof typeof SourceRule];

export type RuleCategory = 'wire' | 'source';

/** Every rule with its category and a one-line description (docs/checks.md lists them). */
export const RULES: Record<WireRule | SourceRule, { category: RuleCategory; description: string }> = {
  'controller-deleted': { category: 'wire', description: 'a controller was deleted or its path changed' },
  'action-deleted': { category: 'wire', description: 'an action was deleted (or renamed)' },
  'stream-kind-changed': { category: 'wire', description: 'an action changed between returning a value and an Observable' },
  'parameter-added-required': { category: 'wire', description: 'a parameter was added that old callers do not send' },
  'field-added-required': { category: 'wire', description: 'a required field was added that old writers do not send' },
  'required-field-deleted': { category: 'wire', description: 'a field old readers require was deleted' },
  'field-type-changed': { category: 'wire', description: 'a parameter or field changed type or presence in a way the wire does not carry' },
  'field-deleted-not-reserved': { category: 'wire', description: "a field was deleted but its number is not reserved (the lock was edited or lost)" },
  'field-number-reused': { category: 'wire', description: 'a field number now means another, incompatible field' },
  'enum-value-deleted': { category: 'wire', description: 'an enum value or literal-union member was deleted' },
  'constraint-tightened': { category: 'wire', description: "a constraint was tightened: values the other side sends would be refused" },
  'entity-renamed-incompatible': { category: 'wire', description: 'an entity was renamed and its structure changed' },
  'entity-removed': { category: 'source', description: 'an exported entity class or type was removed or renamed (imports break)' },
  'field-renamed': { category: 'source', description: 'a field kept its number under a new name (wire-compatible; code using the old name breaks)' },
  'parameter-reordered': { category: 'source', description: 'parameters changed order (wire-compatible; positional call sites break)' },
  'ts-type-changed': { category: 'source', description: 'a TypeScript type changed in a wire-compatible way (e.g. int32 to bigint, an optional field became required)' },
};

export type RuleName = keyof typeof RULES;

/** Which peers a wire finding is about: old callers with new callees, or new callers with old callees. */
export type Calls = 'old-to-new' | 'new-to-old';

export interface Finding {
  rule: RuleName;
  category: RuleCategory;
  /** The element, e.g. `/chat sendMessage: request.message(1).from(1)` or `ChatMessage.from`. */
  element: string;
  message: string;
  /**
   * What changed, as a user names it (`Note.count`, `Notes.get(id)`, `Notes.get() result`,
   * `/notes`): findings with the same subject are one change (one GitHub annotation), however
   * many actions reach it and in whichever direction.
   */
  subject: string;
  /**
   * Where to point: the changed field's declaration in the current contracts; for something
   * deleted, what held it (the entity, the action), else the baseline's place.
   */
  source?: SourceRef;
  /**
   * Wire findings: what the run time does when such peers call (the engine's outcome), and for
   * which callers. Findings without one are about the lock or the TypeScript source.
   */
  runtime?: { outcome: Outcome; calls: Calls[] };
  /**
   * False for what only refuses values the old version never sent (an enum value, a looser
   * constraint): old peers refuse such new values one by one, existing traffic is unaffected.
   */
  breaking: boolean;
}

function finding(rule: RuleName, element: string, message: string, source?: SourceRef, subject = element): Finding {
  return { rule, category: RULES[rule].category, element, message, subject, ...(source ? { source } : {}), breaking: true };
}

/** A field as a user names it: `Note.count` (entity), `Notes.get(id)` (parameter), `Notes.get() result`. */
function fieldSubject(model: ContractModel, message: MessageModel, field: FieldModel): string {
  const origin = message.origin;
  if (origin.kind === 'request' || origin.kind === 'response') {
    const className = model.controllers.find((c) => c.path === origin.controller)?.className ?? origin.controller;
    return origin.kind === 'request' ? `${className}.${origin.action}(${field.name})` : `${className}.${origin.action}() result`;
  }
  if (origin.kind === 'tuple') return `${origin.tsName ?? message.name}[${field.name}]`;
  return `${origin.kind === 'anonymous' ? message.name : origin.tsName}.${field.name}`;
}

interface Located {
  subject: string;
  source?: SourceRef;
  /** False when the path leaves this model (its last field is not in it): `source` is then what holds it. */
  complete: boolean;
}

/**
 * The element a wire difference's path (`request.note(1).count(2)`, `response.value(1)[]<value>|2`)
 * ends at in `model`: the innermost field the path goes through, with that field's source.
 */
function locate(model: ContractModel, controllerPath: string, actionName: string, path: string): Located | undefined {
  const controller = model.controllers.find((c) => c.path === controllerPath);
  const action = controller?.actions.find((a) => a.name === actionName);
  if (!controller || !action) return undefined;
  const side = /^(request|response)/.exec(path)?.[1];
  let located: Located = { subject: `${controller.className}.${action.name}`, source: action.source, complete: true };
  if (!side) return located;
  const messages = new Map(model.messages.map((m) => [m.name, m]));
  const unions = new Map(model.unions.map((u) => [u.name, u]));
  let type: TypeRef | undefined = { kind: 'message', name: side === 'request' ? action.request : action.response };
  for (const token of path.slice(side.length).matchAll(/\.[^()]*?\((\d+)\)|\[\]|<key>|<value>|\|(\d+)/g)) {
    while (type?.kind === 'nullable') type = type.inner;
    if (token[1] !== undefined) {
      const message: MessageModel | undefined = type?.kind === 'message' ? messages.get(type.name) : undefined;
      const field: FieldModel | undefined = message?.fields.find((f) => f.number === Number(token[1]));
      if (!message || !field) return { ...located, source: message?.source ?? located.source, complete: false };
      located = { subject: fieldSubject(model, message, field), source: field.source ?? message.source ?? located.source, complete: true };
      type = field.type;
    } else if (token[0] === '[]') type = type?.kind === 'array' ? type.element : undefined;
    else if (token[0] === '<key>') type = type?.kind === 'map' ? type.key : undefined;
    else if (token[0] === '<value>') type = type?.kind === 'map' ? type.value : undefined;
    else type = type?.kind === 'union' ? unions.get(type.name)?.variants.find((v) => v.number === Number(token[2]))?.type : undefined;
  }
  return located;
}

/**
 * Every difference from `baseline` to `current` (both numbered and fingerprinted models);
 * those with `breaking` set fail `p2pgen check`.
 */
export function compareModels(baseline: ContractModel, current: ContractModel): Finding[] {
  const out: Finding[] = [];
  const oldTable = wireTable(baseline, { names: true });
  const newTable = wireTable(current, { names: true });
  const currentControllers = new Map(current.controllers.map((c) => [c.path, c]));

  for (const before of baseline.controllers) {
    const after = currentControllers.get(before.path);
    if (!after) {
      out.push(finding('controller-deleted', before.path, `controller ${before.className} at '${before.path}' is gone`, before.source));
      continue;
    }
    compareControllers(before, after, oldTable, newTable, baseline, current, out);
  }
  compareNumbering(baseline, current, out);
  compareEntities(baseline, current, out);
  return dedupe(out);
}

function compareControllers(
  before: ControllerModel,
  after: ControllerModel,
  oldTable: WireTable,
  newTable: WireTable,
  baseline: ContractModel,
  current: ContractModel,
  out: Finding[],
): void {
  const actions = new Map(after.actions.map((a) => [a.name, a]));
  for (const oldAction of before.actions) {
    const newAction = actions.get(oldAction.name);
    const element = `${before.path} ${oldAction.name}`;
    if (!newAction) {
      out.push(finding('action-deleted', element, `action ${before.className}.${oldAction.name} is gone`, after.source, `${before.className}.${oldAction.name}`));
      continue;
    }
    compareParameterOrder(baseline, current, oldAction.request, newAction.request, element, newAction.source, `${after.className}.${newAction.name}`, out);
    if (oldAction.fingerprint === newAction.fingerprint) continue;
    const oldSchema = slice(oldTable, element);
    const newSchema = slice(newTable, element);
    // Old callers with new callees, and new callers with old callees. Requests are written by
    // the caller, responses by the callee.
    const where = (d: Difference) => wireLocation(baseline, current, before.path, oldAction, d.path);
    for (const d of compareAction(oldSchema, newSchema)) out.push(wireFinding(d, element, where(d), 'old-to-new'));
    for (const d of compareAction(newSchema, oldSchema)) out.push(wireFinding(d, element, where(d), 'new-to-old'));
  }
}

function slice(table: WireTable, key: string): ActionSchema {
  const action = table.actions[key]!;
  return { ...action, types: table.types };
}

/** The subject and place of a wire difference: the field in the current contracts, else the baseline's name for it. */
function wireLocation(baseline: ContractModel, current: ContractModel, controllerPath: string, action: ActionModel, path: string): { subject: string; source: SourceRef } {
  const now = locate(current, controllerPath, action.name, path);
  if (now?.complete) return { subject: now.subject, source: now.source ?? action.source };
  const then = locate(baseline, controllerPath, action.name, path);
  return { subject: then?.subject ?? now?.subject ?? `${controllerPath} ${action.name}`, source: now?.source ?? action.source };
}

/**
 * A difference as a finding. Where the new version writes and the old reads, "the reader
 * requires a field the writer does not send" means the new version deleted a field the old
 * one requires, and refusing values only the new version sends is not breaking.
 */
function wireFinding(d: Difference, element: string, where: { subject: string; source: SourceRef }, calls: Calls): Finding {
  const newWritesOldReads = (calls === 'old-to-new') === d.path.startsWith('response');
  const readsAsDeletion = newWritesOldReads && (d.rule === WireRule.parameterAddedRequired || d.rule === WireRule.fieldAddedRequired);
  const rule: RuleName = readsAsDeletion ? 'required-field-deleted' : d.rule;
  const detail = readsAsDeletion ? d.detail.replace('the reader requires', 'the old version requires').replace('which the writer does not send', 'which the new version no longer has') : d.detail;
  const direction = newWritesOldReads ? 'written by the new version, read by the old' : 'written by the old version, read by the new';
  return {
    ...finding(rule, `${element}: ${d.path}`, `${detail} (${direction}; ${consequence(d.outcome, calls)})`, where.source, where.subject),
    runtime: { outcome: d.outcome, calls: [calls] },
    breaking: d.outcome === 'mismatch' || !newWritesOldReads,
  };
}

/** What peers see, in the words of the run time. */
function consequence(outcome: Outcome, calls: Calls): string {
  const who = calls === 'old-to-new' ? 'old callers of new callees' : 'new callers of old callees';
  return outcome === 'mismatch' ? `${who} get CONTRACT_MISMATCH` : `${who} get VALIDATION_FAILED for such values`;
}

/** Parameters keep their numbers when reordered (wire-compatible), but positional calls break. */
function compareParameterOrder(baseline: ContractModel, current: ContractModel, oldRequest: string, newRequest: string, element: string, source: SourceRef, subject: string, out: Finding[]): void {
  const before = baseline.messages.find((m) => m.name === oldRequest)!.fields.map((f) => f.name);
  const after = current.messages.find((m) => m.name === newRequest)!.fields.map((f) => f.name);
  const common = before.filter((n) => after.includes(n));
  const order = after.filter((n) => common.includes(n));
  if (common.join() !== order.join()) {
    out.push(finding('parameter-reordered', element, `parameters were (${before.join(', ')}) and are (${after.join(', ')})`, source, subject));
  }
}

/** Numbers across same-named messages: deletions without reservation, reuse, renames. */
function compareNumbering(baseline: ContractModel, current: ContractModel, out: Finding[]): void {
  const currentMessages = new Map(current.messages.map((m) => [m.name, m]));
  for (const before of baseline.messages) {
    const after = currentMessages.get(before.name);
    if (!after) continue;
    const byNumber = new Map(after.fields.filter((f) => f.type.kind !== 'literal').map((f) => [f.number, f]));
    for (const field of before.fields) {
      if (field.type.kind === 'literal') continue;
      const now = byNumber.get(field.number);
      const element = `${before.name}.${field.name}`;
      if (!now) {
        if (!after.reserved.includes(field.number) && !after.fields.some((f) => f.name === field.name)) {
          out.push(finding('field-deleted-not-reserved', element, `field ${field.number} was deleted and its number is not reserved: a later field could take it`, after.source, fieldSubject(baseline, before, field)));
        }
        continue;
      }
      if (now.name === field.name) {
        const subject = fieldSubject(current, after, now);
        if (tsShape(field) !== tsShape(now)) out.push(finding('ts-type-changed', subject, tsChange(baseline, field, current, now), now.source ?? after.source, subject));
        continue;
      }
      // Same number, another name: a rename if the type is unchanged, else a reuse.
      const sameType = JSON.stringify([field.type, field.optional, field.nullable]) === JSON.stringify([now.type, now.optional, now.nullable]);
      const subject = fieldSubject(current, after, now);
      if (sameType) out.push(finding('field-renamed', fieldSubject(baseline, before, field), `field ${field.number} was renamed ${now.name}`, now.source ?? after.source, subject));
      else out.push(finding('field-number-reused', element, `field number ${field.number} (${field.name}) now belongs to ${now.name}, of another type`, now.source ?? after.source, subject));
    }
    for (const field of after.fields) {
      if (before.reserved.includes(field.number)) {
        out.push(finding('field-number-reused', `${after.name}.${field.name}`, `field number ${field.number} was reserved and is used again by ${field.name}`, field.source ?? after.source, fieldSubject(current, after, field)));
      }
    }
  }
}

/**
 * A field's TypeScript change as a user would write it: `int32 became bigint`, or with the
 * declarations when its optionality changed (`note?: string became note: string`).
 */
function tsChange(baseline: ContractModel, before: FieldModel, current: ContractModel, after: FieldModel): string {
  if (before.optional !== after.optional) return `${declarationText(baseline, before)} became ${declarationText(current, after)}`;
  return `${fieldTypeText(baseline, before)} became ${fieldTypeText(current, after)}`;
}

/** How a field looks to TypeScript code (constraints aside: they are checked, not typed), to compare. */
function tsShape(field: { type: unknown; optional: boolean; nullable: boolean }): string {
  const type = JSON.stringify(field.type, (key, value) => (key === 'constraints' ? undefined : value));
  return `${type}${field.optional ? '?' : ''}${field.nullable ? '|null' : ''}`;
}

/** Exported entities code imports by name. */
function compareEntities(baseline: ContractModel, current: ContractModel, out: Finding[]): void {
  const exported = (m: ContractModel) =>
    new Map(
      m.messages
        .filter((x): x is MessageModel & { origin: { kind: 'class' | 'interface'; tsName: string; file: string } } => x.origin.kind === 'class' || x.origin.kind === 'interface')
        .map((x) => [x.origin.tsName, x]),
    );
  const now = exported(current);
  for (const [tsName, message] of exported(baseline)) {
    if (!now.has(tsName)) out.push(finding('entity-removed', tsName, `the ${message.origin.kind} ${tsName} is no longer exported from the contracts`, message.source));
  }
}

/** One finding per rule, element and message; a wire finding seen from both sides names both callers. */
function dedupe(findings: Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const f of findings) {
    const key = `${f.rule}|${f.element}|${f.message.replace(/ \(written by the (old|new) version, read by the (old|new)[^)]*\)$/, '')}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, f);
    else if (seen.runtime && f.runtime) {
      seen.runtime.calls = [...new Set([...seen.runtime.calls, ...f.runtime.calls])];
      seen.breaking ||= f.breaking;
      if (f.runtime.outcome === 'mismatch') seen.runtime.outcome = 'mismatch';
    }
  }
  return [...byKey.values()];
}

/**
 * Numbering findings when the baseline is only a lock (no types): reused and renumbered fields.
 * A version-1 baseline is read with the current model's enum values (see `migrateLock`).
 */
export function compareLocks(baselineLock: AnyLockFile, current: LockFile, model: Pick<ContractModel, 'enums'>): Finding[] {
  const baseline = migrateLock(baselineLock, model);
  const out: Finding[] = [];
  for (const [kind, tables] of [
    ['message', 'messages'],
    ['union', 'unions'],
    ['enum', 'enums'],
  ] as const) {
    for (const [name, before] of Object.entries(baseline[tables])) {
      const after = current[tables][name];
      if (!after) continue;
      const names = new Map(Object.entries(after.numbers).map(([k, n]) => [n, k]));
      for (const [key, number] of Object.entries(before.numbers)) {
        const element = `${name}.${key}`;
        if (after.numbers[key] !== undefined && after.numbers[key] !== number) {
          out.push(finding('field-number-reused', element, `${kind} ${name}: ${key} moved from number ${number} to ${after.numbers[key]}`));
        } else if (names.has(number) && names.get(number) !== key) {
          out.push(finding('field-number-reused', element, `${kind} ${name}: number ${number} (${key}) now belongs to ${names.get(number)}`));
        } else if (after.numbers[key] === undefined && !after.reserved.includes(number)) {
          out.push(finding('field-deleted-not-reserved', element, `${kind} ${name}: ${key} (${number}) was deleted and its number is not reserved`));
        }
      }
    }
  }
  return out;
}
