/**
 * Brokers clustered over NATS, with real nats-server processes on loopback: peers on
 * different brokers call each other, ids are unique across the cluster, discovery and
 * presence are cluster-wide, and what callers see when a broker or NATS goes away.
 */
import { filter, firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient, type PresenceEvent } from '../runtime/index.node.js';
import { createBroker, type Broker, type BrokerOptions } from '../runtime/broker/index.js';
import '../.tmp/gen/behaviors/index.js';
import '../.tmp/gen/streams/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { Counters, StreamsController } from './fixtures/streams/streams.js';
import { eventually } from './support/harness.js';
import { startNatsServer } from './support/nats-server.js';
import { codeOf } from './support/rejection.js';
import { afterEach } from 'vitest';

const brokers: Broker[] = [];
const clients: RpcWebSocketClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

async function clusteredBroker(nats: string | string[], options: BrokerOptions = {}): Promise<Broker> {
  const broker = await createBroker({ port: 0, host: '127.0.0.1', cluster: { nats, leaseMs: 1000 }, ...options });
  brokers.push(broker);
  return broker;
}

async function client(broker: Broker, peerId?: string, options: ConstructorParameters<typeof RpcWebSocketClient>[1] = {}): Promise<RpcWebSocketClient> {
  const c = new RpcWebSocketClient(broker.url, options);
  clients.push(c);
  await c.connect();
  if (peerId) await c.registerAsPeer(peerId);
  return c;
}

/** Until `broker` has seen `peerId` registered elsewhere (the claim travels through NATS). */
function seen(broker: Broker, count: number): Promise<void> {
  return eventually(() => broker.stats().remotePeers === count, `${count} remote peers to be known to the broker`);
}

describe('the cluster option', () => {
  it('is checked, and a NATS that cannot be reached is a clear error at start, not a broker running alone', async () => {
    await expect(createBroker({ port: 0, cluster: { nats: 'nats://127.0.0.1:4222', name: 'no spaces' } })).rejects.toThrow("cluster.name 'no spaces' must be 1 to 32 letters");
    await expect(createBroker({ port: 0, cluster: { nats: [] } })).rejects.toThrow('cluster.nats must name at least one NATS server URL');
    const nats = await startNatsServer();
    await nats.stop();
    await expect(createBroker({ port: 0, host: '127.0.0.1', cluster: { nats: nats.url } })).rejects.toThrow(`cannot connect to NATS at ${nats.url}`);
  });
});

describe('brokers in a cluster', () => {
  it('a peer on broker A calls a peer on broker B; errors and timeouts are as on one broker', async () => {
    const nats = await startNatsServer();
    const [a, b] = await Promise.all([clusteredBroker(nats.url), clusteredBroker(nats.url)]);
    const callee = await client(b, 'callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await client(a, 'caller');
    await seen(a, 1);
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
    expect(await remote.identity(7)).toBe(7);
    expect(await remote.echo('over nats')).toBe('over nats');
    expect(await codeOf(caller.peer('nobody').controller<BehaviorsController>('/behaviors').identity(1))).toBe(RpcErrorCode.PEER_NOT_FOUND);
    expect(await codeOf(caller.peer('callee').controller<BehaviorsController>('/behaviors', { timeoutMs: 100 }).hang())).toBe(RpcErrorCode.TIMEOUT);
    expect(a.stats()).toMatchObject({ peers: 1, remotePeers: 1 });
  });
});
