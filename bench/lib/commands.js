/**
 * The steps every benchmark takes before measuring: compile dist/ (the CLI runs it) and
 * generate code for a contracts folder with the CLI, as a user would.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Generous bound so a hung child cannot keep a benchmark running forever. */
const timeoutMs = 5 * 60_000;

/** Runs a command in the repository to completion; returns its stdout. Throws (with its output) if it fails. */
export function run(label, command, args) {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (result.error || result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    throw new Error(`${label} failed (${result.error ? result.error.message : `exit code ${result.status}, signal ${result.signal}`})`);
  }
  return result.stdout.trim();
}

/** The CLI runs dist/, so benchmarks compile it first: a stale dist/ would measure old code. */
export function compileDist() {
  console.log('Compiling cli/ and runtime/ (npm run build) ...');
  run('npm run build', process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent']);
}

/** `p2pgen build <contractsDir> --out <outDir>`; returns the CLI's summary line. */
export function generate(contractsDir, outDir) {
  return run(`p2pgen build ${contractsDir}`, process.execPath, ['cli/bin/p2pgen.js', 'build', contractsDir, '--out', outDir]);
}
