/**
 * Which rules `p2pgen check` applies: `--rules` on the command line, else `check.rules` in a
 * `p2pgen.config.json` (in the contracts folder or the project root), else the wire rules.
 * A selection lists categories ('wire', 'source', 'all') and rule names; `-name` drops one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { findProjectRoot } from '../generate.js';
import { RULES, type RuleName } from './rules.js';

export const CONFIG_FILE_NAME = 'p2pgen.config.json';

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
  for (const dir of [resolve(contractsDir), findProjectRoot(resolve(contractsDir))]) {
    const file = join(dir, CONFIG_FILE_NAME);
    if (!existsSync(file)) continue;
    let config: { check?: { rules?: unknown } };
    try {
      config = JSON.parse(readFileSync(file, 'utf8')) as typeof config;
    } catch (error) {
      throw new RuleSelectionError(`${file} is not JSON: ${(error as Error).message}`);
    }
    const rules = config.check?.rules;
    if (rules === undefined) continue;
    if (!Array.isArray(rules) || !rules.every((r) => typeof r === 'string')) throw new RuleSelectionError(`${file}: check.rules must be a list of rule names and categories`);
    return { rules: rules as string[], file };
  }
  return undefined;
}
