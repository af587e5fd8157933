/**
 * `p2pgen broker` as an operator runs it (a child process, stopped by pid): SIGTERM drains it
 * while calls are in flight (they complete, then its clients get 1001 and move to another
 * broker) and it exits 0; a second signal closes at once; its stderr is JSON lines with the
 * fields an operator filters on; --metrics-port serves the broker's and the process's metrics.
 */
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { listeningUrl, startCli, type CliBroker } from './support/broker-process.js';
import { eventually, startBroker } from './support/harness.js';
import { httpGet, parseExposition } from './support/prometheus-text.js';
import { RawPeer } from './support/raw-peer.js';
import { rejection } from './support/rejection.js';
import { failoverClient } from './support/failover-client.js';
import { GatedBehaviors } from './support/gated-behaviors.js';
import { freePort } from './support/free-port.js';

interface LogRecord {
  level: number;
  time: number;
  pid: number;
  name: string;
  msg: string;
  [field: string]: unknown;
}

/** Every line of the broker's stderr, as JSON (a line that is not JSON fails the test). */
function logRecords(broker: CliBroker): LogRecord[] {
  return broker.output.stderr
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogRecord);
}

const hasRecord = (broker: CliBroker, msg: string | RegExp) => logRecords(broker).some((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(r.msg)));

