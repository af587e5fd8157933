/**
 * The clustering logic under the faults NATS brings on its own schedule, injected through the
 * in-memory engine (runtime/broker/cluster/memory): store calls that fail or time out (a
 * JetStream leader election), watches that end or stall (their consumer died with its
 * server), a broker cut off and healed. Real brokers and real clients over WebSocket on
 * 127.0.0.1. What must hold: no id is lost to a fault, no id ever has two holders, and every
 * broker's directory converges to the live peers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient, type ClientEvent, type RpcClientOptions } from '../runtime/index.node.js';
import { createBroker, type Broker } from '../runtime/broker/index.js';
import { MemoryCluster } from '../runtime/broker/cluster/memory/memory-cluster.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually } from './support/harness.js';
import { claimedIds } from './support/memory-cluster.js';
import { tcpProxy } from './support/tcp-proxy.js';

const LEASE_MS = 1000;
/** How long an id whose broker died stays reserved for its client (short: the tests wait it out). */
const RESERVATION_MS = 500;
const brokers: Broker[] = [];
const clients: RpcWebSocketClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

async function broker(cluster: MemoryCluster, label: string): Promise<Broker> {
  const b = await createBroker({ port: 0, host: '127.0.0.1', cluster: { engine: cluster.engine(label), leaseMs: LEASE_MS }, idReservationMs: RESERVATION_MS });
  brokers.push(b);
  return b;
}

async function client(url: string | string[], peerId?: string, options: RpcClientOptions = {}): Promise<{ client: RpcWebSocketClient; events: ClientEvent[] }> {
  const c = new RpcWebSocketClient(url, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options });
  clients.push(c);
  const events: ClientEvent[] = [];
  c.events.subscribe((e) => events.push(e));
  await c.connect();
  c.registerController('/behaviors', new BehaviorsController());
  if (peerId) await c.registerAsPeer(peerId);
  return { client: c, events };
}

/** Peer ids a broker's directory lists (what listPeers of an unrestricted caller would show). */
async function listed(url: string): Promise<string[]> {
  const { client: c } = await client(url);
  const ids = (await c.listPeers()).map((p) => p.id).sort();
  await c.disconnect();
  return ids;
}

describe('claims tell "taken" from "could not ask"', () => {
  it('a registration whose store calls fail for a while (a leader election) succeeds once the store answers, not ALREADY_REGISTERED', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    cluster.failNext('create', { times: 3, store: 'claims' });
    cluster.failNext('get', { times: 2, store: 'claims', kind: 'timeout', delayMs: 50 });
    const { client: alice } = await client(a.url);
    await alice.registerAsPeer('alice');
    expect(claimedIds(cluster)).toEqual(['alice']);
  });

  it('a registration whose store never answers within the bound fails with UNAVAILABLE (try again), not ALREADY_REGISTERED', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    cluster.failNext('create', { times: 1000, store: 'claims' });
    const { client: alice } = await client(a.url, undefined, { timeoutMs: 60_000 });
    const error = await alice.registerAsPeer('alice').then(
      () => undefined,
      (e: unknown) => e as RpcError,
    );
    expect(error).toBeInstanceOf(RpcError);
    expect(error!.code).toBe(RpcErrorCode.UNAVAILABLE);
  });

  it('a broker cut off and healed while the store fails: its peers keep their ids, nobody hears registration-lost, calls work again', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    const b = await broker(cluster, 'b');
    const { events } = await client(a.url, 'service');
    const { client: caller } = await client(b.url, 'caller');
    await eventually(() => b.stats().remotePeers === 1, 'b to know the service');
    const service = caller.peer('service').controller<BehaviorsController>('/behaviors');
    expect(await service.echo('before')).toBe('before');
    // Cut off for longer than the lease: b declares a dead and drops its claims.
    cluster.partition(cluster.node('a'));
    await eventually(() => b.stats().remotePeers === 0, 'b to declare a dead', 10_000);
    // Back while the store is electing a leader: the first claims and reads fail.
    cluster.failNext('create', { times: 4, store: 'claims' });
    cluster.failNext('update', { times: 4, store: 'claims' });
    cluster.failNext('get', { times: 4, store: 'claims' });
    cluster.heal(cluster.node('a'));
    await eventually(async () => (await service.echo('after').catch(() => undefined)) === 'after', 'calls to the service to work again', 15_000);
    expect(events.filter((e) => e.type === 'registration-lost')).toEqual([]);
    expect(await listed(a.url)).toEqual(['caller', 'service']);
    expect(await listed(b.url)).toEqual(['caller', 'service']);
  });
});

