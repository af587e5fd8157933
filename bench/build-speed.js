/**
 * Build speed: how long a cold `p2pgen build` of a large synthetic contracts folder takes,
 * compared with a plain TypeScript type-check of the same files (the floor: p2pgen has to
 * type-check the contracts too). Goal: build / typecheck <= 1.2. Then the CPU time (all threads)
 * of a cold build of the four example contracts, what a user waits for on a small project.
 * Goal: < 1.0 s.
 *
 *   npm run bench:build
 *
 * Every measurement is a fresh `node` child process timed from here (wall time), so module
 * loading and JIT warm-up count, as they do for a user running the CLI. The machine may be
 * shared: runs alternate between the two commands and the medians are reported.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileDist, generate, repoRoot, run } from './lib/commands.js';
import { median } from './lib/stats.js';
import { writeSyntheticContracts } from './synthetic-contracts.js';

const tmp = join(repoRoot, '.tmp', 'bench-build');
const contractsDir = join(tmp, 'contracts');
const outDir = join(tmp, 'out');
const shape = { controllers: 200, actions: 10, entities: 100 };
const runs = 3;
const goal = 1.2;
const examplesGoalMs = 1000;
const examplesRuns = 7;

/** Runs `step` once; returns its wall time in ms and what it returned. */
function timed(step) {
  const started = performance.now();
  const stdout = step();
  return { ms: performance.now() - started, stdout };
}

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

compileDist();
if (!existsSync(join(repoRoot, 'cli/dist/main.js')) || !existsSync(join(repoRoot, 'runtime/dist/index.d.ts'))) {
  throw new Error('cli/dist or runtime/dist is incomplete after npm run build');
}

mkdirSync(tmp, { recursive: true });
writeSyntheticContracts(contractsDir, shape);
console.log(`Synthetic contracts: ${shape.controllers} controllers x ${shape.actions} actions, ${shape.entities} entities -> ${contractsDir}`);

function build() {
  // Cold build: no previous output and no lock, so every file is generated and written.
  rmSync(outDir, { recursive: true, force: true });
  rmSync(join(contractsDir, 'p2pgen.lock.json'), { force: true });
  const result = timed(() => generate(contractsDir, outDir));
  if (!/4 files written/.test(result.stdout)) throw new Error(`unexpected build output: ${result.stdout}`);
  return result;
}

function typecheck() {
  // Exits non-zero (and `run` throws) if the contracts have any diagnostic.
  return timed(() => run('typecheck', process.execPath, ['bench/typecheck-contracts.js', contractsDir]));
}

const times = { build: [], typecheck: [] };
for (let i = 1; i <= runs; i++) {
  const b = build();
  times.build.push(b.ms);
  const t = typecheck();
  times.typecheck.push(t.ms);
  console.log(`run ${i}/${runs}: build ${seconds(b.ms)}, typecheck ${seconds(t.ms)}`);
  if (i === 1) console.log(`  ${b.stdout}\n  ${t.stdout}`);
}

const buildMs = median(times.build);
const typecheckMs = median(times.typecheck);
const ratio = buildMs / typecheckMs;
const indexTs = statSync(join(outDir, 'index.ts'));
const row = (name, values, med) => `| ${name.padEnd(21)} | ${values.map(seconds).join(', ').padEnd(26)} | ${seconds(med).padStart(8)} |`;

console.log('');
console.log(`| ${'command'.padEnd(21)} | ${'runs'.padEnd(26)} | ${'median'.padStart(8)} |`);
console.log(`|${'-'.repeat(23)}|${'-'.repeat(28)}|${'-'.repeat(10)}|`);
console.log(row('p2pgen build (cold)', times.build, buildMs));
console.log(row('tsc type-check', times.typecheck, typecheckMs));
console.log('');
console.log(`generated index.ts: ${(indexTs.size / 1024).toFixed(0)} KiB (${indexTs.size} bytes)`);
console.log(`ratio build / typecheck: ${ratio.toFixed(2)} (goal <= ${goal}: ${ratio <= goal ? 'met' : 'NOT met'})`);

// ---- the example contracts: a cold build's CPU time ----------------------------------------

const examplesDir = join(tmp, 'examples');
const examplesOut = join(tmp, 'examples-out');
const reporter = pathToFileURL(join(repoRoot, 'bench/lib/report-cpu.js')).href;

/** CPU ms of one cold `p2pgen build` of the example contracts (no previous output, no lock). */
function exampleBuildCpu() {
  rmSync(examplesDir, { recursive: true, force: true });
  rmSync(examplesOut, { recursive: true, force: true });
  cpSync(join(repoRoot, 'contracts'), examplesDir, { recursive: true });
  rmSync(join(examplesDir, 'p2pgen.lock.json'), { force: true });
  const result = spawnSync(process.execPath, ['--import', reporter, 'cli/bin/p2pgen.js', 'build', examplesDir, '--out', examplesOut], { cwd: repoRoot, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`example build failed: ${result.stdout}${result.stderr}`);
  return Number(/cpu-ms (\d+)/.exec(result.stderr)[1]);
}

const cpu = [];
for (let i = 0; i < examplesRuns; i++) cpu.push(exampleBuildCpu());
const cpuMs = median(cpu);
console.log('');
console.log(`cold build of the example contracts (contracts/, 4 files), CPU of all threads: ${cpu.map((ms) => `${ms} ms`).join(', ')}`);
console.log(`median ${(cpuMs / 1000).toFixed(2)} s (goal < ${(examplesGoalMs / 1000).toFixed(1)} s: ${cpuMs < examplesGoalMs ? 'met' : 'NOT met'})`);
