/**
 * keepYoungGenerationSmall (runtime/broker/heap-tuning.ts), which `p2pgen broker --small-young-generation` calls at
 * start: in a Node process whose young objects survive (as a broker's routes do), V8's young
 * generation grows unless it was called; after it, it stays at its starting size. Each case runs
 * in a process of its own (the flag is process-wide), through the compiled runtime as the CLI
 * loads it; should a Node upgrade make the flag a no-op, this says so.
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

const heapTuning = pathToFileURL(join(repoRoot, 'runtime/dist/broker/heap-tuning.js')).href;

/** The young generation's size (MiB) after allocating objects that live a while, with or without the tuning. */
function youngGenerationMib(tuned: boolean): number {
  const script = `
    const { getHeapSpaceStatistics } = await import('node:v8');
    if (${tuned}) (await import(${JSON.stringify(heapTuning)})).keepYoungGenerationSmall();
    const alive = [];
    for (let i = 0; i < 3_000_000; i++) {
      alive.push({ i });
      if (alive.length > 200_000) alive.splice(0, 100_000);
    }
    console.log(getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20);
  `;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
}

describe('keepYoungGenerationSmall', () => {
  it('keeps V8 from growing the young generation, which it otherwise grows', () => {
    const grown = youngGenerationMib(false);
    const kept = youngGenerationMib(true);
    expect(kept).toBeLessThanOrEqual(2);
    expect(grown).toBeGreaterThan(kept);
  });
});
