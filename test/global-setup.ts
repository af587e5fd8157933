/**
 * Before any test: generate the example contracts into `generated/` (what the demo and the
 * README use) and the test fixtures into `.tmp/gen/<name>/`, exactly as `p2pgen build` would.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFiles } from '../cli/commands/build.js';
import { readLock } from '../cli/model/lock-file.js';
import { generate } from '../cli/generate.js';
import { repoRoot } from './support/paths.js';

export const generatedFixtures = [
  'all-types',
  'behaviors',
  'context',
  'deepkit',
  'streams',
  'versions/v1',
  'versions/v2',
  'versions/v3',
  'evolution/v1',
  'evolution/v2',
  'relay/v1',
  'relay/v2',
  'name-clashes',
  'intercept',
  'groups',
] as const;

export default async function setup(): Promise<void> {
  const builds = [
    { contractsDir: join(repoRoot, 'contracts'), outDir: join(repoRoot, 'generated') },
    ...generatedFixtures.map((name) => ({
      contractsDir: join(repoRoot, 'test/fixtures', name),
      outDir: join(repoRoot, '.tmp/gen', name),
    })),
  ];
  rmSync(join(repoRoot, '.tmp/gen'), { recursive: true, force: true });
  for (const build of builds) {
    const result = await generate({ ...build, lock: readLock(build.contractsDir) });
    writeFiles(result.files);
  }
}
