/**
 * The NATS engine of a cluster (cluster-engine.ts): peer ids claimed in a JetStream KV bucket,
 * leases renewed in a second one (node-liveness.ts), frames between brokers over core NATS
 * (nats-bus.ts). Loaded only by brokers that join a NATS cluster: the NATS client libraries
 * are optional dependencies.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { ClusterEngine, ClusterEngineFactory } from '../cluster-engine.js';
import { NodeLiveness } from '../node-liveness.js';
import { NatsBus } from './nats-bus.js';
import { NatsKvStore } from './nats-kv-store.js';

/** How long a broker keeps trying to open the buckets of a NATS cluster that is still electing its JetStream leader. */
const OPEN_BUCKETS_MS = 20_000;

export function natsEngine(servers: string[], replicas: number): ClusterEngineFactory {
  return async ({ name, leaseMs, nodeId }): Promise<ClusterEngine> => {
    const bus = await NatsBus.connect(servers, name, nodeId, leaseMs);
    const kvm = new Kvm(bus.nc);
    const options = { replicas, history: 1 };
    const peersBucket = `p2pgen-${name}-peers`;
    const nodesBucket = `p2pgen-${name}-nodes`;
    const giveUpAt = Date.now() + OPEN_BUCKETS_MS;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
      try {
        const peers = await kvm.create(peersBucket, options);
        const nodes = await kvm.create(nodesBucket, options);
        const jsm = await jetstreamManager(bus.nc);
        return {
          nodeId,
          claims: new NatsKvStore(peers, peersBucket, jsm),
          bus,
          liveness: new NodeLiveness(new NatsKvStore(nodes, nodesBucket, jsm), nodeId, leaseMs),
          description: { nats: servers },
          close: () => bus.close(),
        };
      } catch (error) {
        if (Date.now() + wait < giveUpAt) {
          await new Promise((resolve) => setTimeout(resolve, wait));
          continue;
        }
        await bus.close();
        throw new Error(`createBroker: cannot open the cluster's NATS KV buckets (is JetStream on? nats-server -js): ${(error as Error).message}`, { cause: error });
      }
    }
  };
}
