/**
 * Which rules `p2pgen check` applies: `--rules` on the command line, else `check.rules` in a
 * `p2pgen.config.json` (in the contracts folder or the project root), else the wire rules.
 * A selection lists categories ('wire', 'source', 'all') and rule names; `-name` drops one.
 */
import { configured } from '../config.js';
import { RULES, type RuleName } from './rules.js';

export class RuleSelectionError extends Error {}

export function selectRules(spec: string | string[] | undefined, contractsDir: string): { rules: Set<RuleName>; from: string } {
  let from = '--rules';
  let entries: string[];
  if (spec !== undefined) {
    entries = Array.isArray(spec) ? spec : spec.split(',');
  } else {
    const configured = readConfiguredRules(contractsDir);
    from = configured?.file ?? 'the default (wire)';
    entries = configured?.rules ?? ['wire'];
  }
  const rules = new Set<RuleName>();
  const names = Object.keys(RULES) as RuleName[];
  for (const raw of entries.map((e) => e.trim()).filter(Boolean)) {
    const drop = raw.startsWith('-');
    const entry = drop ? raw.slice(1) : raw;
    const matched = entry === 'all' ? names : entry === 'wire' || entry === 'source' ? names.filter((n) => RULES[n].category === entry) : names.includes(entry as RuleName) ? [entry as RuleName] : undefined;
    if (!matched) throw new RuleSelectionError(`unknown rule or category '${entry}' in ${from}; rules: ${names.join(', ')}`);
    for (const name of matched) drop ? rules.delete(name) : rules.add(name);
  }
  return { rules, from };
}

function readConfiguredRules(contractsDir: string): { rules: string[]; file: string } | undefined {
  const found = configured(contractsDir, (c) => c.check?.rules);
  if (!found) return undefined;
  if (!Array.isArray(found.value) || !found.value.every((r) => typeof r === 'string')) throw new RuleSelectionError(`${found.file}: check.rules must be a list of rule names and categories`);
  return { rules: found.value as string[], file: found.file };
}
