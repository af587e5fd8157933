/**
 * `p2pgen init` as a new user meets it: the two packages packed with `npm pack` (exactly what
 * would be published), installed in a temporary folder with no link into the repository, a
 * project scaffolded, installed, built, and its broker and two peers run. Also what a peer's
 * production install (`npm install --omit=dev`) weighs: no TypeScript, no generator.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './support/harness.js';
import { repoRoot, tempDir } from './support/paths.js';
import { freePort } from './support/free-port.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const children: ChildProcess[] = [];

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
});

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Apparent size of a folder's files, bytes. */
function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += sizeOf(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
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

describe('p2pgen init, from the packed packages', () => {
  it('scaffolds a project that installs, builds, and runs a broker and two peers', async () => {
    const work = tempDir('init');
    const packs = join(work, 'packs');
    mkdirSync(packs);
    const packed = JSON.parse(run(npm, ['pack', '--workspace', 'runtime', '--workspace', 'cli', '--pack-destination', packs, '--json'], repoRoot)) as { filename: string }[];
    const [runtimeTarball, cliTarball] = ['p2pgen-0', 'p2pgen-cli-0'].map((prefix) => join(packs, packed.find((p) => p.filename.startsWith(prefix))!.filename));

    // The CLI, installed from its tarball (with the runtime it depends on), scaffolds the project.
    const tools = join(work, 'tools');
    mkdirSync(tools);
    writeFileSync(join(tools, 'package.json'), '{ "private": true }\n');
    run(npm, ['install', '--no-audit', '--no-fund', runtimeTarball!, cliTarball!], tools);
    const app = join(work, 'app');
    run(process.execPath, [join(tools, 'node_modules/@p2pgen/cli/bin/p2pgen.js'), 'init', app], work);

    // Not published: the project takes the packages from the tarballs instead of the registry.
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; overrides?: Record<string, string> };
    manifest.dependencies.p2pgen = `file:${runtimeTarball}`;
    manifest.devDependencies['@p2pgen/cli'] = `file:${cliTarball}`;
    manifest.overrides = { p2pgen: `file:${runtimeTarball}` };
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    run(npm, ['install', '--no-audit', '--no-fund'], app);
    run(npm, ['run', 'build'], app);

    const port = await freePort();
    const env = { PORT: String(port), BROKER: `ws://127.0.0.1:${port}` };
    const broker = started(npm, ['run', 'broker'], app, env);
    await eventually(() => broker.output.text.includes('broker listening'), `the broker to listen (${broker.output.text})`, 20_000);
    const peerA = started(npm, ['run', 'peer:a'], app, env);
    await eventually(() => peerA.output.text.includes('serving /greeter'), `peer-a to serve (${peerA.output.text})`, 20_000);
    const peerB = run(npm, ['run', 'peer:b'], app, env);
    expect(peerB).toContain('peer-a says: Hello, peer-b!');
    expect(peerB).toContain('tick 3');
    expect(run(npm, ['run', 'check'], app)).toContain('no drift');
    for (const { child } of [peerA, broker]) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      stop(child, 'SIGTERM');
      await exited;
    }

    // A peer in production: the runtime and what it needs, without the generator.
    const production = join(work, 'production');
    mkdirSync(production);
    writeFileSync(join(production, 'package.json'), JSON.stringify({ private: true, type: 'module', dependencies: manifest.dependencies, overrides: manifest.overrides }));
    run(npm, ['install', '--omit=dev', '--no-audit', '--no-fund'], production);
    const installed = readdirSync(join(production, 'node_modules'));
    for (const generatorOnly of ['typescript', 'ts-morph', 'prettier', '@p2pgen']) expect(installed).not.toContain(generatorOnly);
    const megabytes = sizeOf(join(production, 'node_modules')) / 1e6;
    if (process.env.P2PGEN_REPORT) console.info(`production install of a peer: ${megabytes.toFixed(1)} MB (${installed.join(', ')})`);
    expect(megabytes).toBeLessThan(10);
    rmSync(work, { recursive: true, force: true });
  }, 600_000);
});