/** A client connected to a broker that is starting (tried again while the port is closed; bounded). */
async function connectWhenUp(url: string): Promise<RpcWebSocketClient> {
  for (let attempt = 0; ; attempt++) {
    const client = new RpcWebSocketClient(url, { reconnect: false });
    try {
      await client.connect();
      return client;
    } catch (error) {
      if (attempt >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('p2pgen broker in operation', () => {
  it('SIGTERM with calls in flight: the clients move to the second broker first, new calls go there, the calls in flight complete where they are; exit code 0', async () => {
    const cli = startCli(['--port', '0', '--drain-ms', '60000']);
    const second = await startBroker();
    const urls = [await listeningUrl(cli), second.broker.url];
    const callee = await failoverClient(urls, 'callee');
    const controller = new GatedBehaviors();
    callee.client.registerController('/behaviors', controller);
    const caller = await failoverClient(urls, 'caller');
    const remote = caller.client.peer('callee').controller<BehaviorsController>('/behaviors');
    const calls = [remote.delay(1), remote.delay(2), remote.delay(3)];
    await eventually(() => controller.started === 3, 'the calls to reach the callee');

    cli.child.kill('SIGTERM');
    await eventually(() => hasRecord(cli, /^draining/), 'the broker to start draining');
    await eventually(() => [callee, caller].every((c) => c.events.some((e) => e.type === 'reconnected')), 'both clients to move');
    for (const c of [callee, caller]) expect(c.events).toEqual([{ type: 'reconnected', url: second.broker.url }]);
    expect(await remote.identity(1)).toBe(1);
    expect(cli.child.exitCode).toBeNull();
    controller.release();
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    expect(await cli.exited).toBe(0);
    expect(await remote.identity(9)).toBe(9);
    const records = logRecords(cli);
    expect(records.find((r) => r.msg.startsWith('SIGTERM: draining'))).toMatchObject({ signal: 'SIGTERM', connections: 2, calls: 3, deadlineMs: 60_000 });
    expect(records.at(-1)).toMatchObject({ msg: 'p2pgen broker closed', connections: 0, calls: 0 });
    await Promise.all([callee.client.disconnect(), caller.client.disconnect()]);
  });

  it('a second signal closes at once, even with a call that never ends; exit code 0', async () => {
    const cli = startCli(['--port', '0', '--drain-ms', '600000']);
    const url = await listeningUrl(cli);
    const callee = new RpcWebSocketClient(url, { reconnect: false });
    await callee.connect();
    await callee.registerAsPeer('callee');
    const controller = new GatedBehaviors();
    callee.registerController('/behaviors', controller);
    const caller = new RpcWebSocketClient(url, { reconnect: false });
    await caller.connect();
    const hanging = caller.peer('callee').controller<BehaviorsController>('/behaviors', { timeoutMs: 0 }).hang();
    hanging.catch(() => undefined);
    const watcher = await RawPeer.connect(url);
    await eventually(() => controller.started === 1, 'the call to reach the callee');
    cli.child.kill('SIGTERM');
    expect(await watcher.waitClosed()).toMatchObject({ code: 1001 });
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect((await rejection(hanging)).code).toBe(RpcErrorCode.NOT_CONNECTED);
    expect(logRecords(cli).find((r) => r.msg === 'SIGINT again: closing at once')).toMatchObject({ level: 40, signal: 'SIGINT' });
  });

  it('logs JSON lines on stderr: start, connections at debug, protocol violations at warn, drain and close', async () => {
    const cli = startCli(['--port', '0', '--log-level', 'debug']);
    const url = await listeningUrl(cli);
    const client = new RpcWebSocketClient(url, { reconnect: false });
    await client.connect();
    await client.registerAsPeer('logged');
    const rude = await RawPeer.connect(url);
    rude.send('text frames are not part of the protocol');
    expect(await rude.waitClosed()).toMatchObject({ code: 1002 });
    await client.disconnect();
    await eventually(() => logRecords(cli).filter((r) => r.msg === 'connection closed').length === 2, 'both connections to be logged as closed');
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.output.stdout).toBe('');

    const records = logRecords(cli);
    for (const r of records) expect(r).toMatchObject({ name: 'p2pgen-broker', pid: cli.child.pid, level: expect.any(Number), time: expect.any(Number), msg: expect.any(String) });
    const [starting, listening] = records;
    expect(starting).toMatchObject({ level: 30, msg: 'p2pgen broker starting', port: 0, host: '127.0.0.1' });
    expect(listening).toMatchObject({ level: 30, msg: `p2pgen broker listening on ${url}`, url, protectedMode: true });
    const opened = records.filter((r) => r.msg === 'connection opened');
    expect(opened).toHaveLength(2);
    for (const r of opened) expect(r).toMatchObject({ level: 20, connection: expect.any(Number), remoteAddress: '127.0.0.1' });
    expect(records.filter((r) => r.msg === 'connection authenticated')[0]).toMatchObject({ level: 20, user: 'anonymous' });
    expect(records.find((r) => r.msg === 'protocol violation: connection closed')).toMatchObject({
      level: 40,
      connection: rude.handle,
      remoteAddress: '127.0.0.1',
      reason: 'text frames are not part of the protocol',
    });
    expect(records.find((r) => r.msg === 'connection closed' && r.connection === rude.handle)).toMatchObject({ level: 20, code: 1002 });
    expect(records.find((r) => r.msg === 'connection closed' && r.connection !== rude.handle)).toMatchObject({ level: 20, code: 1000, user: 'anonymous' });
    expect(records.find((r) => r.msg.startsWith('draining'))).toMatchObject({ level: 30, connections: 0, calls: 0, deadlineMs: 10_000 });
    expect(records.at(-1)).toMatchObject({ level: 30, msg: 'p2pgen broker closed' });
  });

  it('--log-level warn leaves out info and debug; --metrics-port serves the metrics of the broker and of its process, and /healthz', async () => {
    // Nothing is logged at info, not even where it listens: it is told a port, and found there.
    const port = await freePort();
    const quiet = startCli(['--port', String(port), '--log-level', 'warn']);
    const quietClient = await connectWhenUp(`ws://127.0.0.1:${port}`);
    await quietClient.disconnect();
    const probe = startCli(['--port', '0', '--metrics-port', '0']);
    const url = await listeningUrl(probe);
    const metricsUrl = logRecords(probe).find((r) => r.msg.startsWith('p2pgen broker listening'))!.metricsUrl as string;
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const client = new RpcWebSocketClient(url, { reconnect: false });
    await client.connect();
    const metrics = parseExposition((await httpGet(metricsUrl)).body);
    expect(metrics.value('p2pgen_broker_connections')).toBe(1);
    expect(metrics.find('process_cpu_seconds_total')).toHaveLength(1);
    expect(await httpGet(metricsUrl.replace('/metrics', '/healthz'))).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    await client.disconnect();
    probe.child.kill('SIGTERM');
    quiet.child.kill('SIGTERM');
    expect(await probe.exited).toBe(0);
    expect(await quiet.exited).toBe(0);
    expect(quiet.output.stderr).toBe('');
  });
});
