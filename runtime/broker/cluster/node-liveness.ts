/**
 * Which brokers of the cluster are alive. Each broker renews one key of its own in a KV
 * bucket every lease/3 (the cost does not grow with its number of peers) and watches the
 * bucket. A broker whose key was deleted (it shut down) is gone at once; one whose key has
 * not been renewed for a lease (it crashed, or lost NATS) is declared dead. Times are this
 * process's own clock when an update arrived, never compared across machines. While this
 * broker's own NATS connection is down it declares nobody dead (it cannot tell), and after
 * it comes back everyone gets a fresh lease to renew in.
 */
import type { KV } from '@nats-io/kv';
import { followBucket } from './kv-watch.js';

export interface LivenessEvents {
  /** `node` is gone: shut down, crashed or cut off for longer than the lease. */
  died(node: string): void;
}

export class NodeLiveness {
  private readonly lastSeen = new Map<string, number>();
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private checkTimer: ReturnType<typeof setInterval> | undefined;
  private connected = true;
  private stopped = false;

  constructor(
    private readonly kv: KV,
    private readonly nodeId: string,
    private readonly leaseMs: number,
    private readonly events: LivenessEvents,
  ) {}

  /** Renews this node's key, and resolves once the nodes alive now are known. */
  async start(): Promise<void> {
    await this.renew();
    await followBucket(this.kv, (entry) => {
      if (entry.key === this.nodeId) return;
      if (entry.operation === 'PUT') this.lastSeen.set(entry.key, Date.now());
      else if (this.lastSeen.delete(entry.key)) this.events.died(entry.key);
    });
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    this.checkTimer = setInterval(() => this.check(), Math.max(50, Math.floor(this.leaseMs / 4)));
    this.checkTimer.unref();
  }

  isAlive(node: string): boolean {
    return node === this.nodeId || this.lastSeen.has(node);
  }

  /** This node's NATS connection went down or came back. */
  connectionChanged(up: boolean): void {
    this.connected = up;
    if (!up) return;
    const now = Date.now();
    for (const node of this.lastSeen.keys()) this.lastSeen.set(node, now);
    void this.renew();
  }

  /** Stops renewing and deletes this node's key, so the others know at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearInterval(this.checkTimer);
    await this.kv.delete(this.nodeId).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.connected) return;
    try {
      await this.kv.put(this.nodeId, JSON.stringify({ leaseMs: this.leaseMs }));
    } catch {
      // NATS is down or slow: the next renewal tries again; the others give us a lease.
    }
  }

  private check(): void {
    if (!this.connected || this.stopped) return;
    const deadline = Date.now() - this.leaseMs;
    for (const [node, seen] of this.lastSeen) {
      if (seen >= deadline) continue;
      this.lastSeen.delete(node);
      this.events.died(node);
      // Whoever notices first tidies up; the key comes back if the node was only slow.
      void this.kv.delete(node).catch(() => undefined);
    }
  }
}
