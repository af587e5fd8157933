/**
 * Which rules a selection names: categories ('wire', 'source', 'all') and rule names, applied
 * in order; `-name` drops one. Where the selection comes from (`--rules`, `check.rules` in
 * p2pgen.config.json, the default 'wire') is config.ts's `checkRules`.
 */
import { RULES, type RuleName } from './rules.js';

/** A selection that names no rule or category, or is not a list of names: bad usage (exit code 2). */
export class RuleSelectionError extends Error {}

/** The rules `entries` select; `from` says where they were written (`--rules`, a config file), for messages. */
export function selectRules(entries: readonly string[], from: string): Set<RuleName> {
  const rules = new Set<RuleName>();
  const names = Object.keys(RULES) as RuleName[];
  for (const raw of entries.map((e) => e.trim()).filter(Boolean)) {
    const drop = raw.startsWith('-');
    const entry = drop ? raw.slice(1) : raw;
    const matched = entry === 'all' ? names : entry === 'wire' || entry === 'source' ? names.filter((n) => RULES[n].category === entry) : names.includes(entry as RuleName) ? [entry as RuleName] : undefined;
    if (!matched) throw new RuleSelectionError(`unknown rule or category '${entry}' in ${from}; rules: ${names.join(', ')}`);
    for (const name of matched) drop ? rules.delete(name) : rules.add(name);
  }
  return rules;
}
