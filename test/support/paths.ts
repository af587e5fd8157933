import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A fresh folder under `<repo>/.tmp/` (inside the repo so `p2pgen` and `rxjs` resolve from node_modules). */
export function tempDir(prefix: string): string {
  mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
  return mkdtempSync(join(repoRoot, '.tmp', `${prefix}-`));
}