describe('a client never gives up an id on its own', () => {
  it('an id taken by another client is claimed again once it is free, and the client says so', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    const b = await broker(cluster, 'b');
    const { client: first, events } = await client(a.url, 'worker');
    // a is cut off: b takes it for dead and reserves its ids for their clients a while; then
    // the id is free, and another client takes it.
    cluster.partition(cluster.node('a'));
    await eventually(() => claimedIds(cluster).length === 0, "the dead broker's claims to be dropped once their reservation ended", 10_000);
    const { client: usurper } = await client(b.url, 'worker');
    cluster.heal(cluster.node('a'));
    await eventually(() => events.some((e) => e.type === 'registration-lost' && e.peerId === 'worker'), 'the first client to hear it lost the id', 10_000);
    // The usurper leaves: the first client takes the id back by itself.
    await usurper.disconnect();
    await eventually(() => events.some((e) => e.type === 'registration-restored' && e.peerId === 'worker'), 'the first client to take the id back', 15_000);
    const { client: caller } = await client(b.url);
    expect(await caller.peer('worker').controller<BehaviorsController>('/behaviors').echo('mine')).toBe('mine');
    expect(first.state.value).toBe('connected');
  });
});

describe('supervised watches', () => {
  it('a claims watch that ends (its stream leader died, the leases watch lives on) is followed anew: the directory learns what happened meanwhile', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    const b = await broker(cluster, 'b');
    await client(a.url, 'one');
    await eventually(() => b.stats().remotePeers === 1, 'b to know one');
    cluster.endWatches(cluster.node('b'), 'claims');
    await client(a.url, 'two');
    await eventually(() => b.stats().remotePeers === 2, 'b to learn of two through a new watch', 10_000);
  });

  it('a claims watch that stalls without a word (the leases watch lives on) is found by its probe and followed anew', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    const b = await broker(cluster, 'b');
    await client(a.url, 'one');
    await eventually(() => b.stats().remotePeers === 1, 'b to know one');
    cluster.stallWatches(cluster.node('b'), 'claims');
    await client(a.url, 'two');
    await eventually(() => b.stats().remotePeers === 2, 'b to notice its watch stalled and learn of two', 10_000);
  });
});

