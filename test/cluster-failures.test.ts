/**
 * The cluster under the faults an operator's first week brings, against real `nats-server`
 * processes (a 3-node cluster with R3 buckets where the fault needs it) and real brokers (in
 * this process, or `p2pgen broker` processes killed or paused by pid), with peers calling each
 * other throughout. What must hold after each fault: no peer hears registration-lost, every
 * peer answers calls again within a bound, every broker lists the live peers, nothing that
 * never ran is reported failed, nothing runs twice. Short leases keep them quick.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { createBroker, type Broker, type BrokerOptions } from '../runtime/broker/index.js';
import '../.tmp/gen/behaviors/index.js';
import { listeningUrl, startCli, type CliBroker } from './support/broker-process.js';
import { failureSummary, startWorkload, type Workload } from './support/cluster-workload.js';
import { freePort } from './support/free-port.js';
import { eventually } from './support/harness.js';
import { startNatsCluster, startNatsServer } from './support/nats-server.js';

const LEASE_MS = 2000;
/** How long every peer has to answer calls again after a fault (the figure the tests report is far below it). */
const RECOVERY_BOUND_MS = 30_000;
const brokers: Broker[] = [];
const workloads: Workload[] = [];
const report = (line: string) => process.env.P2PGEN_REPORT && console.info(line);

