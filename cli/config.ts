/**
 * `p2pgen.config.json`, in the contracts folder or the project root (a setting in the first wins):
 *
 *   { "build": { "headerVersion": false, "formatter": "prettier" }, "check": { "rules": ["wire", "field-renamed"] } }
 *
 * `build` settings shape what `p2pgen build` writes, so `p2pgen check` reads the same ones to
 * regenerate for its drift check; `check.rules` are the rules `p2pgen check` applies.
 * Command-line flags win over the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RuleSelectionError, selectRules } from './check/rule-selection.js';
import type { RuleName } from './check/rules.js';
import { findProjectRoot } from './generate.js';
import type { Formatter } from './emit/format.js';

export const CONFIG_FILE_NAME = 'p2pgen.config.json';

/** A config file that is not JSON, or a setting of the wrong type: bad usage (exit code 2). */
export class ConfigError extends Error {}

export interface ProjectConfig {
  build?: {
    /** Write the p2pgen version into generated files (default true); false keeps them unchanged across p2pgen upgrades. */
    headerVersion?: boolean;
    /** The contracts run in browsers too: an import of a Node module from them is a build error (default false). */
    browser?: boolean;
    /** What lays out generated code: 'p2pgen' (default: its own printer, prettier's layout) or 'prettier' (all of it through prettier: the same bytes, slower). */
    formatter?: unknown;
  };
  check?: { rules?: unknown };
}

/**
 * A setting from the configs that apply to a contracts folder: the contracts folder's file
 * first, then the project root's; `undefined` when neither sets it.
 */
export function configured<T>(contractsDir: string, pick: (config: ProjectConfig) => T | undefined): { value: T; file: string } | undefined {
  for (const dir of [resolve(contractsDir), findProjectRoot(resolve(contractsDir))]) {
    const file = join(dir, CONFIG_FILE_NAME);
    if (!existsSync(file)) continue;
    const value = pick(parseConfig(file));
    if (value !== undefined) return { value, file };
  }
  return undefined;
}

function parseConfig(file: string): ProjectConfig {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ConfigError(`${file} must hold a JSON object`);
  return config as ProjectConfig;
}

export interface BuildSettings {
  headerVersion: boolean;
  browser: boolean;
  formatter: Formatter;
}

/** What `build` (and `check`'s drift check) generate with: flags, else the config file, else the defaults. */
export function buildSettings(contractsDir: string, flags: Partial<BuildSettings> = {}): BuildSettings {
  const headerVersion = configured(contractsDir, (c) => c.build?.headerVersion);
  if (headerVersion && typeof headerVersion.value !== 'boolean') throw new ConfigError(`${headerVersion.file}: build.headerVersion must be true or false`);
  const browser = configured(contractsDir, (c) => c.build?.browser);
  if (browser && typeof browser.value !== 'boolean') throw new ConfigError(`${browser.file}: build.browser must be true or false`);
  const formatter = configured(contractsDir, (c) => c.build?.formatter);
  if (formatter && formatter.value !== 'p2pgen' && formatter.value !== 'prettier') throw new ConfigError(`${formatter.file}: build.formatter must be "p2pgen" or "prettier"`);
  return {
    headerVersion: flags.headerVersion ?? headerVersion?.value ?? true,
    browser: flags.browser ?? browser?.value ?? false,
    formatter: flags.formatter ?? (formatter?.value as Formatter | undefined) ?? 'p2pgen',
  };
}

/**
 * The rules `check` (with `--against`) applies: `--rules` on the command line, else `check.rules`
 * in p2pgen.config.json, else the wire rules.
 */
export function checkRules(contractsDir: string, flag?: string): Set<RuleName> {
  if (flag !== undefined) return selectRules(flag.split(','), '--rules');
  const found = configured(contractsDir, (c) => c.check?.rules);
  if (!found) return selectRules(['wire'], 'the default (wire)');
  if (!Array.isArray(found.value) || !found.value.every((r) => typeof r === 'string')) throw new RuleSelectionError(`${found.file}: check.rules must be a list of rule names and categories`);
  return selectRules(found.value, found.file);
}
