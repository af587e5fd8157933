/**
 * What `p2pgen check --against` compares with: a manifest (this project's or another peer's),
 * a lock file (numbers only), or a git ref, whose contracts are read as they were then (git and
 * the reader run here; check/ then compares the models).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { buildModel, findProjectRoot, type Manifest } from '../generate.js';
import type { ContractModel } from '../model/contract-model.js';
import { LOCK_FILE_NAME, parseLock, type AnyLockFile } from '../model/lock-file.js';
import { toPosix } from '../reader/load-project.js';

export type Baseline =
  | { kind: 'model'; model: ContractModel; label: string }
  | { kind: 'lock'; lock: AnyLockFile; label: string };

/** Bad usage (a baseline that cannot be found or read): exit code 2. */
export class BaselineError extends Error {}

export function loadBaseline(against: string, contractsDir: string): Baseline {
  const asFile = resolve(against);
  if (existsSync(asFile)) return fromFile(asFile, against);
  if (/\.json$/i.test(against)) throw new BaselineError(`--against: no such file: ${against}`);
  return fromGitRef(against, resolve(contractsDir));
}

function fromFile(path: string, label: string): Baseline {
  const text = readFileSync(path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BaselineError(`--against: ${label} is not JSON: ${(error as Error).message}`);
  }
  const manifest = value as Partial<Manifest>;
  if (manifest && manifest.manifestVersion === 1 && manifest.model) return { kind: 'model', model: manifest.model, label };
  if (value && (value as { lockVersion?: unknown }).lockVersion !== undefined) return { kind: 'lock', lock: parseLock(text, label), label };
  throw new BaselineError(`--against: ${label} is neither a p2pgen manifest nor a lock file`);
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
}

/**
 * The contracts as they were at `ref`, and the files they import (followed through relative
 * imports, as the build follows them), written to a scratch folder inside the project's
 * node_modules at the same paths relative to the repository, so their imports ('p2pgen',
 * 'rxjs', '../shared/money.js') resolve as they do in the working tree; then read and numbered
 * with the lock of that commit.
 */
function fromGitRef(ref: string, contractsDir: string): Baseline {
  let top: string;
  try {
    top = git(contractsDir, ['rev-parse', '--show-toplevel']).trim();
  } catch {
    throw new BaselineError(`--against ${ref}: not a file, and ${contractsDir} is not in a git repository`);
  }
  try {
    git(top, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    throw new BaselineError(`--against ${ref}: no such file or git ref`);
  }
  const inRepo = toPosix(relative(top, contractsDir)) || '.';
  // -z: paths as they are (no quoting of unusual characters), NUL-separated.
  const tree = new Set(git(top, ['ls-tree', '-r', '-z', '--name-only', ref]).split('\0').filter(Boolean));
  const prefix = inRepo === '.' ? '' : `${inRepo}/`;
  const contracts = [...tree].filter((f) => f.startsWith(prefix) && (f.endsWith('.ts') || f.endsWith(`/${LOCK_FILE_NAME}`) || f === LOCK_FILE_NAME));
  if (!contracts.some((f) => f.endsWith('.ts'))) throw new BaselineError(`--against ${ref}: ${inRepo} has no contracts at that commit`);
  const files = readWithImports(top, ref, contracts, tree);

  const scratchParent = join(findProjectRoot(contractsDir), 'node_modules', '.cache', 'p2pgen');
  mkdirSync(scratchParent, { recursive: true });
  const scratch = mkdtempSync(join(scratchParent, 'baseline-'));
  try {
    for (const [file, text] of files) {
      const target = join(scratch, file);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
    }
    const dir = join(scratch, inRepo);
    const lockPath = join(dir, LOCK_FILE_NAME);
    const lock = existsSync(lockPath) ? parseLock(readFileSync(lockPath, 'utf8'), `${ref}:${prefix}${LOCK_FILE_NAME}`) : undefined;
    return { kind: 'model', model: buildModel(dir, lock, { sourceRoot: scratch }).model, label: ref };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** `from './x.js'`, `import './x.js'`, `import('./x.js')`: the relative specifiers of a module. */
const relativeImport = /(?:\bfrom|\bimport)\s*\(?\s*(['"])(\.{1,2}\/[^'"\n]+)\1/g;

/**
 * Reads `seeds` at `ref` and every file of the repository they import relatively, transitively
 * (repository-relative paths to text). Each round is one `git cat-file --batch` process.
 */
function readWithImports(top: string, ref: string, seeds: string[], tree: ReadonlySet<string>): Map<string, string> {
  const files = new Map<string, string>();
  let wanted = seeds;
  while (wanted.length > 0) {
    const texts = catFiles(top, ref, wanted);
    const next = new Set<string>();
    wanted.forEach((file, i) => {
      files.set(file, texts[i]!);
      if (!file.endsWith('.ts')) return;
      for (const match of texts[i]!.matchAll(relativeImport)) {
        const imported = resolveImport(posix.join(posix.dirname(file), match[2]!), tree);
        if (imported && !files.has(imported)) next.add(imported);
      }
    });
    wanted = [...next];
  }
  return files;
}

/** The file a relative specifier names, as TypeScript's bundler resolution finds it; undefined when outside the tree. */
function resolveImport(target: string, tree: ReadonlySet<string>): string | undefined {
  const stem = target.replace(/\.(m|c)?js$/, '');
  const candidates = [target, `${stem}.ts`, `${stem}.mts`, `${stem}.cts`, `${stem}.d.ts`, `${target}.ts`, `${target}/index.ts`, `${target}/index.d.ts`];
  return candidates.find((c) => tree.has(c));
}

/** The contents of `paths` at `ref`, in order, from one `git cat-file --batch` run. */
function catFiles(top: string, ref: string, paths: string[]): string[] {
  const out = execFileSync('git', ['cat-file', '--batch'], { cwd: top, input: paths.map((p) => `${ref}:${p}\n`).join(''), maxBuffer: 1 << 30 });
  const texts: string[] = [];
  let at = 0;
  for (const path of paths) {
    const headerEnd = out.indexOf(10, at);
    const header = out.toString('utf8', at, headerEnd);
    const size = Number(header.split(' ')[2]);
    if (!header.includes(' blob ') || !Number.isInteger(size)) throw new BaselineError(`--against ${ref}: cannot read ${path}: ${header}`);
    texts.push(out.toString('utf8', headerEnd + 1, headerEnd + 1 + size));
    at = headerEnd + 1 + size + 1;
  }
  return texts;
}
