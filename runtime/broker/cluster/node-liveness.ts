/**
 * Which brokers of the cluster are alive (the Liveness of cluster-engine.ts, for engines whose
 * store has no leases of its own). Each broker renews one key of its own in a store every lease/3 (the cost does not grow with its number of peers) and watches the
 * bucket. A broker whose key was deleted (it shut down) is gone at once; one whose key has
 * not been renewed for a lease (it crashed, or lost NATS) is declared dead. Times are this
 * process's own clock when an update arrived, never compared across machines. While this
 * broker's own NATS connection is down it declares nobody dead (it cannot tell), and after
 * it comes back everyone gets a fresh lease to renew in.
 *
 * A broker sees its own renewals come back through its watch. When they stop coming while
 * it is connected, its watch has stalled (its consumer lived on a NATS server that went
 * away): it declares nobody dead, says so (`stalled`), and follows the bucket anew.
 */
import type { KeyValueStore, Liveness, LivenessEvents, NodeInfo, StoreWatch } from './cluster-engine.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const quiet: LivenessEvents = { died: () => undefined, revived: () => undefined, stalled: () => undefined };

export class NodeLiveness implements Liveness {
  private readonly lastSeen = new Map<string, number>();
  /** Nodes this one declared dead (not shut down): if they renew again, they are revived. */
  private readonly declaredDead = new Set<string>();
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private watch: StoreWatch | undefined;
  private events: LivenessEvents = quiet;
  private info: () => NodeInfo = () => ({ load: 0 });
  /** What each other node said with its last renewal. */
  private readonly infos = new Map<string, NodeInfo>();
  /** When this node last saw its own renewal come back. */
  private ownEcho = Date.now();
  private checkTimer: ReturnType<typeof setInterval> | undefined;
  private purgeTimer: ReturnType<typeof setInterval> | undefined;
  private connected = true;
  private stopped = false;

  constructor(
    private readonly store: KeyValueStore,
    private readonly nodeId: string,
    private readonly leaseMs: number,
  ) {}

  /** Renews this node's key, and resolves once the nodes alive now are known. */
  async start(events: LivenessEvents): Promise<void> {
    this.events = events;
    await this.renew();
    await this.follow();
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    this.checkTimer = setInterval(() => this.check(), Math.max(50, Math.floor(this.leaseMs / 4)));
    this.checkTimer.unref();
    // Every broker that ever ran left a deleted key: forgotten after two leases.
    this.purgeTimer = setInterval(() => void this.store.purgeDeleted(2 * this.leaseMs).catch(() => undefined), 5 * this.leaseMs);
    this.purgeTimer.unref();
  }

  /** Follows the nodes bucket (anew: a stalled watch is dropped); everyone gets a fresh lease. */
  async follow(): Promise<void> {
    this.watch?.stop();
    const now = Date.now();
    this.ownEcho = now;
    for (const node of this.lastSeen.keys()) this.lastSeen.set(node, now);
    const watch = this.store.watch((entry) => {
      if (entry.key === this.nodeId) {
        this.ownEcho = Date.now();
        return;
      }
      if (entry.value !== undefined) {
        const known = this.lastSeen.has(entry.key);
        this.lastSeen.set(entry.key, Date.now());
        this.infos.set(entry.key, readInfo(entry.value));
        if (!known && this.declaredDead.delete(entry.key)) this.events.revived(entry.key);
      } else {
        this.infos.delete(entry.key);
        if (this.lastSeen.delete(entry.key)) this.events.died(entry.key);
      }
    });
    this.watch = watch;
    // A watch that ends by itself is a stalled one, said at once.
    void watch.ended.then(() => {
      if (this.watch === watch && !this.stopped) this.events.stalled();
    });
    await watch.ready;
  }

  advertise(info: () => NodeInfo): void {
    this.info = info;
  }

  nodes(): ReadonlyMap<string, NodeInfo> {
    for (const node of this.infos.keys()) if (!this.lastSeen.has(node)) this.infos.delete(node);
    return this.infos;
  }

  isAlive(node: string): boolean {
    return node === this.nodeId || this.lastSeen.has(node);
  }

  /**
   * A claim or a frame from `node` arrived: a node not heard of yet (it just started, its
   * renewal is on the way) gets a lease from now. False when it was declared dead.
   */
  heardFrom(node: string): boolean {
    if (this.isAlive(node)) return true;
    if (this.declaredDead.has(node)) return false;
    this.lastSeen.set(node, Date.now());
    return true;
  }

  /**
   * Whether `node` is known to be gone: declared dead, or without a key in the bucket. A node
   * this one has not heard of yet (it just started) is looked up, not taken for dead: taking
   * over its claims would give one id two holders.
   */
  async isGone(node: string): Promise<boolean> {
    if (this.isAlive(node)) return false;
    if (this.declaredDead.has(node)) return true;
    const entry = await this.store.get(node);
    if (entry?.value === undefined) return true;
    if (!this.lastSeen.has(node)) this.lastSeen.set(node, Date.now());
    return false;
  }

  /** This node's NATS connection went down or came back. */
  connectionChanged(up: boolean): void {
    this.connected = up;
    if (!up) return;
    const now = Date.now();
    this.ownEcho = now;
    for (const node of this.lastSeen.keys()) this.lastSeen.set(node, now);
    void this.renew();
  }

  /** Stops renewing and deletes this node's key, so the others know at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearInterval(this.checkTimer);
    clearInterval(this.purgeTimer);
    this.watch?.stop();
    await this.store.delete(this.nodeId).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.connected) return;
    try {
      await this.store.put(this.nodeId, encoder.encode(JSON.stringify({ leaseMs: this.leaseMs, ...this.info() })));
    } catch {
      // NATS is down or slow: the next renewal tries again; the others give us a lease.
    }
  }

  private check(): void {
    if (!this.connected || this.stopped) return;
    const deadline = Date.now() - this.leaseMs;
    if (this.ownEcho < deadline) {
      // Our own renewals stopped coming back: it is our watch that is stuck, not the others.
      this.ownEcho = Date.now();
      this.events.stalled();
      return;
    }
    for (const [node, seen] of this.lastSeen) {
      if (seen >= deadline) continue;
      this.lastSeen.delete(node);
      this.declaredDead.add(node);
      this.events.died(node);
      // Whoever notices first tidies up; the key comes back if the node was only slow.
      void this.store.delete(node).catch(() => undefined);
    }
  }
}

function readInfo(value: Uint8Array): NodeInfo {
  try {
    const info = JSON.parse(decoder.decode(value)) as Partial<NodeInfo>;
    return { load: typeof info.load === 'number' && info.load >= 0 ? info.load : 0, ...(typeof info.url === 'string' ? { url: info.url } : {}) };
  } catch {
    return { load: 0 };
  }
}
