/**
 * The fresh-machine path: the README's first lines are the two commands a newcomer runs on a
 * fresh clone. This clones the repository (what is committed, nothing of this working tree)
 * into a folder outside it, so nothing resolves from the repository's node_modules, and runs
 * them exactly as the README writes them. The second one, `npm test`, is run with
 * P2PGEN_TESTS naming one small test file, so that it does not run this suite inside itself;
 * everything else it does (tools, build, generation in the global setup, vitest, typecheck)
 * runs in the clone. `.ci/run` runs the whole of it on a clean clone.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

/** The commands of the README's first ```sh block, comments dropped. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no ```sh block');
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}

const clone = mkdtempSync(join(tmpdir(), 'p2pgen-fresh-clone-'));
afterAll(() => rmSync(clone, { recursive: true, force: true }));

describe('a fresh clone, the README commands', () => {
  it('are two: install and run the demo, then npm test', () => {
    expect(readmeCommands()).toEqual(['npm ci && npm run demo', 'npm test']);
  });

  it('install, build the example contracts and run the demo to its end, then npm test passes, in a clone outside the repository', async () => {
    const cloned = spawnSync('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, clone], { encoding: 'utf8' });
    expect(cloned.stderr).toBe('');
    // No CI variable: the clone behaves as on a newcomer's machine. npm's cache is shared.
    const env = { ...process.env, CI: undefined, P2PGEN_TESTS: undefined, FORCE_COLOR: undefined, npm_config_loglevel: 'error' };
    const [install, test] = readmeCommands();
    const installed = await run(install!, clone, env, 10 * 60_000);
    expect(installed.code, installed.output.slice(-4000)).toBe(0);
    expect(installed.output).toContain('== shutdown');

    const tested = await run(test!, clone, { ...env, P2PGEN_TESTS: 'test/module-graph.test.ts' }, 10 * 60_000);
    expect(tested.code, tested.output.slice(-4000)).toBe(0);
    expect(tested.output).toMatch(/Test Files\s+\S*1 passed/);
    // The typecheck after vitest ran too (npm test's last step).
    expect(tested.output).toContain('tsc -p tsconfig.json');
  }, 20 * 60_000);
});
