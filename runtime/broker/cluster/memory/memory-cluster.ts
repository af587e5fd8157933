/**
 * An in-memory cluster engine (cluster-engine.ts), for tests: brokers in one process share a
 * MemoryCluster's stores and bus, so the clustering logic runs as it does over NATS, and a
 * test can inject the faults NATS brings on its own schedule:
 *
 * - `failNext(op, …)`: the next calls of a store operation fail (an error, or a timeout after a
 *   delay), as JetStream answers during a leader election;
 * - `endWatches()`: watches end by themselves (their consumer died with its server);
 * - `stallWatches()` / `resumeWatches()`: watches stop delivering without a word;
 * - `partition(node)` / `heal(node)`: a broker cut off from everything (its bus down, its
 *   store calls refused, its watches missing what happens meanwhile), then back.
 *
 *   const cluster = new MemoryCluster();
 *   const broker = await createBroker({ port: 0, cluster: { engine: cluster.engine('a'), leaseMs: 1000 } });
 *   cluster.partition(cluster.node('a'));
 *
 * Every store call and delivery takes at least one turn of the event loop, like a round trip.
 */
import { StoreConflict, type BusChannel, type BusEvents, type ClusterBus, type ClusterEngine, type ClusterEngineFactory, type KeyValueStore, type StoreEntry, type StoreWatch } from '../cluster-engine.js';
import { carriedRouteIds } from '../../../wire/group-frames.js';
import { NodeLiveness } from '../node-liveness.js';

export type StoreOperation = 'create' | 'update' | 'put' | 'delete' | 'get';

/** A fault for the next calls of an operation. */
export interface StoreFault {
  /** How many calls fail (default 1). */
  times?: number;
  /** 'error' rejects at once; 'timeout' rejects after `delayMs` (default 'error'). */
  kind?: 'error' | 'timeout';
  delayMs?: number;
  /** Only calls made by this broker (default: any). */
  node?: string;
  /** Only calls on this store (default: both). */
  store?: 'claims' | 'nodes';
}

/** An error the store answers when it cannot be asked (never a StoreConflict). */
export class StoreUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailable';
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Items handed on in order, a turn of the event loop after they were queued (all of one turn together). */
class TurnQueue<T> {
  private readonly items: T[] = [];
  private scheduled = false;
  private idle: (() => void)[] = [];

