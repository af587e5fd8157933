/**
 * The clustering logic on the in-memory engine (runtime/broker/cluster/memory): real brokers
 * and real clients over WebSocket on 127.0.0.1, with the stores and the bus between brokers in
 * this process, so faults NATS brings on its own schedule can be injected at will. The same
 * logic runs over NATS in cluster.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient, type RpcClientOptions } from '../runtime/index.node.js';
import { createBroker, type Broker } from '../runtime/broker/index.js';
import { MemoryCluster } from '../runtime/broker/cluster/memory/memory-cluster.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { freePort } from './support/free-port.js';
import { eventually } from './support/harness.js';
import { claimedIds } from './support/memory-cluster.js';
import { rejection } from './support/rejection.js';

const LEASE_MS = 1000;
const RESERVATION_MS = 500;
const brokers: Broker[] = [];
const clients: RpcWebSocketClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

async function broker(cluster: MemoryCluster, label?: string): Promise<Broker> {
  const b = await createBroker({ port: 0, host: '127.0.0.1', cluster: { engine: cluster.engine(label), leaseMs: LEASE_MS }, idReservationMs: RESERVATION_MS });
  brokers.push(b);
  return b;
}

async function client(url: string | string[], peerId?: string, options: RpcClientOptions = {}): Promise<RpcWebSocketClient> {
  const c = new RpcWebSocketClient(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.push(c);
  await c.connect();
  c.registerController('/behaviors', new BehaviorsController());
  if (peerId) await c.registerAsPeer(peerId);
  return c;
}

function remotePeers(b: Broker, count: number): Promise<void> {
  return eventually(() => b.stats().remotePeers === count, `${count} remote peers to be known (known: ${b.stats().remotePeers})`, 10_000);
}

describe('a cluster on the in-memory engine', () => {
  it('peers on different brokers call each other, and ids are unique across the cluster', async () => {
    const cluster = new MemoryCluster();
    const [a, b, c] = await Promise.all([broker(cluster), broker(cluster), broker(cluster)]);
    const alice = await client(a.url, 'alice');
    await client(b.url, 'bob');
    await Promise.all([remotePeers(a, 1), remotePeers(b, 1), remotePeers(c, 2)]);
    const bob = alice.peer('bob').controller<BehaviorsController>('/behaviors');
    expect(await bob.echo('across')).toBe('across');

    // 30 claims of one free id from three brokers at once: exactly one wins.
    const contenders = await Promise.all([a, b, c].flatMap((x) => Array.from({ length: 10 }, () => client(x.url))));
    const outcomes = await Promise.allSettled(contenders.map((x) => x.registerAsPeer('contested')));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => ((o as PromiseRejectedResult).reason as RpcError).code)).toEqual(Array(29).fill(RpcErrorCode.ALREADY_REGISTERED));
    expect(claimedIds(cluster)).toEqual(['alice', 'bob', 'contested']);
  });

  it('a broker cut off and healed: calls to its peers are refused at once with UNAVAILABLE (never run), sent again by default, answered once it is back', async () => {
    const cluster = new MemoryCluster();
    const [a, b] = await Promise.all([broker(cluster, 'a'), broker(cluster)]);
    const alice = await client(a.url, 'alice');
    await client(b.url, 'bob');
    await Promise.all([remotePeers(a, 1), remotePeers(b, 1)]);
    const bob = alice.peer('bob').controller<BehaviorsController>('/behaviors');
    cluster.partition(cluster.node('a'));
    const refused = await rejection(alice.peer('bob').controller<BehaviorsController>('/behaviors', { retry: false }).echo('cut off'));
    expect(refused.code).toBe(RpcErrorCode.UNAVAILABLE);
    expect(refused.mayHaveRun).toBe(false);
    // Sent again (it never ran) until the way is back, within its deadline.
    const waiting = bob.echo('waited');
    await new Promise((resolve) => setTimeout(resolve, 200));
    cluster.heal(cluster.node('a'));
    expect(await waiting).toBe('waited');
  });

  it('a broker that closes: its peers leave the other brokers at once', async () => {
    const cluster = new MemoryCluster();
    const [a, b] = await Promise.all([broker(cluster), broker(cluster)]);
    await client(b.url, 'bob');
    await remotePeers(a, 1);
    brokers.splice(brokers.indexOf(b), 1);
    await b.close();
    await remotePeers(a, 0);
    // bob's client may come back to another broker: its id stays reserved for it a while, then it is free.
    await eventually(() => claimedIds(cluster).length === 0, 'the reservation of bob to end', 10_000);
  });
});

describe('rebalancing', () => {
  it('after a broker restarts empty, the others hand it clients until the loads are even, and none of them fails a call', async () => {
    const cluster = new MemoryCluster();
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    const start = (i: number) => createBroker({ port: ports[i], host: '127.0.0.1', cluster: { engine: cluster.engine(`b${i}`), leaseMs: LEASE_MS, rebalanceIntervalMs: 2 * LEASE_MS } });
    const all = [await start(0), await start(1), await start(2)];
    brokers.push(...all);
    const urls = all.map((b) => b.url);
    // 30 clients, spread over the three brokers (each knows all three).
    const peers = await Promise.all(Array.from({ length: 30 }, (_, i) => client([0, 1, 2].map((k) => urls[(i + k) % 3]!), `c${i}`)));
    const loads = () => all.map((b) => b.stats().connections);
    await eventually(() => loads().every((n) => n === 10), `the clients to spread (loads ${loads()})`);
    // Broker 0 stops; its clients go to the others; then it starts again, empty, on the same port.
    brokers.splice(brokers.indexOf(all[0]!), 1);
    await all[0]!.close();
    await eventually(() => all[1]!.stats().connections + all[2]!.stats().connections === 30, 'its clients to move to the others', 10_000);
    all[0] = await start(0);
    brokers.push(all[0]);
    // Within a minute the others hand it its share.
    await eventually(() => Math.min(...loads()) >= 8, `the loads to even out (${loads()})`, 60_000);
    const caller = peers[0]!;
    for (let i = 1; i < 30; i++) expect(await caller.peer(`c${i}`).controller<BehaviorsController>('/behaviors').echo('ok')).toBe('ok');
  }, 90_000);
});
