/** `p2pgen build`: generate into the output folder, keep the lock, optionally watch. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { generate, type GeneratedFile } from '../generate.js';
import { readLock } from '../model/lock-file.js';
import { ContractDiagnosticsError, formatDiagnostic } from '../diagnostics.js';
import { buildSettings, ConfigError } from '../config.js';
import type { FormatCache } from '../emit/format.js';
import { ContractWatcher } from './contract-watcher.js';
import { compileTargetWarning } from './compile-target.js';

export interface BuildArgs {
  contractsDir: string;
  out: string;
  watch?: boolean;
  /** `--header-version` / `--no-header-version`; unset: p2pgen.config.json, else true. */
  headerVersion?: boolean;
}

export interface Output {
  log(text: string): void;
  error(text: string): void;
}

/** Writes files whose content changed; returns the paths written. */
export function writeFiles(files: GeneratedFile[]): string[] {
  const written: string[] = [];
  for (const file of files) {
    if (existsSync(file.path) && readFileSync(file.path, 'utf8') === file.content) continue;
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.content);
    written.push(file.path);
  }
  return written;
}

/** `1 controller`, `2 controllers`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Warnings about the project already printed (once per process: --watch builds again and again). */
const warned = new Set<string>();

/** One build; returns the exit code (0 ok, 1 contract errors, 2 a bad p2pgen.config.json). */
export async function buildOnce(args: BuildArgs, out: Output, formatCache?: FormatCache): Promise<number> {
  const started = performance.now();
  const warning = compileTargetWarning(args.contractsDir);
  if (warning && !warned.has(warning)) {
    warned.add(warning);
    out.error(`p2pgen: ${warning}`);
  }
  try {
    const settings = buildSettings(args.contractsDir, { headerVersion: args.headerVersion });
    const result = await generate({ contractsDir: args.contractsDir, outDir: args.out, lock: readLock(args.contractsDir), formatCache, ...settings });
    const written = writeFiles(result.files);
    const actions = result.model.controllers.reduce((n, c) => n + c.actions.length, 0);
    const ms = Math.round(performance.now() - started);
    out.log(
      `p2pgen: ${count(result.model.controllers.length, 'controller')}, ${count(actions, 'action')}, ${count(result.model.messages.length, 'message')} -> ${relative(process.cwd(), resolve(args.out)) || '.'} ` +
        `(${written.length === 0 ? 'unchanged' : `${count(written.length, 'file')} written`}, ${ms} ms)`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ContractDiagnosticsError) {
      for (const d of error.diagnostics) out.error(formatDiagnostic(d));
      out.error(`p2pgen: ${error.diagnostics.length} error${error.diagnostics.length === 1 ? '' : 's'}; nothing was written`);
      return 1;
    }
    if (error instanceof ConfigError) {
      out.error(`p2pgen: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

/**
 * Builds, then rebuilds whenever a contract changes, until the watcher returned is closed (or the
 * process stopped). Builds never overlap: a change during a build is built right after it.
 */
export async function buildAndWatch(args: BuildArgs, out: Output): Promise<ContractWatcher> {
  const formatCache: FormatCache = new Map();
  await buildOnce(args, out, formatCache);
  const contractsDir = resolve(args.contractsDir);
  let running: Promise<unknown> = Promise.resolve();
  const watcher = new ContractWatcher(
    contractsDir,
    () => {
      running = running.then(() => buildOnce(args, out, formatCache)).catch((error: unknown) => out.error(`p2pgen: build failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
    },
    { exclude: [resolve(args.out)] },
  );
  out.log(`p2pgen: watching ${relative(process.cwd(), contractsDir) || '.'} for changes`);
  return watcher;
}
