/**
 * `p2pgen broker`: listens where asked, serves peers, and closes gracefully on SIGTERM
 * (the test stops only the process it started, by its pid).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { eventually } from './support/harness.js';
import { repoRoot } from './support/paths.js';

describe('p2pgen broker', () => {
  it('serves peers and closes their connections on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/p2pgen.js'), 'broker', '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await eventually(() => /listening on ws:\/\/127\.0\.0\.1:\d+/.test(stdout), 'the broker to listen', 20_000);
      const url = /listening on (ws:\/\/\S+)/.exec(stdout)![1]!;
      const client = new RpcWebSocketClient(url);
      await client.connect();
      await client.registerAsPeer('cli-peer');
      expect((await client.listPeers()).map((p) => p.id)).toEqual(['cli-peer']);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout).toContain('SIGTERM, closing 1 connections');
      await eventually(() => client.state === 'closed', 'the client to see the broker go');
      await expect(client.listPeers()).rejects.toMatchObject({ code: RpcErrorCode.NOT_CONNECTED });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses --nats for now with a usage error', () => {
    const result = spawn(process.execPath, [join(repoRoot, 'bin/p2pgen.js'), 'broker', '--nats', 'nats://127.0.0.1:4222']);
    return new Promise<void>((resolve) => {
      let stderr = '';
      result.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      result.once('exit', (code) => {
        expect(code).toBe(2);
        expect(stderr).toContain('clustering over NATS is not available');
        resolve();
      });
    });
  });
});
