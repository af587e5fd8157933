/**
 * pino and prom-client are optional: a broker without `logger` or `metrics` never loads them,
 * so a peer's install (and a plain broker) needs neither. Checked in a child process running
 * the compiled package, whose module resolution hides both and writes down every attempt to
 * load them; the same process asking for metrics shows the check can fail (the attempt is
 * written down, and createBroker names the npm install command).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from './support/paths.js';

const hidden = ['pino', 'prom-client'];

/** Runs `body` (an ES module's top level, with `createBroker` and `RpcWebSocketClient` imported) with pino and prom-client hidden. */
function runHidden(body: string): { stdout: string; attempts: string[] } {
  const dir = tempDir('optional-deps');
  const attemptsFile = join(dir, 'attempts.txt');
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
const hidden = ${JSON.stringify(hidden)};
export async function resolve(specifier, context, next) {
  if (hidden.some((name) => specifier === name || specifier.startsWith(name + '/'))) {
    appendFileSync(${JSON.stringify(attemptsFile)}, specifier + '\\n');
    const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}
`,
  );
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
  const dist = (path: string) => JSON.stringify(pathToFileURL(join(repoRoot, 'runtime/dist', path)).href);
  writeFileSync(
    join(dir, 'main.mjs'),
    `import { createBroker } from ${dist('broker/index.js')};\nimport { RpcWebSocketClient } from ${dist('index.node.js')};\n${body}\n`,
  );
  const stdout = execFileSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, join(dir, 'main.mjs')], { encoding: 'utf8', timeout: 30_000 });
  return { stdout, attempts: existsSync(attemptsFile) ? readFileSync(attemptsFile, 'utf8').split('\n').filter(Boolean) : [] };
}

describe('optional dependencies of the broker', () => {
  it('a broker without logger and metrics serves peers without loading pino or prom-client', () => {
    const { stdout, attempts } = runHidden(`
const broker = await createBroker({ port: 0, host: '127.0.0.1', log: () => undefined });
const client = new RpcWebSocketClient(broker.url, { reconnect: false });
await client.connect();
await client.registerAsPeer('lean');
const peers = await client.listPeers();
await client.disconnect();
await broker.drain({ deadlineMs: 1000 });
console.log(JSON.stringify({ peers: peers.map((p) => p.id), health: broker.health().status }));
`);
    expect(JSON.parse(stdout)).toEqual({ peers: ['lean'], health: 'closed' });
    expect(attempts).toEqual([]);
  });

  it('asking for metrics without prom-client installed fails with the npm install command (and the hook saw the attempt)', () => {
    const { stdout, attempts } = runHidden(`
try {
  await createBroker({ port: 0, host: '127.0.0.1', metrics: { port: 0 } });
  console.log('created');
} catch (error) {
  console.log(error.message);
}
`);
    expect(stdout.trim()).toBe('createBroker: the metrics option needs prom-client: npm install prom-client');
    expect(attempts).toEqual(['prom-client']);
  });
});