describe('a broker that crashes while calls flow', () => {
  it('no call that never ran fails: those sent to the dead broker are sent again, those it had are reported as may-have-run, none runs twice', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    const b = await broker(cluster, 'b');
    // The service reaches a through a proxy (so a "crash" cuts its socket too), and knows b.
    const proxy = await tcpProxy(a.port);
    const { client: serviceClient } = await client([proxy.url, b.url], 'service');
    const seen = new Map<string, number>();
    const counting = new (class extends BehaviorsController {
      override echo(text: string): string {
        seen.set(text, (seen.get(text) ?? 0) + 1);
        return text;
      }
    })();
    serviceClient.registerController('/behaviors', counting);
    const { client: caller } = await client(b.url);
    await eventually(() => b.stats().remotePeers === 1, 'b to know the service');
    const service = caller.peer('service').controller<BehaviorsController>('/behaviors', { timeoutMs: 10_000 });
    let crashed = false;
    const outcomes: (RpcError | string)[] = [];
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      if (i === 100) {
        crashed = true;
        cluster.partition(cluster.node('a'));
        proxy.cut();
      }
      calls.push(
        service.echo(`c${i}`).then(
          (value) => void outcomes.push(value),
          (error: unknown) => void outcomes.push(error as RpcError),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(calls);
    expect(crashed).toBe(true);
    const failures = outcomes.filter((o): o is RpcError => o instanceof RpcError);
    // Every failure is one that may have run (it was with the broker that died), never one that did not.
    expect(failures.filter((e) => !e.mayHaveRun).map((e) => e.message)).toEqual([]);
    expect(outcomes.length - failures.length).toBeGreaterThanOrEqual(280);
    expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
  });
});

describe('a drain', () => {
  it('a client that moves away from a drained broker is sent nothing more there once it said so: no call to it is cut off or lost, even while the broker has not heard where it went', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    const b = await broker(cluster, 'b');
    const seen = new Map<string, number>();
    const counting = new (class extends BehaviorsController {
      override echo(text: string): string {
        seen.set(text, (seen.get(text) ?? 0) + 1);
        return text;
      }
    })();
    const { client: serviceClient } = await client([a.url, b.url], 'service');
    serviceClient.registerController('/behaviors', counting);
    // The caller knows only a: it stays there while a drains.
    const { client: caller } = await client(a.url);
    const service = caller.peer('service').controller<BehaviorsController>('/behaviors', { timeoutMs: 20_000 });
    expect(await service.echo('before')).toBe('before');
    // a does not hear where the service goes until its probe finds the watch stalled.
    cluster.stallWatches(cluster.node('a'), 'claims');
    const outcomes: (RpcError | string)[] = [];
    const calls: Promise<void>[] = [];
    const draining = a.drain({ deadlineMs: 20_000 });
    // Calls until a second and a half after the service is on b (at most 4,000).
    let movedAt = Infinity;
    for (let i = 0; i < 4000 && Date.now() - movedAt < 1500; i++) {
      if (movedAt === Infinity && b.stats().peers === 1) movedAt = Date.now();
      calls.push(
        service.echo(`c${i}`).then(
          (value) => void outcomes.push(value),
          (error: unknown) => void outcomes.push(error as RpcError),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(calls);
    expect(movedAt).toBeLessThan(Infinity); // the service moved to b
    expect(outcomes.filter((o) => o instanceof RpcError).map((e) => `${(e as RpcError).code}: ${(e as RpcError).message}`)).toEqual([]);
    expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
    await caller.disconnect();
    await draining;
  });
});

describe('a bounded store', () => {
  it('10,000 distinct ids registered and released: the store forgets their deletions and holds the live ids (and the probes) only', async () => {
    const cluster = new MemoryCluster();
    const a = await broker(cluster, 'a');
    const b = await broker(cluster, 'b');
    const { client: keeper } = await client(b.url, 'keeper');
    const churners = await Promise.all(Array.from({ length: 10 }, () => client(a.url)));
    await Promise.all(
      churners.map(async ({ client: c }, n) => {
        for (let i = 0; i < 1000; i++) {
          const registration = await c.registerAsPeer(`churn-${n}-${i}`);
          await registration.deregister();
        }
      }),
    );
    expect(keeper.state.value).toBe('connected');
    expect(cluster.storedEntries('claims')).toBeGreaterThan(10_000);
    // Deletions older than two leases are forgotten every five leases. What stays: the live id,
    // one announcement per connection with controllers (11: the keeper and the churners, still
    // connected), one probe per broker (2).
    const bound = 1 + 11 + 2;
    await eventually(() => cluster.storedEntries('claims') <= bound, `the claims store to forget the deletions (down to ${bound} entries)`, 10 * LEASE_MS);
    expect(claimedIds(cluster)).toEqual(['keeper']);
  });
});
