/**
 * A nats-server process (JetStream on) for the cluster rows of the bench: 127.0.0.1 only, a
 * port the server picks and writes to its ports file, a temporary store removed on stop, and
 * stopped by the pid this module started.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function startNats() {
  const dir = mkdtempSync(join(tmpdir(), 'p2pgen-bench-nats-'));
  const config = join(dir, 'nats.conf');
  writeFileSync(config, `listen: 127.0.0.1:-1\nports_file_dir: "${dir}"\njetstream { store_dir: "${join(dir, 'js')}" }\n`);
  const child = spawn(process.env.P2PGEN_NATS_SERVER ?? 'nats-server', ['-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);
  const started = Date.now();
  while (Date.now() - started < 15_000) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (code ${child.exitCode}); is it installed? (npm test installs it)`);
    const file = readdirSync(dir).find((f) => f.endsWith('.ports'));
    const url = file ? JSON.parse(readFileSync(join(dir, file), 'utf8')).nats?.[0] : undefined;
    if (url) return { url, stop };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  stop();
  throw new Error('nats-server did not start within 15 s');
}
