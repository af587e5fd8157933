/**
 * The seam between the clustering logic and what carries it. The logic (cluster-directory.ts,
 * peer-claims.ts, node-liveness.ts) is written once against three small interfaces:
 *
 * - a **key-value store** with create, compare-and-set, delete and watch, where peer ids are
 *   claimed (and, in a second store, brokers renew their leases);
 * - a **bus** between brokers, carrying frames to a broker by its node id;
 * - **liveness**: which brokers are alive, from their leases.
 *
 * An engine provides them: NATS JetStream KV and core NATS (nats/), or memory, for tests,
 * with faults to inject (memory/). Another engine (Redis, etcd) is another folder.
 *
 * Every method may fail. A store's answer "no" (the key exists, the revision moved on) is a
 * `StoreConflict`; anything else thrown means the store could not be asked (it is down,
 * electing a leader, timed out), never that the answer is no.
 */

/** One value of a key, or its deletion (`value` undefined), at a revision. */
export interface StoreEntry {
  readonly key: string;
  /** Undefined: the key was deleted. */
  readonly value: Uint8Array | undefined;
  /** Grows with every write to the store; a compare-and-set names the revision it expects. */
  readonly revision: number;
}

/** The store's answer is no: the key exists (create), or is not at the expected revision (update, delete). */
export class StoreConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflict';
  }
}

export interface StoreWatch {
  /** Resolves once the current values were handed over, with the keys that had one. */
  readonly ready: Promise<Set<string>>;
  /** Resolves when the watch ended by itself (its server went away, it failed); not after `stop`. */
  readonly ended: Promise<void>;
  stop(): void;
}

export interface KeyValueStore {
  /** Writes `value` if the key has none (never written, or deleted): its revision. StoreConflict if it has one. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Compare-and-set: writes `value` if the key is at `revision`. StoreConflict if it is not. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Writes `value` whatever the key holds. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Deletes the key; with `revision`, only if it is still at it (StoreConflict if not). */
  delete(key: string, revision?: number): Promise<void>;
  /** The key's last entry (a deletion has no value), undefined if it was never written. */
  get(key: string): Promise<StoreEntry | undefined>;
  /** Every key's current entry, then each change as it happens (this node's own writes too), in revision order. */
  watch(onEntry: (entry: StoreEntry) => void): StoreWatch;
  /**
   * Forgets deletions older than `olderThanMs` (a store keeps one per key deleted, so a store of
   * many short-lived ids grows without it). A key written again since is left alone.
   */
  purgeDeleted(olderThanMs: number): Promise<void>;
}

export interface BusEvents {
  /** A frame from another node. The bytes may be a view of a read buffer: use them now. */
  frame(fromNode: string, frame: Uint8Array): void;
  /** The connection under the bus went down or came back (`server`: which one it lost or reached). */
  changed(up: boolean, server: string | undefined): void;
  /**
   * Requests sent to `node` (by the route ids they carried) certainly never reached it (its
   * broker is gone): their callers may send them again. Engines that cannot tell never call it.
   */
  undelivered(node: string, routeIds: readonly number[]): void;
  /** Something about the engine an operator should hear of: for the log. */
  notice(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void;
}

/** Frames to one node, in order. */
export interface BusChannel {
  /** Sends `frame` (synchronous, never awaits; the bytes may be reused once it returns); false, and nothing sent, while the bus is down. */
  send(frame: Uint8Array): boolean;
}

export interface ClusterBus {
  /** Whether frames can be sent now. */
  readonly up: boolean;
  /** Starts receiving frames for this node and telling of the connection's state. */
  start(events: BusEvents): void;
  /** A channel to `node` (made once per node: sending on it does no per-frame lookups). */
  channelTo(node: string): BusChannel;
  /** Sends what is buffered, then closes. */
  close(): Promise<void>;
}

export interface LivenessEvents {
  /** `node` is gone: shut down, crashed or cut off for longer than the lease. */
  died(node: string): void;
  /** `node` renewed again after it had been declared dead (it was only slow or cut off). */
  revived(node: string): void;
  /** This broker's watches stopped delivering: they are being started anew. */
  stalled(): void;
}

/** What a broker says about itself with its lease (for rebalancing). */
export interface NodeInfo {
  /** Its open client connections. */
  readonly load: number;
  /** Where clients reach it (its own URL, as it listens). */
  readonly url?: string;
}

/** Which brokers are alive (node-liveness.ts: leases renewed in a store). */
export interface Liveness {
  /** What this broker says about itself from now on, with each renewal. */
  advertise(info: () => NodeInfo): void;
  /** What each other broker alive said about itself last. */
  nodes(): ReadonlyMap<string, NodeInfo>;
  /** Starts renewing this node's lease; resolves once the nodes alive now are known. */
  start(events: LivenessEvents): Promise<void>;
  /** Follows the others anew (after a reconnect, or a stall); everyone gets a fresh lease. */
  follow(): Promise<void>;
  isAlive(node: string): boolean;
  /** A claim or a frame from `node` arrived: a node not heard of yet gets a lease from now. False when it was declared dead. */
  heardFrom(node: string): boolean;
  /** Whether `node` is known to be gone (declared dead, or without a lease); a node not heard of yet is looked up. */
  isGone(node: string): Promise<boolean>;
  /** This node's connection went down or came back. */
  connectionChanged(up: boolean): void;
  /** Stops renewing and withdraws this node's lease, so the others know at once. */
  stop(): Promise<void>;
}

/** A connected engine: what one broker of a cluster uses. */
export interface ClusterEngine {
  /** This broker's node id (unique in the cluster). */
  readonly nodeId: string;
  /** Where peer ids are claimed. */
  readonly claims: KeyValueStore;
  readonly bus: ClusterBus;
  readonly liveness: Liveness;
  /** What to say in the log about where it is connected (e.g. `{ nats: [...] }`). */
  readonly description: Record<string, unknown>;
  /** Closes what the engine opened (after the directory stopped using it). */
  close(): Promise<void>;
}

/** What an engine is told when a broker joins a cluster. */
export interface EngineSettings {
  /** The cluster's name (brokers with the same name form one cluster). */
  readonly name: string;
  readonly leaseMs: number;
  /** A fresh node id for this broker. */
  readonly nodeId: string;
}

/** Connects an engine for one broker. */
export type ClusterEngineFactory = (settings: EngineSettings) => Promise<ClusterEngine>;
