/**
 * `p2pgen init` as a new user meets it, without the npm registry, as the README's "From a
 * clone" section writes it: `npm run pack` in the repository (exactly what would be published),
 * `p2pgen init --from packs` into a temporary folder outside the repository (so nothing
 * resolves from the repository's node_modules), install, build, and its broker and two peers
 * run. Then what a team meets next in that project, one rough edge each.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './support/harness.js';
import { repoRoot } from './support/paths.js';
import { freePort } from './support/free-port.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'p2pgen-init-'));
const app = join(work, 'my-app');

/** Stops a child started by `started` and what it started: `npm run` does not pass signals on to its script, so the whole process group it leads. */
function stop(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

afterAll(() => {
  for (const child of children) stop(child, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function attempt(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Ran {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error', ...env }, timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const result = attempt(command, args, cwd, env);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function started(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  // Its own process group, so that stop() reaches the script npm runs.
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  const output = { text: '' };
  child.stdout!.on('data', (d: Buffer) => (output.text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output.text += d.toString()));
  return { child, output };
}

/** A folder's files: their bytes, their count, and the bytes they take in 4 KiB blocks (what `du` shows on ext4), folders included. */
function sizeOf(dir: string): { bytes: number; files: number; blocks: number } {
  const total = { bytes: 0, files: 0, blocks: 4096 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = sizeOf(path);
      total.bytes += inner.bytes;
      total.files += inner.files;
      total.blocks += inner.blocks;
    } else if (entry.isFile()) {
      const size = statSync(path).size;
      total.bytes += size;
      total.files++;
      total.blocks += Math.ceil(size / 4096) * 4096;
    }
  }
  return total;
}

/** The commands of the README's ```sh block under `heading`, comments dropped. */
function readmeBlock(heading: string): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README.md has no heading '${heading}'`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README.md has no sh block under '${heading}'`);
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

describe('p2pgen init from the packed tarballs, as the README writes it', () => {
  it('the README says: pack in the clone, init --from the tarballs beside it, install, build, run', () => {
    expect(readmeBlock('### From a clone, without the npm registry')).toEqual([
      'npm run pack',
      'node cli/bin/p2pgen.js init ../my-app --from packs',
      'cd ../my-app && npm install && npm run build && npm run broker',
    ]);
  });

  it('scaffolds a project that installs from the tarballs (no registry for p2pgen), builds, and runs a broker and two peers', async () => {
    // The README's commands, the project in a temporary folder instead of ../my-app.
    run(npm, ['run', 'pack'], repoRoot);
    const init = run(process.execPath, ['cli/bin/p2pgen.js', 'init', app, '--from', 'packs'], repoRoot);
    expect(init).toContain('p2pgen: created my-app in');
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    // file: dependencies on the tarballs (relative to the project, or absolute when the two share no folder).
    const tarball = (spec: string | undefined) => (spec?.startsWith('file:') ? resolve(app, spec.slice('file:'.length)) : spec);
    expect(tarball(manifest.dependencies.p2pgen)).toBe(join(repoRoot, 'packs/p2pgen-0.1.0.tgz'));
    expect(tarball(manifest.devDependencies['@p2pgen/cli'])).toBe(join(repoRoot, 'packs/p2pgen-cli-0.1.0.tgz'));
    run(npm, ['install', '--no-audit', '--no-fund'], app);
    // Both packages came from the tarballs, the CLI's own dependency on p2pgen too.
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    const p2pgenEntries = Object.entries(lock.packages).filter(([path]) => /(^|\/)node_modules\/(p2pgen|@p2pgen\/cli)$/.test(path));
    expect(p2pgenEntries.length).toBeGreaterThanOrEqual(2);
    for (const [path, entry] of p2pgenEntries) expect(entry.resolved, path).toMatch(/^file:.*\.tgz$/);
    expect(run(npm, ['run', 'build'], app)).toContain('p2pgen: 1 controller, 2 actions');

    const port = await freePort();
    const env = { PORT: String(port), BROKER: `ws://127.0.0.1:${port}` };
    const broker = started(npm, ['run', 'broker'], app, env);
    await eventually(() => broker.output.text.includes('broker listening'), `the broker to listen (${broker.output.text})`, 20_000);
    const peerA = started(npm, ['run', 'peer:a'], app, env);
    await eventually(() => peerA.output.text.includes('serving /greeter'), `peer-a to serve (${peerA.output.text})`, 20_000);
    const peerB = run(npm, ['run', 'peer:b'], app, env);
    expect(peerB).toContain('peer-a says: Hello, peer-b!');
    expect(peerB).toContain('tick 3');
    for (const { child } of [peerA, broker]) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      stop(child, 'SIGTERM');
      await exited;
    }
  }, 600_000);

  it('npm run check fails on a breaking change against the committed baseline, with no git and no generated/ (as in CI); npm run baseline moves it on', () => {
    expect(existsSync(join(app, '.git'))).toBe(false);
    const ok = attempt(npm, ['run', 'check'], app);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('p2pgen check: no drift, compatible with contracts/p2pgen.baseline.json');
    // The baseline init wrote is the model of the contracts init wrote.
    const modelOf = (file: string) => (JSON.parse(readFileSync(join(app, file), 'utf8')) as { model: unknown }).model;
    expect(modelOf('contracts/p2pgen.baseline.json')).toEqual(modelOf('generated/manifest.json'));

    const contract = join(app, 'contracts/greeter.ts');
    const original = readFileSync(contract, 'utf8');
    writeFileSync(contract, original.replace('public text: string & MaxLength<200>', 'public text: int32').replace('return new Greeting(`Hello, ${name}!`);', 'return new Greeting(name.length);'));
    run(npm, ['run', 'build'], app);
    // As CI runs it: before any build, generated/ not there.
    rmSync(join(app, 'generated'), { recursive: true, force: true });
    const broken = attempt(npm, ['run', 'check'], app);
    expect(broken.status).toBe(1);
    // One change, one line: where it is, what changed, where it bites and what peers see.
    expect(broken.stdout).toMatch(
      /^contracts\/greeter\.ts:9 - breaking \(wire\) field-type-changed: Greeting\.text: int32 is read as string \(in \/greeter greet: callers of either version get CONTRACT_MISMATCH; 2 findings\)$/m,
    );
    // The drift of the lock or generated code, when there, is in hunks, not one from the first change to the last.
    expect(broken.stdout.split('\n').filter((l) => l.includes('breaking ('))).toHaveLength(1);
    expect(broken.stdout).toContain('1 breaking change against contracts/p2pgen.baseline.json');
    expect(broken.stdout).toContain('make the current ones the baseline');

    run(npm, ['run', 'baseline'], app);
    expect(attempt(npm, ['run', 'check'], app).status).toBe(0);
    writeFileSync(contract, readFileSync(contract, 'utf8').replace('export class GreeterController {', 'export class GreeterController {\n  @rpc.action()\n  ping(): void {}\n'));
    run(npm, ['run', 'build'], app);
    expect(attempt(npm, ['run', 'check'], app)).toMatchObject({ status: 0, stdout: expect.stringContaining('compatible with contracts/p2pgen.baseline.json') });
    writeFileSync(contract, original);
    run(npm, ['run', 'baseline'], app);
  }, 300_000);

  it('type-checks with skipLibCheck: false (p2pgen/broker refers to ws types: @p2pgen/cli brings @types/ws) and with noUnusedLocals and noUnusedParameters', () => {
    writeFileSync(
      join(app, 'tsconfig.strictest.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { skipLibCheck: false, noUnusedLocals: true, noUnusedParameters: true, noEmit: true } }),
    );
    // Without it tsc stops in node_modules/p2pgen/dist/broker/connection.d.ts: "Could not find a declaration file for module 'ws'".
    expect(existsSync(join(app, 'node_modules/@types/ws/package.json'))).toBe(true);
    const result = attempt(npm, ['exec', '--', 'tsc', '-p', 'tsconfig.strictest.json'], app);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it("a peer's production install has no generator in it, and weighs what the README says", () => {
    const production = join(work, 'production');
    mkdirSync(production);
    const { dependencies } = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    writeFileSync(join(production, 'package.json'), JSON.stringify({ private: true, type: 'module', dependencies }));
    run(npm, ['install', '--omit=dev', '--no-audit', '--no-fund'], production);
    const installed = readdirSync(join(production, 'node_modules'));
    for (const generatorOnly of ['typescript', 'ts-morph', 'prettier', '@p2pgen', '@types']) expect(installed).not.toContain(generatorOnly);
    const size = sizeOf(join(production, 'node_modules'));
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const stated = /production install \(`npm install --omit=dev`\) has no TypeScript compiler in it: ([\d.]+) MB in ([\d,]+) files, which take ([\d.]+) MB on disk/.exec(readme);
    expect(stated, 'the README states the size').not.toBeNull();
    const [megabytes, files, onDisk] = [Number(stated![1]), Number(stated![2]!.replace(/,/g, '')), Number(stated![3])];
    if (process.env.P2PGEN_REPORT) console.info(`production install of a peer: ${(size.bytes / 1e6).toFixed(2)} MB in ${size.files} files, ${(size.blocks / 1e6).toFixed(2)} MB in 4 KiB blocks (${installed.join(', ')})`);
    // As the README rounds them; a dependency's patch release may move them a little.
    expect(Math.abs(size.bytes / 1e6 - megabytes)).toBeLessThan(1);
    expect(Math.abs(size.files - files) / files).toBeLessThan(0.1);
    expect(Math.abs(size.blocks / 1e6 - onDisk)).toBeLessThan(1.5);
  }, 300_000);

  it("says what it made in plain words ('created my-app', not 'created my-app in my-app'), and, run from a clone without --from, how to use the clone's packages", () => {
    const named = run(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'init', 'fresh-app'], work);
    expect(named.split('\n').slice(0, 3)).toEqual(['p2pgen: created fresh-app. Next:', '  cd fresh-app', '  npm install']);
    expect(named).toContain('Note: this p2pgen runs from a clone; the project takes p2pgen and @p2pgen/cli ^0.1.0 from the npm registry. To take the clone\'s instead: `npm run pack` in the clone, then `p2pgen init <dir> --from <clone>/packs`.');
    mkdirSync(join(work, 'here-app'));
    const here = run(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'init', '--from', join(repoRoot, 'packs')], join(work, 'here-app'));
    expect(here.split('\n')[0]).toBe(`p2pgen: created here-app here (p2pgen and @p2pgen/cli from the tarballs in ${join(repoRoot, 'packs')}). Next:`);
    expect(here).not.toContain('Note:');
  });

  it('--from a folder without the tarballs is a usage error that says what to run', () => {
    const result = attempt(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'init', join(work, 'other'), '--from', work], work);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('p2pgen-0.1.0.tgz and p2pgen-cli-0.1.0.tgz are not there');
    expect(result.stderr).toContain('npm run pack');
  });
});
