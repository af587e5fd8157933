/**
 * Drift, `p2pgen check`'s first question: generated files (and the lock) that differ from what
 * `p2pgen build` would write now. It runs the generator and reads the output folder, so it
 * belongs to the commands, not to the checker (check/ compares models only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { generate } from '../generate.js';
import type { ContractModel } from '../model/contract-model.js';
import { LOCK_FILE_NAME, readLock } from '../model/lock-file.js';
import { toPosix } from '../reader/load-project.js';
import { unifiedDiff } from '../check/unified-diff.js';
import type { BuildSettings } from '../config.js';

export interface DriftedFile {
  /** Relative to the working directory. */
  file: string;
  state: 'missing' | 'differs';
  diff?: string;
}

export interface DriftResult {
  model: ContractModel;
  drifted: DriftedFile[];
  /** Generated files were not compared because the output folder does not exist. */
  outputChecked: boolean;
}

/** `settings`: what `p2pgen build` was asked to generate with (buildSettings in config.ts). */
export async function checkDrift(contractsDir: string, outDir: string, settings: BuildSettings): Promise<DriftResult> {
  const result = await generate({ contractsDir, outDir, lock: readLock(contractsDir), ...settings });
  const outputChecked = existsSync(resolve(outDir));
  const drifted: DriftedFile[] = [];
  for (const file of result.files) {
    const isLock = file.path.endsWith(LOCK_FILE_NAME);
    if (!isLock && !outputChecked) continue;
    const name = toPosix(relative(process.cwd(), file.path));
    if (!existsSync(file.path)) {
      drifted.push({ file: name, state: 'missing' });
      continue;
    }
    const onDisk = readFileSync(file.path, 'utf8');
    if (onDisk !== file.content) drifted.push({ file: name, state: 'differs', diff: unifiedDiff(onDisk, file.content, `${name} (on disk)`, `${name} (p2pgen build)`) });
  }
  return { model: result.model, drifted, outputChecked };
}
