/**
 * What `p2pgen check --against` compares with: a manifest (this project's or another peer's),
 * a lock file (numbers only), or a git ref, whose contracts are read as they were then.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { buildModel, findProjectRoot, LOCK_FILE_NAME, type Manifest } from '../generate.js';
import type { ContractModel } from '../model/contract-model.js';
import { parseLock, type LockFile } from '../model/lock-file.js';
import { toPosix } from '../reader/load-project.js';

export type Baseline =
  | { kind: 'model'; model: ContractModel; label: string }
  | { kind: 'lock'; lock: LockFile; label: string };

/** Bad usage (a baseline that cannot be found or read): exit code 2. */
export class BaselineError extends Error {}

export function loadBaseline(against: string, contractsDir: string): Baseline {
  const asFile = resolve(against);
  if (existsSync(asFile)) return fromFile(asFile, against);
  if (/\.json$/i.test(against)) throw new BaselineError(`--against: no such file: ${against}`);
  return fromGitRef(against, resolve(contractsDir));
}

function fromFile(path: string, label: string): Baseline {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new BaselineError(`--against: ${label} is not JSON: ${(error as Error).message}`);
  }
  const manifest = value as Partial<Manifest>;
  if (manifest && manifest.manifestVersion === 1 && manifest.model) return { kind: 'model', model: manifest.model, label };
  if (value && (value as { lockVersion?: unknown }).lockVersion !== undefined) return { kind: 'lock', lock: parseLock(JSON.stringify(value), label), label };
  throw new BaselineError(`--against: ${label} is neither a p2pgen manifest nor a lock file`);
}

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
}

/**
 * The contracts as they were at `ref` (read with `git show`), copied to a scratch folder at the
 * same place relative to the project so their imports ('p2pgen', 'rxjs') resolve the same way,
 * then read and numbered with the lock of that commit.
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
  const files = git(top, ['ls-tree', '-r', '--name-only', ref, '--', inRepo]).split('\n').filter((f) => f.endsWith('.ts') || f.endsWith(LOCK_FILE_NAME));
  if (!files.some((f) => f.endsWith('.ts'))) throw new BaselineError(`--against ${ref}: ${inRepo} has no contracts at that commit`);

  const projectRoot = findProjectRoot(contractsDir);
  const scratchParent = join(projectRoot, 'node_modules', '.cache', 'p2pgen');
  mkdirSync(scratchParent, { recursive: true });
  const scratch = mkdtempSync(join(scratchParent, 'baseline-'));
  try {
    for (const file of files) {
      const target = join(scratch, relative(projectRoot, join(top, file)));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, git(top, ['show', `${ref}:${file}`]));
    }
    const dir = join(scratch, relative(projectRoot, contractsDir));
    const lockPath = join(dir, LOCK_FILE_NAME);
    const lock = existsSync(lockPath) ? parseLock(readFileSync(lockPath, 'utf8'), `${ref}:${inRepo}/${LOCK_FILE_NAME}`) : undefined;
    return { kind: 'model', model: buildModel(dir, lock).model, label: ref };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
