/**
 * One line of the text report for one change: the findings of one subject (`Note.count`),
 * however many actions reach it, directions it breaks and rules it trips. `--format json`
 * keeps every finding; a person reading a terminal needs the change, where it bites and what
 * peers would see.
 *
 *   breaking (wire, source) field-type-changed, ts-type-changed: Note.count: int32 became bigint
 *     (in /notes add, /notes list, /notes get: callers of either version get CONTRACT_MISMATCH; 4 findings)
 */
import type { Calls, Finding } from './rules.js';

export function changeLine(change: readonly Finding[]): string {
  const first = change[0]!;
  if (change.length === 1) return `breaking (${first.category}) ${first.rule}: ${first.element}: ${first.message}`;
  const categories = unique(change.map((f) => f.category)).join(', ');
  const rules = unique(change.map((f) => f.rule)).join(', ');
  // The change as the contract's author wrote it, when a source rule saw it; else the first wire difference.
  const described = change.find((f) => f.rule === 'ts-type-changed') ?? first;
  const wire = change.filter((f) => f.runtime);
  const parts: string[] = [];
  if (wire.length > 0) {
    const actions = unique(wire.map((f) => f.element.split(': ')[0]!));
    parts.push(`in ${actions.join(', ')}: ${consequences(wire)}`);
  }
  parts.push(`${change.length} findings`);
  return `breaking (${categories}) ${rules}: ${first.subject}: ${withoutDirection(described.message)} (${parts.join('; ')})`;
}

/** A wire finding's message without its "(written by …; … get …)" tail, which the line sums up. */
function withoutDirection(message: string): string {
  return message.replace(/ \(written by the (?:old|new) version, read by the (?:old|new);.*\)$/, '');
}

/** What callers of each version see: the worse outcome per direction. */
function consequences(wire: readonly Finding[]): string {
  const outcome = new Map<Calls, 'mismatch' | 'refused'>();
  for (const f of wire) {
    for (const calls of f.runtime!.calls) {
      if (f.runtime!.outcome === 'mismatch' || !outcome.has(calls)) outcome.set(calls, f.runtime!.outcome === 'mismatch' ? 'mismatch' : 'refused');
    }
  }
  const said = (o: 'mismatch' | 'refused') => (o === 'mismatch' ? 'CONTRACT_MISMATCH' : 'VALIDATION_FAILED for such values');
  const oldToNew = outcome.get('old-to-new');
  const newToOld = outcome.get('new-to-old');
  if (oldToNew && newToOld && oldToNew === newToOld) return `callers of either version get ${said(oldToNew)}`;
  return [oldToNew && `old callers of new callees get ${said(oldToNew)}`, newToOld && `new callers of old callees get ${said(newToOld)}`].filter(Boolean).join(', ');
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
