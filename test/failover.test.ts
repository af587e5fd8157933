/**
 * Failover without failed calls, on single brokers: ids reserved for their client while it
 * moves, calls that never reached the callee sent again within their deadline, deadlines that
 * count the time a frame spent in a hung broker, and clients that notice a silent broker.
 * Real brokers (in this process, and `p2pgen broker` processes paused with SIGSTOP by pid),
 * real clients, 127.0.0.1 only.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient, type ClientEvent, type RpcClientOptions } from '../runtime/index.node.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { listeningUrl, startCli } from './support/broker-process.js';
import { eventually, startBroker } from './support/harness.js';
import { rejection } from './support/rejection.js';
import { tcpProxy } from './support/tcp-proxy.js';

const clients: RpcWebSocketClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
});

async function client(url: string | string[], options: RpcClientOptions = {}): Promise<{ client: RpcWebSocketClient; behaviors: BehaviorsController; events: ClientEvent[] }> {
  const c = new RpcWebSocketClient(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 }, ...options });
  clients.push(c);
  const events: ClientEvent[] = [];
  c.events.subscribe((e) => events.push(e));
  await c.connect();
  const behaviors = new BehaviorsController();
  c.registerController('/behaviors', behaviors);
  return { client: c, behaviors, events };
}

/** Stops a child process (by the pid this test started) and resolves once the kernel says it is stopped. */
async function stop(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  // The signal takes effect asynchronously: until then the process may still read and forward.
  await eventually(() => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), `process ${pid} to be stopped`);
}

/** SIGSTOP a child process for `ms`, then SIGCONT (by the pid this test started). */
async function pause(pid: number, ms: number, meanwhile: () => Promise<void> = async () => undefined): Promise<void> {
  await stop(pid);
  try {
    await Promise.all([meanwhile(), new Promise((resolve) => setTimeout(resolve, ms))]);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

describe('an id whose connection drops stays reserved for its client', () => {
  it('nobody else can take it, calls to it are sent again and answered once it is back, and none fails', async () => {
    const h = await startBroker({ insecure: true });
    const proxy = await tcpProxy(h.broker.port);
    // The service reaches the broker through the proxy, and comes back after a while when cut off.
    const service = await client(proxy.url, { reconnect: { initialDelayMs: 400, maxDelayMs: 400 } });
    await service.client.registerAsPeer('svc');
    const caller = await client(h.broker.url);
    const svc = caller.client.peer('svc').controller<BehaviorsController>('/behaviors');
    expect(await svc.echo('before')).toBe('before');

    proxy.cut();
    await eventually(() => h.broker.stats().peers === 0, 'the broker to drop the cut connection');
    // Someone else: refused while the id is reserved.
    const intruder = await client(h.broker.url);
    const refusal = await rejection(intruder.client.registerAsPeer('svc'));
    expect(refusal.code).toBe(RpcErrorCode.ALREADY_REGISTERED);
    expect(refusal.message).toContain('reserved for the client that held it');
    // Calls made while it moves are answered once it is back.
    const answers = await Promise.all(['a', 'b', 'c'].map((text) => svc.echo(text)));
    expect(answers).toEqual(['a', 'b', 'c']);
    expect(service.events.filter((e) => e.type === 'registration-lost')).toEqual([]);
  });

  it('a client that disconnects on purpose frees its ids at once', async () => {
    const h = await startBroker({ insecure: true });
    const first = await client(h.broker.url);
    await first.client.registerAsPeer('svc');
    await first.client.disconnect();
    await eventually(() => h.broker.stats().peers === 0, 'the broker to drop the connection');
    const second = await client(h.broker.url);
    await second.client.registerAsPeer('svc');
  });

  it('a call to an id nobody held is not sent again: PEER_NOT_FOUND at once, and it never ran', async () => {
    const h = await startBroker({ insecure: true });
    const caller = await client(h.broker.url);
    const error = await rejection(caller.client.peer('nobody').controller<BehaviorsController>('/behaviors').echo('x'));
    expect(error.code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    expect(error.mayHaveRun).toBe(false);
  });
});

describe('a broker that hangs', () => {
  it('calls whose deadline passed while it was paused are answered TIMEOUT when it resumes, never run', async () => {
    const cli = startCli(['--port', '0', '--insecure']);
    const url = await listeningUrl(cli);
    const service = await client(url);
    await service.client.registerAsPeer('svc');
    const caller = await client(url);
    const svc = caller.client.peer('svc').controller<BehaviorsController>('/behaviors', { timeoutMs: 300 });
    expect(await svc.echo('warm')).toBe('warm');
    const ranBefore = service.behaviors.calls;
    const late: Promise<RpcError>[] = [];
    await pause(cli.child.pid!, 1500, async () => {
      for (let i = 0; i < 20; i++) late.push(rejection(svc.echo(`late ${i}`)));
      await Promise.all(late);
    });
    const errors = await Promise.all(late);
    expect(errors.map((e) => e.code)).toEqual(Array(20).fill(RpcErrorCode.TIMEOUT));
    // The broker read the 20 Requests after it resumed, past their deadline: none reached the service.
    expect(await svc.echo('after')).toBe('after');
    expect(service.behaviors.calls - ranBefore).toBe(1);
  });

  it('its clients notice it is silent and move to the next broker of their list by themselves (livenessMs, 10 s by default)', async () => {
    const cli = startCli(['--port', '0', '--insecure']);
    const hung = await listeningUrl(cli);
    const other = await startBroker({ insecure: true });
    const mover = await client([hung, other.broker.url]);
    await mover.client.registerAsPeer('mover');
    await stop(cli.child.pid!);
    try {
      await eventually(() => mover.events.some((e) => e.type === 'reconnected' && e.url === other.broker.url), 'the client to move to the other broker', 15_000);
    } finally {
      process.kill(cli.child.pid!, 'SIGCONT');
    }
    const caller = await client(other.broker.url);
    expect(await caller.client.peer('mover').controller<BehaviorsController>('/behaviors').echo('here')).toBe('here');
    const disconnected = mover.events.find((e) => e.type === 'disconnected') as { reason: string } | undefined;
    expect(disconnected?.reason).toContain('taken for dead');
  });
});
