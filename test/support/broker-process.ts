/**
 * `p2pgen broker` as a child process (the compiled CLI, as users run it): for tests of the
 * command itself and of brokers that die (kill -9 by pid). Processes still running after a
 * test are killed, by the pid this module started.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import { brokerNodeOptions } from '../../runtime/broker/node-flags.js';
import { eventually } from './harness.js';
import { repoRoot } from './paths.js';

export interface CliBroker {
  child: ChildProcessByStdio<null, Readable, Readable>;
  output: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

const started: CliBroker[] = [];

/** `nodeOptions`: what Node is started with ahead of the script (the broker's own, brokerNodeOptions, by default, as docs/operations.md runs it). */
export function startCli(args: string[], nodeOptions: readonly string[] = brokerNodeOptions): CliBroker {
  const child = spawn(process.execPath, [...nodeOptions, join(repoRoot, 'cli/bin/p2pgen.js'), 'broker', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const broker = { child, output, exited };
  started.push(broker);
  return broker;
}

/** The URL a CLI broker logged once it listens (its logs are JSON lines on stderr). */
export async function listeningUrl(broker: CliBroker): Promise<string> {
  const printed = () => /listening on (ws:\/\/127\.0\.0\.1:\d+[^\s"]*)/.exec(broker.output.stderr);
  await eventually(() => printed() !== null, `the broker to listen (stderr: ${broker.output.stderr})`, 20_000);
  return printed()![1]!;
}

afterEach(() => {
  for (const { child } of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