  constructor(private readonly handle: (item: T) => void) {}

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Resolves once everything queued so far was handed on. */
  drained(): Promise<void> {
    if (!this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private flush(): void {
    this.scheduled = false;
    for (const item of this.items.splice(0)) this.handle(item);
    for (const resolve of this.idle.splice(0)) resolve();
  }
}

interface Watcher {
  readonly node: string;
  readonly deliver: (entry: StoreEntry) => void;
  readonly end: () => void;
  stalled: boolean;
}

/** One store shared by every broker of the cluster: the truth the views ask. */
class SharedStore {
  readonly entries = new Map<string, StoreEntry>();
  /** When each deleted key was deleted (performance.now()). */
  readonly deletedAt = new Map<string, number>();
  readonly watchers = new Set<Watcher>();
  revision = 0;

  constructor(readonly name: 'claims' | 'nodes') {}

  write(key: string, value: Uint8Array | undefined): number {
    const entry: StoreEntry = { key, value: value?.slice(), revision: ++this.revision };
    this.entries.set(key, entry);
    if (value === undefined) this.deletedAt.set(key, performance.now());
    else this.deletedAt.delete(key);
    for (const watcher of this.watchers) if (!watcher.stalled) watcher.deliver(entry);
    return entry.revision;
  }
}

export class MemoryCluster {
  private readonly stores = { claims: new SharedStore('claims'), nodes: new SharedStore('nodes') };
  private readonly buses = new Map<string, MemoryBus>();
  private readonly faults: (StoreFault & { op: StoreOperation; left: number })[] = [];
  private readonly cutOff = new Set<string>();
  private readonly labels = new Map<string, string>();
  /** Frames handed between nodes, by frame type (what tests count: one GroupRequest per broker). */
  private readonly sentByType = new Map<number, number>();

  /** Frames of `type` handed from one node to another so far. */
  framesSent(type: number): number {
    return this.sentByType.get(type) ?? 0;
  }

  /** What createBroker's `cluster.engine` takes: each broker gets its own engine on this cluster (`label`: to find its node id with `node`). */
  engine(label?: string): ClusterEngineFactory {
    return async ({ nodeId, leaseMs }) => {
      if (label !== undefined) this.labels.set(label, nodeId);
      await turn();
      const bus = new MemoryBus(this, nodeId);
      this.buses.set(nodeId, bus);
      const engine: ClusterEngine = {
        nodeId,
        claims: new StoreView(this, this.stores.claims, nodeId),
        bus,
        liveness: new NodeLiveness(new StoreView(this, this.stores.nodes, nodeId), nodeId, leaseMs),
        description: { engine: 'memory' },
        close: async () => {
          this.buses.delete(nodeId);
          bus.closed = true;
        },
      };
      return engine;
    };
  }

  /** The node id of the broker whose engine was made with `label`. */
  node(label: string): string {
    const node = this.labels.get(label);
    if (node === undefined) throw new Error(`no broker joined with the engine labelled '${label}'`);
    return node;
  }

  /** The next calls of `op` fail (see StoreFault). */
  failNext(op: StoreOperation, fault: StoreFault = {}): void {
    this.faults.push({ ...fault, op, left: fault.times ?? 1 });
  }

  /** Every watch (of `node`, or of every broker; on `store`, or on both) ends by itself. */
  endWatches(node?: string, store?: 'claims' | 'nodes'): void {
    for (const watcher of this.watchers(node, store)) watcher.end();
  }

  /** Every watch (of `node`, or of every broker; on `store`, or on both) stops delivering, without a word. */
  stallWatches(node?: string, store?: 'claims' | 'nodes'): void {
    for (const watcher of this.watchers(node, store)) watcher.stalled = true;
  }

  /** Stalled watches deliver again (what happened meanwhile is not delivered). */
  resumeWatches(node?: string, store?: 'claims' | 'nodes'): void {
    for (const watcher of this.watchers(node, store)) watcher.stalled = false;
  }

  private watchers(node: string | undefined, store: 'claims' | 'nodes' | undefined): Watcher[] {
    const stores = store === undefined ? Object.values(this.stores) : [this.stores[store]];
    return stores.flatMap((s) => [...s.watchers]).filter((w) => node === undefined || w.node === node);
  }

  /** Cuts `node` off: its bus goes down, its store calls are refused, its watches miss everything until it heals. */
  partition(node: string): void {
    if (this.cutOff.has(node)) return;
    this.cutOff.add(node);
    this.stallWatches(node);
    this.buses.get(node)?.setUp(false);
  }

  /** `node` is back: its bus is up again (its watches still deliver nothing new: the broker must follow anew). */
  heal(node: string): void {
    if (!this.cutOff.delete(node)) return;
    this.buses.get(node)?.setUp(true);
  }

  /** The current entry of `key` in a store (for assertions). */
  entry(store: 'claims' | 'nodes', key: string): StoreEntry | undefined {
    return this.stores[store].entries.get(key);
  }

  /** Keys with a value in a store (for assertions). */
  keys(store: 'claims' | 'nodes'): string[] {
    return [...this.stores[store].entries.values()].filter((e) => e.value !== undefined).map((e) => e.key);
  }

  /** Entries a store keeps, deletions included (what a real store would hold as messages). */
  storedEntries(store: 'claims' | 'nodes'): number {
    return this.stores[store].entries.size;
  }

  isCutOff(node: string): boolean {
    return this.cutOff.has(node);
  }

  /**
   * Hands `frame` from one node's bus to another's. Lost when the sender is cut off; when the
   * receiver is cut off or gone, the sender hears its Requests never arrived (as NATS says
   * "no responders").
   */
  deliver(from: string, to: string, frame: Uint8Array): void {
    if (this.cutOff.has(from)) return;
    this.sentByType.set(frame[1]!, (this.sentByType.get(frame[1]!) ?? 0) + 1);
    const receiver = this.buses.get(to);
    if (this.cutOff.has(to) || !receiver || receiver.closed) return this.buses.get(from)?.undelivered(to, frame);
    receiver.receive(from, frame);
  }

  /** Runs `op` for `node` after a turn, unless a fault says otherwise. */
  async ask<T>(node: string, store: SharedStore, op: StoreOperation, run: () => T): Promise<T> {
    await turn();
    if (this.cutOff.has(node)) throw new StoreUnavailable(`${node} is cut off from the store`);
    const fault = this.faults.find((f) => f.op === op && f.left > 0 && (f.node === undefined || f.node === node) && (f.store === undefined || f.store === store.name));
    if (fault) {
      fault.left--;
      if (fault.kind === 'timeout') {
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 100));
        throw new StoreUnavailable(`${op} timed out (injected)`);
      }
      throw new StoreUnavailable(`${op} failed (injected)`);
    }
    return run();
  }
}

