/** The `cluster` option of createBroker, its defaults and its checks. */

export interface ClusterOptions {
  /** NATS server URL(s), e.g. 'nats://10.0.0.5:4222' or a list (the client tries them in turn). */
  nats: string | string[];
  /** Brokers with the same name form one cluster (a NATS subject token: letters, digits, - and _). Default 'p2pgen'. */
  name?: string;
  /**
   * How long a broker that stopped renewing its liveness is still trusted (ms): its peers' ids
   * become free and its callers' calls fail within about this long after it crashed. Default 5,000.
   */
  leaseMs?: number;
  /** JetStream replicas of the cluster's KV buckets: 1, or 3 (or 5) on a NATS cluster that should survive losing a node. Default 1. */
  replicas?: number;
}

export interface ClusterConfig {
  readonly servers: string[];
  readonly name: string;
  readonly leaseMs: number;
  readonly replicas: number;
}

export const DEFAULT_LEASE_MS = 5_000;

export function clusterConfig(options: ClusterOptions): ClusterConfig {
  const servers = (Array.isArray(options.nats) ? options.nats : [options.nats]).filter((s) => typeof s === 'string' && s.length > 0);
  if (servers.length === 0) throw new Error('createBroker: cluster.nats must name at least one NATS server URL (nats://host:port)');
  const name = options.name ?? 'p2pgen';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new Error(`createBroker: cluster.name '${name}' must be 1 to 32 letters, digits, '-' or '_'`);
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < 300) throw new Error(`createBroker: cluster.leaseMs must be an integer of at least 300 (ms), not ${String(leaseMs)}`);
  const replicas = options.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3 && replicas !== 5) throw new Error(`createBroker: cluster.replicas must be 1, 3 or 5, not ${String(replicas)}`);
  return { servers, name, leaseMs, replicas };
}
