/** The `cluster` option of createBroker, its defaults and its checks. */
import type { ClusterEngineFactory } from './cluster-engine.js';

export interface ClusterOptions {
  /** NATS server URL(s), e.g. 'nats://10.0.0.5:4222' or a list (the client tries them in turn). */
  nats?: string | string[];
  /**
   * Another engine than NATS (cluster-engine.ts): a function that connects it for one broker.
   * Experimental, for tests (the in-memory engine: runtime/broker/cluster/memory) and other
   * stores; give either `nats` or `engine`.
   */
  engine?: ClusterEngineFactory;
  /** Brokers with the same name form one cluster (a NATS subject token: letters, digits, - and _). Default 'p2pgen'. */
  name?: string;
  /**
   * How long a broker that stopped renewing its liveness is still trusted (ms): its peers' ids
   * become free and its callers' calls fail within about this long after it crashed. Default 5,000.
   */
  leaseMs?: number;
  /** JetStream replicas of the cluster's KV buckets: 1, or 3 (or 5) on a NATS cluster that should survive losing a node. Default 1. */
  replicas?: number;
  /**
   * How often (ms) a broker compares its load (open connections) with the cluster's average;
   * one well above it asks a few idle clients to move to the least loaded broker. Default
   * 10,000; 0 turns rebalancing off.
   */
  rebalanceIntervalMs?: number;
}

export const DEFAULT_REBALANCE_MS = 10_000;

export interface ClusterConfig {
  /** The NATS servers (empty with another engine). */
  readonly servers: string[];
  readonly engine: ClusterEngineFactory | undefined;
  readonly name: string;
  readonly leaseMs: number;
  readonly replicas: number;
  readonly rebalanceIntervalMs: number;
}

export const DEFAULT_LEASE_MS = 5_000;

export function clusterConfig(options: ClusterOptions): ClusterConfig {
  const servers = (Array.isArray(options.nats) ? options.nats : [options.nats]).filter((s): s is string => typeof s === 'string' && s.length > 0);
  const engine = options.engine;
  if (engine !== undefined && typeof engine !== 'function') throw new Error('createBroker: cluster.engine must be a function that connects an engine (cluster-engine.ts)');
  if (servers.length === 0 && !engine) throw new Error('createBroker: cluster.nats must name at least one NATS server URL (nats://host:port)');
  if (servers.length > 0 && engine) throw new Error('createBroker: give cluster.nats or cluster.engine, not both');
  const name = options.name ?? 'p2pgen';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new Error(`createBroker: cluster.name '${name}' must be 1 to 32 letters, digits, '-' or '_'`);
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(leaseMs) || leaseMs < 300) throw new Error(`createBroker: cluster.leaseMs must be an integer of at least 300 (ms), not ${String(leaseMs)}`);
  const replicas = options.replicas ?? 1;
  if (replicas !== 1 && replicas !== 3 && replicas !== 5) throw new Error(`createBroker: cluster.replicas must be 1, 3 or 5, not ${String(replicas)}`);
  const rebalanceIntervalMs = options.rebalanceIntervalMs ?? DEFAULT_REBALANCE_MS;
  if (!Number.isInteger(rebalanceIntervalMs) || rebalanceIntervalMs < 0) throw new Error(`createBroker: cluster.rebalanceIntervalMs must be a whole number of ms (0: off), not ${String(rebalanceIntervalMs)}`);
  return { servers, engine, name, leaseMs, replicas, rebalanceIntervalMs };
}
