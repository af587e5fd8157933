/**
 * `p2pgen broker`: listens where asked, serves peers, loads a security module, writes audit
 * JSON lines, closes gracefully on SIGTERM, and refuses bad options with exit code 2 (the
 * tests stop only processes they started, by pid).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { listeningUrl, startCli } from './support/broker-process.js';
import { eventually } from './support/harness.js';
import { tempDir } from './support/paths.js';

describe('p2pgen broker', () => {
  it('serves peers and closes their connections on SIGTERM', async () => {
    const broker = startCli(['--port', '0', '--host', '127.0.0.1']);
    const client = new RpcWebSocketClient(await listeningUrl(broker), { reconnect: false });
    await client.connect();
    await client.registerAsPeer('cli-peer');
    expect((await client.listPeers()).map((p) => p.id)).toEqual(['cli-peer']);
    broker.child.kill('SIGTERM');
    expect(await broker.exited).toBe(0);
    expect(broker.output.stdout).toContain('SIGTERM, closing 1 connections');
    await eventually(() => client.state.value === 'closed', 'the client to see the broker go');
    await expect(client.listPeers()).rejects.toMatchObject({ code: RpcErrorCode.NOT_CONNECTED });
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
    expect(broker.output.stdout).toContain(`(security: ${securityModule})`);

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

  it("--audit - writes the audit events to stdout as JSON lines, and the broker's own messages to stderr", async () => {
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
    expect(broker.output.stderr).toContain('listening on ws://127.0.0.1:');
    expect(broker.output.stderr).toContain('SIGTERM, closing 0 connections');
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
      expect(broker.output.stdout).not.toContain('listening');
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
