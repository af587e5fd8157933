/**
 * Graceful shutdown (`broker.drain()`). The broker stops taking connections (upgrades get 503,
 * /healthz answers 503 so load balancers send new clients elsewhere) and new calls (a Request
 * is answered UNAVAILABLE at once, router.ts); what is in flight carries on. Each connection is
 * closed with 1001 (going away) as soon as it has no call or stream open, as caller or as
 * callee, so idle clients move to another broker at once and busy ones right after their last
 * answer; at the deadline the rest are closed too. A client with a list of broker URLs
 * reconnects to the next one and registers again by itself.
 */
import type { BrokerConnection } from './connection.js';
import type { BrokerLog } from './logger.js';
import type { OpenConnections } from './open-connections.js';
import type { BrokerPart } from './part.js';
import type { Route, RouteEndpoint } from './route.js';

export interface DrainOptions {
  /** How long calls and streams in flight may take to finish (ms); then every connection is closed anyway. Default 10,000. */
  deadlineMs?: number;
}

export const DEFAULT_DRAIN_MS = 10_000;

export interface DrainContext {
  readonly connections: OpenConnections;
  readonly log: BrokerLog;
  /** Calls and streams in flight. */
  routes(): number;
  /** Closes one connection with 1001 (it has nothing open). */
  goAway(connection: BrokerConnection): void;
  /** Closes what is left, and the broker. */
  close(): Promise<void>;
}

/** A part (part.ts) from the start, doing nothing until `start`: then it hears each connection that closes. */
export class Drain implements BrokerPart {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private resolve: ((closed: Promise<void>) => void) | undefined;
  private finishing: Promise<void> | undefined;

  constructor(private readonly ctx: DrainContext) {}

  /** Starts draining; resolves once it closed the broker. */
  start(deadlineMs: number): Promise<void> {
    const { ctx } = this;
    ctx.log.info({ connections: ctx.connections.size, calls: ctx.routes(), deadlineMs }, 'draining: no new connections or calls; connections close as their calls end');
    for (const connection of [...ctx.connections]) if (!connection.hasRoutes) ctx.goAway(connection);
    if (ctx.connections.size === 0) return this.finish(false);
    return new Promise((resolve) => {
      this.timer = setTimeout(() => resolve(this.finish(true)), deadlineMs);
      this.resolve = resolve;
    });
  }

  /** The broker is closing anyway (close() during the drain): the deadline no longer matters. */
  stop(): void {
    clearTimeout(this.timer);
  }

  /**
   * A route ended: its caller and callee go away once they have nothing else open. Later, not
   * now: the route's last frame is sent after the router says it ended.
   */
  routeEnded(route: Route): void {
    queueMicrotask(() => {
      this.leaveIfIdle(route.caller);
      this.leaveIfIdle(route.callee);
    });
  }

  /** A connection closed (went away, or was closed by the drain): the last one ends a drain under way. */
  connectionClosed(): void {
    const resolve = this.resolve;
    if (this.ctx.connections.size === 0 && resolve) queueMicrotask(() => resolve(this.finish(false)));
  }

  private leaveIfIdle(endpoint: RouteEndpoint): void {
    const connection = endpoint as BrokerConnection;
    if (this.ctx.connections.has(connection) && !connection.hasRoutes) this.ctx.goAway(connection);
  }

  private finish(deadlinePassed: boolean): Promise<void> {
    if (!this.finishing) {
      clearTimeout(this.timer);
      const { ctx } = this;
      if (deadlinePassed) ctx.log.warn({ connections: ctx.connections.size, calls: ctx.routes() }, 'drain deadline passed: closing the connections whose calls are still open');
      this.finishing = ctx.close();
    }
    return this.finishing;
  }
}
