/**
 * `p2pgen check`: fails CI when generated code drifted from the contracts, or when the
 * contracts changed incompatibly with a baseline (a manifest, a lock, or a git ref).
 * Exit 0 when everything matches, 1 with a report otherwise, 2 on bad usage.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { ContractDiagnosticsError, formatDiagnostic } from '../diagnostics.js';
import { checkDrift, type DriftResult } from './drift.js';
import { BaselineError, loadBaseline } from './baseline.js';
import { compareLocks, compareModels, type Finding } from '../check/rules.js';
import { changeLine } from '../check/change-summary.js';
import { RuleSelectionError } from '../check/rule-selection.js';
import { buildSettings, checkRules, ConfigError } from '../config.js';
import type { Output } from './build.js';
import { applyLock, emptyLock, readLock } from '../model/lock-file.js';
import { UsageError } from './usage-error.js';
import { toPosix } from '../reader/load-project.js';

export type CheckFormat = 'text' | 'json' | 'github';

export interface CheckArgs {
  contractsDir: string;
  out: string;
  against?: string;
  format: CheckFormat;
  rules?: string;
  /** As for build: `--no-header-version` when the generated files were built with it. */
  headerVersion?: boolean;
}

export async function runCheck(args: CheckArgs, out: Output): Promise<number> {
  let drift: DriftResult;
  try {
    drift = await checkDrift(args.contractsDir, args.out, buildSettings(args.contractsDir, { headerVersion: args.headerVersion }));
  } catch (error) {
    if (error instanceof ContractDiagnosticsError) {
      for (const d of error.diagnostics) out.error(formatDiagnostic(d));
      return 1;
    }
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  let findings: Finding[] = [];
  let notes: Finding[] = [];
  let baselineLabel: string | undefined;
  try {
    const rules = checkRules(args.contractsDir, args.rules);
    if (args.against) {
      const baseline = loadBaseline(args.against, args.contractsDir);
      baselineLabel = baseline.label;
      const all =
        baseline.kind === 'model'
          ? compareModels(baseline.model, drift.model)
          : compareLocks(baseline.lock, applyLock(structuredClone(drift.model), readLock(args.contractsDir) ?? emptyLock()), drift.model);
      const selected = all.filter((f) => rules.has(f.rule));
      findings = selected.filter((f) => f.breaking);
      notes = selected.filter((f) => !f.breaking);
    }
  } catch (error) {
    if (error instanceof BaselineError || error instanceof RuleSelectionError || error instanceof ConfigError) throw new UsageError(error.message);
    // The baseline's contracts or lock cannot be read (a lock of a newer p2pgen, a broken file).
    if (error instanceof ContractDiagnosticsError) {
      for (const d of error.diagnostics) out.error(formatDiagnostic(d));
      out.error(`p2pgen check: the baseline ${args.against} cannot be read`);
      return 1;
    }
    throw error;
  }
  // A manifest committed in the contracts folder is the project's own baseline, moved on by hand: say how, when it is what failed.
  const ownBaseline = args.against !== undefined && resolve(args.against).startsWith(`${resolve(args.contractsDir)}${sep}`) && /\.json$/i.test(args.against) && !isLock(args.against);
  const baselineFile = ownBaseline ? args.against : undefined;
  report(args, drift, findings, notes, baselineLabel, baselineFile, out);
  return drift.drifted.length === 0 && findings.length === 0 ? 0 : 1;
}

/** Whether a baseline file is a lock (numbers only) rather than a manifest. */
function isLock(file: string): boolean {
  try {
    return (JSON.parse(readFileSync(resolve(file), 'utf8')) as { lockVersion?: unknown }).lockVersion !== undefined;
  } catch {
    return false;
  }
}

function location(f: Finding, contractsDir: string): { file?: string; line?: number } {
  if (!f.source) return {};
  return { file: toPosix(relative(process.cwd(), join(resolve(contractsDir), f.source.file))), line: f.source.line };
}

function report(args: CheckArgs, drift: DriftResult, findings: Finding[], notes: Finding[], baseline: string | undefined, baselineFile: string | undefined, out: Output): void {
  if (args.format === 'json') {
    out.log(
      JSON.stringify(
        {
          ok: drift.drifted.length === 0 && findings.length === 0,
          drift: drift.drifted,
          outputChecked: drift.outputChecked,
          against: baseline ?? null,
          breaking: findings.map((f) => ({ ...f, ...location(f, args.contractsDir) })),
          // Compatible differences the run time still acts on (old peers refuse new values one by one).
          notes: notes.map((f) => ({ ...f, ...location(f, args.contractsDir) })),
        },
        null,
        2,
      ),
    );
    return;
  }
  const changes = groupChanges(findings);
  if (args.format === 'github') {
    for (const d of drift.drifted) out.log(`::error file=${d.file},title=generated code drifted::${d.file} ${d.state === 'missing' ? 'is missing' : 'differs from what p2pgen build writes'}; run p2pgen build`);
    // One annotation per change, on the changed field's line, listing every finding it causes.
    for (const change of changes) {
      const { file, line } = location(change[0]!, args.contractsDir);
      const where = file ? `file=${file}${line ? `,line=${line}` : ''},` : '';
      const rules = [...new Set(change.map((f) => f.rule))].join(', ');
      const text = change.length === 1 ? `${change[0]!.element}: ${change[0]!.message}` : [`${change[0]!.subject} (${change.length} findings):`, ...change.map((f) => `${f.rule}: ${f.element}: ${f.message}`)].join('\n');
      out.log(`::error ${where}title=${escapeProperty(rules)}::${escape(text)}`);
    }
    if (drift.drifted.length === 0 && findings.length === 0) out.log(`p2pgen check: no drift${baseline ? `, compatible with ${baseline}` : ''}`);
    return;
  }
  if (!drift.outputChecked) out.log(`p2pgen check: ${args.out} does not exist; only the lock was checked for drift`);
  for (const d of drift.drifted) {
    out.log(`drift: ${d.file} ${d.state === 'missing' ? 'is missing' : 'differs from what p2pgen build writes'} (run p2pgen build)`);
    if (d.diff) out.log(d.diff.replace(/^/gm, '  '));
  }
  // One line per change, however many findings it has (--format json lists each).
  for (const change of changes) {
    const { file, line } = location(change[0]!, args.contractsDir);
    out.log(`${file ? `${file}${line ? `:${line}` : ''} - ` : ''}${changeLine(change)}`);
  }
  const summary = [
    drift.drifted.length === 0 ? 'no drift' : `${drift.drifted.length} drifted file${drift.drifted.length === 1 ? '' : 's'}`,
    baseline
      ? changes.length === 0
        ? `compatible with ${baseline}`
        : `${changes.length} breaking change${changes.length === 1 ? '' : 's'} against ${baseline}${findings.length === changes.length ? '' : ` (${findings.length} findings)`}`
      : undefined,
  ].filter(Boolean);
  out.log(`p2pgen check: ${summary.join(', ')}`);
  if (changes.length > 0 && baselineFile) {
    out.log(
      `p2pgen check: if no peer runs the contracts of ${baselineFile} any more, make the current ones the baseline: ` +
        `p2pgen build, then copy ${toPosix(join(args.out, 'manifest.json'))} over ${baselineFile} (npm run baseline in a project p2pgen init made)`,
    );
  }
}

/** Findings grouped by what changed (their subject), in the order the changes were first found. */
function groupChanges(findings: Finding[]): Finding[][] {
  const bySubject = new Map<string, Finding[]>();
  for (const f of findings) {
    const group = bySubject.get(f.subject);
    if (group) group.push(f);
    else bySubject.set(f.subject, [f]);
  }
  return [...bySubject.values()];
}

/** GitHub annotation properties (title, file) also escape ':' and ','. */
function escapeProperty(text: string): string {
  return escape(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** GitHub annotation messages escape %, CR and LF. */
function escape(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
