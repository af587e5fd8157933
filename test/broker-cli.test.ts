/**
 * `p2pgen broker`: listens where asked, serves peers, loads a security module, writes audit
 * JSON lines, closes gracefully on SIGTERM, and refuses bad options with exit code 2 (the
 * tests stop only processes they started, by pid).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { formatRecord } from '../cli/commands/log-format.js';
import { listeningUrl, startCli, type CliBroker } from './support/broker-process.js';
import { eventually } from './support/harness.js';
import { repoRoot, tempDir } from './support/paths.js';

describe('p2pgen broker', () => {
  it('serves peers and closes their connections on SIGTERM', async () => {
    const broker = startCli(['--port', '0', '--host', '127.0.0.1']);
    const client = new RpcWebSocketClient(await listeningUrl(broker), { reconnect: false });
    await client.connect();
    await client.registerAsPeer('cli-peer');
    expect((await client.listPeers()).map((p) => p.id)).toEqual(['cli-peer']);
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    expect(logRecords(broker.output.stderr).map((r) => r.msg)).toContain('SIGTERM: draining (calls in flight may take 10000 ms); a second SIGTERM or SIGINT closes at once');
    expect(broker.output.stdout).toBe('');
    await eventually(() => client.state.value === 'closed', 'the client to see the broker go');
    await expect(client.listPeers()).rejects.toMatchObject({ code: RpcErrorCode.NOT_CONNECTED });
  });

  it("says which of the broker's Node options (V8 flags only a process's start can set) it was started without, and nothing when it has them", async () => {
    const hint = (broker: CliBroker) => logRecords(broker.output.stderr).find((r) => (r as { nodeOptions?: string[] }).nodeOptions !== undefined);
    const bare = startCli(['--port', '0', '--host', '127.0.0.1'], []);
    await listeningUrl(bare);
    await eventually(() => hint(bare) !== undefined, 'the hint about the Node options');
    expect(hint(bare)).toMatchObject({ nodeOptions: ['--no-concurrent-array-buffer-sweeping'] });
    expect(hint(bare)!.msg).toMatch(/^Node was started without --no-concurrent-array-buffer-sweeping: .*docs\/operations\.md\)$/);
    const tuned = startCli(['--port', '0', '--host', '127.0.0.1']);
    const client = new RpcWebSocketClient(await listeningUrl(tuned), { reconnect: false });
    await client.connect();
    await client.registerAsPeer('tuned-peer');
    await client.disconnect();
    for (const broker of [bare, tuned]) broker.child.kill('SIGTERM');
    expect([await bare.exited, await tuned.exited]).toEqual([0, 0]);
    expect(hint(tuned)).toBeUndefined();
  });

  it('--small-young-generation (V8 tuned for large frames, docs/operations.md) serves peers as usual', async () => {
    const broker = startCli(['--port', '0', '--host', '127.0.0.1', '--small-young-generation']);
    const client = new RpcWebSocketClient(await listeningUrl(broker), { reconnect: false });
    await client.connect();
    await client.registerAsPeer('tuned-peer');
    expect((await client.listPeers()).map((p) => p.id)).toEqual(['tuned-peer']);
    await client.disconnect();
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
  });

  it('--security loads a module and enforces it; --audit appends JSON lines, complete after SIGTERM', async () => {
    const dir = tempDir('broker-cli');
    // Inside the repository, so 'p2pgen/broker' resolves to this package as it would for a user.
    const securityModule = join(dir, 'security.mjs');
    writeFileSync(
      securityModule,
      `import { RpcKernelSecurity, Session } from 'p2pgen/broker';
export default class OnlyTokens extends RpcKernelSecurity {
  async authenticate(token) {
    if (typeof token !== 'string') throw new Error('a token is required');
    return new Session(token, token);
  }
  async isAllowedToRegisterAsPeer(session, peerId) {
    return peerId === session.username;
  }
}
`,
    );
    const auditFile = join(dir, 'audit.jsonl');
    const broker = startCli(['--port', '0', '--security', securityModule, '--audit', auditFile]);
    const url = await listeningUrl(broker);
    expect(logRecords(broker.output.stderr).find((r) => r.msg === 'p2pgen broker starting')).toMatchObject({ security: securityModule, audit: auditFile });

    await expect(new RpcWebSocketClient(url).connect()).rejects.toMatchObject({ code: RpcErrorCode.AUTHENTICATION_FAILED });
    const alice = new RpcWebSocketClient(url, { token: 'alice' });
    await alice.connect();
    await alice.registerAsPeer('alice');
    await expect(alice.registerAsPeer('bob')).rejects.toMatchObject({ code: RpcErrorCode.ACCESS_DENIED });

    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    const events = readFileSync(auditFile, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; user?: string; peerId?: string; what?: string });
    expect(events.filter((e) => e.type !== 'connect' && e.type !== 'disconnect').map((e) => [e.type, e.user, e.peerId ?? e.what])).toEqual([
      ['authentication-failed', undefined, undefined],
      ['register', 'alice', 'alice'],
      ['denied', 'alice', 'bob'],
      // Recorded while the broker closed, and still written to the file.
      ['deregister', 'alice', 'alice'],
    ]);
    expect(events.filter((e) => e.type === 'disconnect').length).toBeGreaterThanOrEqual(1);
  });

  it("--audit - writes the audit events to stdout as JSON lines, and the broker's logs to stderr", async () => {
    const broker = startCli(['--port', '0', '--audit', '-']);
    const url = await listeningUrl(broker);
    const client = new RpcWebSocketClient(url, { reconnect: false });
    await client.connect();
    await client.registerAsPeer('audited');
    await client.disconnect();
    await eventually(() => broker.output.stdout.includes('"type":"disconnect"'), 'the disconnect event on stdout');
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    // Nothing but JSON lines: `p2pgen broker --audit - | jq` works.
    const events = broker.output.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; peerId?: string });
    expect(events.map((e) => e.type)).toEqual(['connect', 'register', 'deregister', 'disconnect']);
    expect(events[1]).toMatchObject({ peerId: 'audited' });
    const messages = logRecords(broker.output.stderr).map((r) => r.msg);
    expect(messages).toContain(`p2pgen broker listening on ${url}`);
    expect(messages).toContain('p2pgen broker closed');
  });

  it('--audit takes its value however it is written, and needs one', async () => {
    const broker = startCli(['--port', '0', '--audit=-']);
    await listeningUrl(broker);
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    const missing = startCli(['--port', '0', '--audit']);
    expect(await missing.exited).toBe(2);
    expect(missing.output.stderr).toContain('Not enough arguments following: audit');
  });

  it('refuses bad options with exit code 2 and says which', async () => {
    const dir = tempDir('broker-cli');
    const notSecurity = join(dir, 'not-security.mjs');
    writeFileSync(notSecurity, 'export default { authenticate() {} };\n');
    const cases: [string[], string][] = [
      [['--port', 'abc'], '--port must be a whole number from 0 to 65535, not NaN'],
      [['--port', '70000'], '--port must be a whole number from 0 to 65535, not 70000'],
      [['--max-frame-bytes', '0'], '--max-frame-bytes must be a whole number from 1 up, not 0'],
      [['--security', join(dir, 'missing.mjs')], `--security ${join(dir, 'missing.mjs')}: cannot load`],
      [['--security', notSecurity], 'it lacks isAllowedToRegisterAsPeer, isAllowedToSendToPeer'],
      [['--audit', join(dir, 'no-such-dir', 'audit.jsonl')], 'ENOENT'],
      [['--lease-ms', '2000'], '--lease-ms needs --nats'],
      [['--nats', 'nats://127.0.0.1:4222', '--lease-ms', '10'], '--lease-ms must be a whole number from 300 up, not 10'],
    ];
    for (const [args, message] of cases) {
      const broker = startCli(['--port', '0', ...args]);
      expect(await broker.exited, args.join(' ')).toBe(2);
      expect(broker.output.stderr).toContain(message);
      expect(broker.output.stderr).not.toContain('listening');
    }
  });

  it('a port already in use is an error naming the address, exit code 1', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as AddressInfo).port;
      const broker = startCli(['--port', String(port)]);
      expect(await broker.exited).toBe(1);
      expect(broker.output.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
      expect(broker.output.stderr).not.toContain('    at ');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

/** The JSON lines a CLI broker logged. */
function logRecords(stderr: string): { msg: string; level: number; [field: string]: unknown }[] {
  return stderr
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg: string; level: number });
}