afterEach(async () => {
  await Promise.all(workloads.splice(0).map((w) => w.disconnect()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

async function clusteredBroker(nats: string[], options: BrokerOptions & { replicas?: number } = {}): Promise<Broker> {
  const { replicas, ...rest } = options;
  const broker = await createBroker({ port: 0, host: '127.0.0.1', cluster: { nats, leaseMs: LEASE_MS, ...(replicas ? { replicas } : {}) }, ...rest });
  brokers.push(broker);
  return broker;
}

function rotate<T>(list: readonly T[], by: number): T[] {
  return list.map((_, i) => list[(i + by) % list.length]!);
}

/** Peer ids a broker lists (a fresh client of its own, so the broker's directory is what is read). */
async function listed(url: string): Promise<string[]> {
  const client = new RpcWebSocketClient(url, { reconnect: false, timeoutMs: 5000 });
  try {
    await client.connect();
    return (await client.listPeers()).map((p) => p.id).sort();
  } finally {
    await client.disconnect();
  }
}

/** Until every peer answered a call after `since`, and every broker lists exactly the peers; resolves with how long that took. */
async function converged(work: Workload, urls: string[], since: number): Promise<number> {
  await eventually(() => work.ids.every((id) => (work.lastAnswered.get(id) ?? 0) > since), 'every peer to answer calls again', RECOVERY_BOUND_MS);
  const answering = Date.now() - since;
  const expected = [...work.ids].sort();
  await eventually(async () => (await Promise.all(urls.map((u) => listed(u).catch(() => [])))).every((ids) => ids.join() === expected.join()), 'every broker to list the live peers', RECOVERY_BOUND_MS);
  return answering;
}

function expectNothingLostNorRunTwice(work: Workload): void {
  expect(work.events.filter((e) => e.type === 'registration-lost')).toEqual([]);
  expect(failureSummary(work.failures.filter((f) => !f.mayHaveRun))).toEqual({});
  expect([...work.ran].filter(([, times]) => times > 1)).toEqual([]);
}

/** The server name (n0, n1, n2) leading a JetStream stream. */
async function streamLeader(natsUrl: string, stream: string): Promise<string> {
  const nc = await connect({ servers: natsUrl });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    return info.cluster!.leader!;
  } finally {
    await nc.close();
  }
}

/** Stops a child process by the pid this test started, and resolves once the kernel says it is stopped. */
async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  await eventually(() => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), `process ${pid} to be stopped`);
}

describe('NATS faults', () => {
  it('kill -9 of the KV stream leader while peers call each other: no id lost, every peer answers again, every broker lists the live peers', async () => {
    const nodes = await startNatsCluster(3);
    const urls = nodes.map((n) => n.url);
    const all = [await clusteredBroker(rotate(urls, 0), { replicas: 3 }), await clusteredBroker(rotate(urls, 1), { replicas: 3 }), await clusteredBroker(rotate(urls, 2), { replicas: 3 })];
    const brokerUrls = all.map((b) => b.url);
    const work = await startWorkload(6, (i) => rotate(brokerUrls, i % 3));
    workloads.push(work);
    await eventually(() => work.ok() > 100, 'calls to flow', 20_000);
    const leader = await streamLeader(urls[0]!, 'KV_p2pgen-p2pgen-peers');
    const killedAt = Date.now();
    await nodes[Number(leader.slice(1))]!.stop({ kill9: true });
    const answering = await converged(work, brokerUrls, killedAt);
    report(`KV leader ${leader} killed: every peer answered again ${answering} ms later; ${JSON.stringify(failureSummary(work.failures))} of ${work.ok() + work.failures.length} calls failed`);
    await work.stop();
    expectNothingLostNorRunTwice(work);
  }, 120_000);

  it('a full restart (kill -9 of every NATS server and every broker, then start them again): every peer comes back by itself, no id lost', async () => {
    const nodes = await startNatsCluster(3);
    const urls = nodes.map((n) => n.url);
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    const start = (i: number): CliBroker => startCli(['--port', String(ports[i]), '--insecure', '--nats', rotate(urls, i).join(','), '--nats-replicas', '3', '--lease-ms', String(LEASE_MS)]);
    let processes = [0, 1, 2].map(start);
    const brokerUrls = await Promise.all(processes.map((p) => listeningUrl(p)));
    // Calls wait for a broker within their deadline: longer than everything takes to start again.
    const work = await startWorkload(6, (i) => rotate(brokerUrls, i % 3), { timeoutMs: 30_000 });
    workloads.push(work);
    await eventually(() => work.ok() > 100, 'calls to flow', 20_000);
    const killedAt = Date.now();
    await Promise.all([...processes.map((p) => (p.child.kill('SIGKILL'), p.exited)), ...nodes.map((n) => n.stop({ kill9: true }))]);
    await Promise.all(nodes.map((n) => n.restart()));
    processes = [0, 1, 2].map(start);
    await Promise.all(processes.map((p) => listeningUrl(p)));
    const answering = await converged(work, brokerUrls, killedAt);
    report(`full restart: every peer answered again ${answering} ms after the kill; ${JSON.stringify(failureSummary(work.failures))} of ${work.ok() + work.failures.length} calls failed`);
    await work.stop();
    expectNothingLostNorRunTwice(work);
  }, 180_000);
});

describe('broker faults', () => {
  it('kill -9 of a broker while peers call each other: its peers move and answer again, nothing that never ran fails, nothing runs twice', async () => {
    const nats = await startNatsServer();
    const doomed = startCli(['--port', '0', '--insecure', '--nats', nats.url, '--lease-ms', String(LEASE_MS)]);
    const others = [await clusteredBroker([nats.url]), await clusteredBroker([nats.url])];
    const brokerUrls = [await listeningUrl(doomed), ...others.map((b) => b.url)];
    const work = await startWorkload(6, (i) => rotate(brokerUrls, i % 3));
    workloads.push(work);
    await eventually(() => work.ok() > 100, 'calls to flow', 20_000);
    const killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    const answering = await converged(work, brokerUrls.slice(1), killedAt);
    report(`broker kill -9: every peer answered again ${answering} ms later; ${JSON.stringify(failureSummary(work.failures))} of ${work.ok() + work.failures.length} calls failed`);
    await work.stop();
    expectNothingLostNorRunTwice(work);
  }, 120_000);

  it('a broker paused (SIGSTOP) then resumed: its clients move by themselves within the liveness bound, no id lost, nothing it held past its deadline runs', async () => {
    const nats = await startNatsServer();
    const paused = startCli(['--port', '0', '--insecure', '--nats', nats.url, '--lease-ms', String(LEASE_MS)]);
    const others = [await clusteredBroker([nats.url]), await clusteredBroker([nats.url])];
    const brokerUrls = [await listeningUrl(paused), ...others.map((b) => b.url)];
    const work = await startWorkload(6, (i) => rotate(brokerUrls, i % 3), { timeoutMs: 3000 });
    workloads.push(work);
    await eventually(() => work.ok() > 100, 'calls to flow', 20_000);
    const pausedAt = Date.now();
    await stopProcess(paused.child.pid!);
    try {
      // The clients of the paused broker take it for dead within their liveness bound (10 s by default) and move.
      await converged(work, brokerUrls.slice(1), pausedAt);
    } finally {
      process.kill(paused.child.pid!, 'SIGCONT');
    }
    const movedIn = Date.now() - pausedAt;
    // Resumed: it reads what waited for it, all past its deadline, and finds its peers gone.
    await converged(work, brokerUrls, Date.now());
    report(`broker paused: its peers answered again ${movedIn} ms after the pause; ${JSON.stringify(failureSummary(work.failures))} of ${work.ok() + work.failures.length} calls failed`);
    await work.stop();
    expect(work.events.filter((e) => e.type === 'registration-lost')).toEqual([]);
    expect([...work.ran].filter(([, times]) => times > 1)).toEqual([]);
    // Calls made into the paused broker timed out at their callers; it read them on resuming, past their deadline: none ran.
    const intoThePause = work.failed.filter((f) => f.error.code === RpcErrorCode.TIMEOUT && f.startedAt > pausedAt + 100);
    expect(intoThePause.length).toBeGreaterThan(0);
    expect(intoThePause.filter((f) => work.ran.has(f.text)).map((f) => f.text)).toEqual([]);
    // What failed without running was for peers still moving when the call's 3 s deadline ran out: sent again until then.
    expect(work.failures.filter((f) => !f.mayHaveRun && !(f.code === RpcErrorCode.PEER_NOT_FOUND && f.details?.moving === true) && f.code !== RpcErrorCode.UNAVAILABLE)).toEqual([]);
  }, 120_000);
});

describe('a drain', () => {
  it('a broker drained while peers call each other: its peers move, no call fails, nothing runs twice', async () => {
    const nats = await startNatsServer();
    const all = [await clusteredBroker([nats.url]), await clusteredBroker([nats.url]), await clusteredBroker([nats.url])];
    const brokerUrls = all.map((b) => b.url);
    const work = await startWorkload(6, (i) => rotate(brokerUrls, i % 3));
    workloads.push(work);
    await eventually(() => work.ok() > 100, 'calls to flow', 20_000);
    const drainedAt = Date.now();
    const drained = all[0]!;
    brokers.splice(brokers.indexOf(drained), 1);
    await drained.drain({ deadlineMs: 10_000 });
    const answering = await converged(work, brokerUrls.slice(1), drainedAt);
    report(`drain: every peer answered again ${answering} ms after it began; ${JSON.stringify(failureSummary(work.failures))} of ${work.ok() + work.failures.length} calls failed`);
    await work.stop();
    expectNothingLostNorRunTwice(work);
    expect(failureSummary(work.failures)).toEqual({});
  }, 120_000);
});
