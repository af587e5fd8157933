/**
 * The fresh-machine path: the README's first lines are the two commands a newcomer runs on a
 * fresh clone. This takes the repository's source as a source archive holds it (what is
 * committed, with no `.git`: `test/support/source-copy.ts`) into a folder outside the
 * repository, so nothing resolves from the repository's node_modules, and runs them exactly as
 * the README writes them. The second one, `npm test`, is run with P2PGEN_TESTS naming one small
 * test file, so that it does not run this suite inside itself; everything else it does (tools,
 * build, generation in the global setup, vitest, typecheck) runs in the copy. `.ci/run` runs the
 * whole of it on a clean clone. Then the two packages are packed from that source with no build
 * output in it, as a fresh clone packs them: each builds itself and carries README, LICENSE and
 * `repository`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';
import { copySource } from './support/source-copy.js';

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

const parent = mkdtempSync(join(tmpdir(), 'p2pgen-fresh-clone-'));
const clone = join(parent, 'p2pgen');
afterAll(() => rmSync(parent, { recursive: true, force: true }));

describe('a fresh clone, the README commands', () => {
  it('are two: install and run the demo, then npm test', () => {
    expect(readmeCommands()).toEqual(['npm ci && npm run demo', 'npm test']);
  });

  it('install, build the example contracts and run the demo to its end, then npm test passes, in a source archive outside the repository (no .git)', async () => {
    copySource(clone);
    expect(existsSync(join(clone, '.git'))).toBe(false);
    expect(existsSync(join(clone, 'node_modules'))).toBe(false);
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

describe('the packages, packed from a fresh source', () => {
  it('build themselves when packed (no dist/ yet), and carry README, LICENSE and repository', () => {
    // After the test above the copy is installed; its build output goes, as in a clone that was never built.
    rmSync(join(clone, 'runtime/dist'), { recursive: true, force: true });
    rmSync(join(clone, 'cli/dist'), { recursive: true, force: true });
    const packed = spawnSync('npm', ['run', 'pack', '--silent', '--', '--json'], { cwd: clone, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } });
    expect(packed.status, packed.stderr).toBe(0);
    const tarballs = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { name: string; filename: string; files: { path: string }[] }[];
    const files = (name: string) => tarballs.find((t) => t.name === name)!.files.map((f) => f.path);
    for (const [name, expected] of [
      ['p2pgen', ['dist/index.js', 'dist/index.node.js', 'dist/index.d.ts', 'dist/broker/index.js', 'dist/broker/index.d.ts']],
      ['@p2pgen/cli', ['bin/p2pgen.js', 'dist/main.js', 'templates/package.json', 'templates/contracts/greeter.ts']],
    ] as const) {
      expect(files(name), name).toEqual(expect.arrayContaining([...expected, 'README.md', 'LICENSE', 'package.json']));
      const manifest = JSON.parse(readFileSync(join(clone, name === 'p2pgen' ? 'runtime' : 'cli', 'package.json'), 'utf8')) as { repository?: { url?: string } };
      expect(manifest.repository?.url, name).toMatch(/^git\+https:\/\//);
    }
    // Written where the README says, and the copy of the templates made for the package is gone again.
    for (const t of tarballs) expect(existsSync(join(clone, 'packs', t.filename))).toBe(true);
    expect(existsSync(join(clone, 'cli/templates'))).toBe(false);
  }, 5 * 60_000);
});