/** One broker's view of a shared store: its calls go through the cluster's faults. */
class StoreView implements KeyValueStore {
  constructor(
    private readonly cluster: MemoryCluster,
    private readonly store: SharedStore,
    private readonly node: string,
  ) {}

  create(key: string, value: Uint8Array): Promise<number> {
    return this.cluster.ask(this.node, this.store, 'create', () => {
      if (this.store.entries.get(key)?.value !== undefined) throw new StoreConflict(`${key} exists`);
      return this.store.write(key, value);
    });
  }

  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.cluster.ask(this.node, this.store, 'update', () => {
      if (this.store.entries.get(key)?.revision !== revision) throw new StoreConflict(`${key} is not at revision ${revision}`);
      return this.store.write(key, value);
    });
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return this.cluster.ask(this.node, this.store, 'put', () => this.store.write(key, value));
  }

  delete(key: string, revision?: number): Promise<void> {
    return this.cluster.ask(this.node, this.store, 'delete', () => {
      if (revision !== undefined && this.store.entries.get(key)?.revision !== revision) throw new StoreConflict(`${key} is not at revision ${revision}`);
      this.store.write(key, undefined);
    });
  }

  get(key: string): Promise<StoreEntry | undefined> {
    return this.cluster.ask(this.node, this.store, 'get', () => this.store.entries.get(key));
  }

  purgeDeleted(olderThanMs: number): Promise<void> {
    return this.cluster.ask(this.node, this.store, 'delete', () => {
      const before = performance.now() - olderThanMs;
      for (const [key, at] of this.store.deletedAt) {
        if (at > before) continue;
        this.store.deletedAt.delete(key);
        this.store.entries.delete(key);
      }
    });
  }

  watch(onEntry: (entry: StoreEntry) => void): StoreWatch {
    const store = this.store;
    let stopped = false;
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    // Deliveries keep their order and come a turn later, as messages from a server do.
    const deliveries = new TurnQueue<StoreEntry>((entry) => {
      if (!stopped && store.watchers.has(watcher)) onEntry(entry);
    });
    const watcher: Watcher = {
      node: this.node,
      stalled: false,
      deliver: (entry) => deliveries.push(entry),
      end: () => {
        store.watchers.delete(watcher);
        if (!stopped) markEnded();
      },
    };
    const ready = (async () => {
      await turn();
      if (this.cluster.isCutOff(this.node)) throw new StoreUnavailable(`${this.node} is cut off from the store`);
      if (stopped) return new Set<string>();
      const present = new Set<string>();
      const current = [...store.entries.values()].sort((a, b) => a.revision - b.revision);
      store.watchers.add(watcher);
      for (const entry of current) {
        if (entry.value !== undefined) present.add(entry.key);
        watcher.deliver(entry);
      }
      await deliveries.drained();
      return present;
    })();
    return {
      ready,
      ended,
      stop: () => {
        stopped = true;
        store.watchers.delete(watcher);
      },
    };
  }
}

/** One broker's end of the cluster's bus. */
class MemoryBus implements ClusterBus {
  private events: BusEvents | undefined;
  private isUp = true;
  closed = false;

  constructor(
    private readonly cluster: MemoryCluster,
    private readonly nodeId: string,
  ) {}

  get up(): boolean {
    return this.isUp && !this.closed;
  }

  start(events: BusEvents): void {
    this.events = events;
  }

  channelTo(node: string): BusChannel {
    // Frames to one node keep their order: each is copied now and handed over a turn later.
    const frames = new TurnQueue<Uint8Array>((frame) => this.cluster.deliver(this.nodeId, node, frame));
    return {
      send: (frame) => {
        if (!this.up) return false;
        frames.push(frame.slice());
        return true;
      },
    };
  }

  receive(from: string, frame: Uint8Array): void {
    if (!this.closed) this.events?.frame(from, frame);
  }

  undelivered(to: string, frame: Uint8Array): void {
    const carried = this.closed ? undefined : carriedRouteIds(frame);
    if (carried) this.events?.undelivered(to, carried);
  }

  setUp(up: boolean): void {
    if (this.isUp === up) return;
    this.isUp = up;
    this.events?.changed(up, 'memory');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