describe('p2pgen broker logs: for a person at a terminal, JSON lines for tools', () => {
  const cli = join(repoRoot, 'cli/bin/p2pgen.js');
  const ansi = /\x1b\[[0-9;]*m/g;

  /** The broker with its stderr on a real terminal: script(1) runs it under a pseudo-terminal and copies what it shows. */
  function onTerminal(args: string[]) {
    const command = [process.execPath, cli, 'broker', ...args].map((a) => `'${a}'`).join(' ');
    const env = { ...process.env };
    delete env.NO_COLOR;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const output = { text: '' };
    child.stdout.on('data', (d: Buffer) => (output.text += d.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return { child, output, exited };
  }

  it('on a terminal: time, level and message, the fields the message does not say, in colour', async () => {
    const broker = onTerminal(['--port', '0']);
    try {
      await eventually(() => broker.output.text.includes('listening on'), `the broker to listen (${broker.output.text})`, 20_000);
      const lines = broker.output.text.replace(/\r/g, '').split('\n').filter(Boolean);
      expect(broker.output.text).toMatch(ansi);
      expect(broker.output.text).not.toContain('{"level"');
      const plain = lines.map((l) => l.replace(ansi, ''));
      expect(plain[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  p2pgen broker starting {2}port=0 host=127\.0\.0\.1$/);
      // The URL is in the message, so it is not repeated as a field.
      expect(plain[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  p2pgen broker listening on ws:\/\/127\.0\.0\.1:\d+ {2}protectedMode=true$/);
    } finally {
      // script(1) passes SIGTERM on to the broker it runs.
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
  });

  it("an error's stack goes on the lines below its record", () => {
    const text = formatRecord({ level: 50, time: Date.UTC(2026, 0, 1), pid: 1, hostname: 'h', name: 'p2pgen-broker', msg: 'hook failed', err: { type: 'Error', message: 'directory down', stack: 'Error: directory down\n    at check (security.js:3:9)' } });
    expect(text.split('\n').slice(1)).toEqual(['    Error: directory down', '    at check (security.js:3:9)']);
    expect(text.split('\n')[0]).toMatch(/ ERROR hook failed {2}err="directory down"$/);
  });

  it('--log-format json on a terminal, and --log-format pretty in a pipe (no colour there)', async () => {
    const json = onTerminal(['--port', '0', '--log-format', 'json']);
    try {
      await eventually(() => json.output.text.includes('listening on'), `the broker to listen (${json.output.text})`, 20_000);
      const first = json.output.text.replace(/\r/g, '').split('\n')[0]!;
      expect(JSON.parse(first)).toMatchObject({ level: 30, msg: 'p2pgen broker starting' });
    } finally {
      json.child.kill('SIGTERM');
      await json.exited;
    }
    const piped = startCli(['--port', '0', '--log-format', 'pretty']);
    await listeningUrl(piped);
    piped.child.kill('SIGTERM');
    expect(await piped.exited).toBe(0);
    expect(piped.output.stderr).not.toMatch(ansi);
    expect(piped.output.stderr.split('\n')[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  p2pgen broker starting {2}port=0 host=127\.0\.0\.1$/);
    expect(piped.output.stderr).toMatch(/INFO  p2pgen broker closed {2}connections=0 calls=0\n$/);
  });
});
