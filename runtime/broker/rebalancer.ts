/**
 * Rebalancing a cluster: brokers tell each other their load (open connections) with their
 * leases; a broker well above the cluster's average asks a few idle clients to move (the
 * go-away of a drain, go-away.ts), toward the least loaded broker when its URL is in the
 * client's list. Slowly, to never cause a storm: at most MAX_MOVES_PER_ROUND per round, one
 * round per `intervalMs`, and only past a margin over the average. After a broker restarts
 * empty, the others hand it clients until the loads are even.
 */
import type { OpenConnections } from './open-connections.js';
import type { BrokerPart } from './part.js';
import type { ClusterView } from './peer-directory.js';
import type { GoAway } from './go-away.js';

/** Above the average by this factor (and by at least MIN_EXCESS connections) a broker hands clients on. */
const OVER_AVERAGE = 1.2;
const MIN_EXCESS = 2;
const MAX_MOVES_PER_ROUND = 10;
/** How long a moving client keeps its old connection for what still runs on it (ms). */
const MOVE_DEADLINE_MS = 10_000;

export class Rebalancer implements BrokerPart {
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly cluster: ClusterView | undefined,
    private readonly connections: OpenConnections,
    private readonly goAway: GoAway,
    url: () => string,
    intervalMs: number,
  ) {
    if (!cluster || intervalMs <= 0) return;
    cluster.advertise(() => ({ load: connections.size, url: url() }));
    this.timer = setInterval(() => this.round(), intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** One round: if this broker carries well over the average, a few idle clients are asked to move. */
  private round(): void {
    const others = [...this.cluster!.others()];
    if (others.length === 0) return;
    const load = this.connections.size;
    const average = (load + others.reduce((sum, o) => sum + o.load, 0)) / (others.length + 1);
    const excess = load - average;
    if (load <= average * OVER_AVERAGE || excess < MIN_EXCESS) return;
    const lightest = others.reduce((a, b) => (b.load < a.load ? b : a));
    let moves = Math.min(MAX_MOVES_PER_ROUND, Math.ceil(excess / 2));
    for (const connection of this.connections) {
      if (moves === 0) break;
      if (connection.state !== 'open' || connection.hasRoutes || this.goAway.told(connection)) continue;
      this.goAway.tell(connection, MOVE_DEADLINE_MS, 'rebalancing', lightest.url);
      moves--;
    }
  }
}
