/**
 * Graceful shutdown (`broker.drain()`), refusing nothing. The broker stops taking connections
 * (upgrades get 503, /healthz answers 503 so load balancers send new clients elsewhere) and
 * tells every connection to go away (go-away.ts): a client that knows other brokers moves to
 * one first (its ids and new calls go there), then closes this connection once what runs on
 * it ended. Meanwhile calls keep being forwarded, to and from every connection still here.
 * A connection that did not leave by itself is closed with 1001 (going away) once it has no
 * call or stream open, after a short grace (clients that move leave in that time, without a
 * call caught in flight); at the deadline the rest are closed too. A client with a list of
 * broker URLs that did not move reconnects to the next one and registers again by itself.
 */
import type { BrokerConnection } from './connection.js';
import type { GoAway } from './go-away.js';
import type { BrokerLog } from './logger.js';
import type { OpenConnections } from './open-connections.js';
import type { BrokerPart } from './part.js';
import type { Route, RouteEndpoint } from './route.js';

export interface DrainOptions {
  /** How long calls and streams in flight may take to finish (ms); then every connection is closed anyway. Default 10,000. */
  deadlineMs?: number;
}

export const DEFAULT_DRAIN_MS = 10_000;
/** How long clients told to go away have to leave by themselves before idle connections are closed (ms; at most a quarter of the deadline). */
const LEAVE_GRACE_MS = 2_000;
/**
 * How long a connection stays busy after a call of it was refused because its target is moving
 * (ms): its client sends the call again within a second (client retries wait at most 1 s), and
 * a connection closed meanwhile would leave that call waiting for a broker that is gone.
 */
const RESEND_WINDOW_MS = 1_500;

export interface DrainContext {
  readonly connections: OpenConnections;
  readonly goAway: GoAway;
  readonly log: BrokerLog;
  /** Calls and streams in flight. */
  routes(): number;
  /** Closes one connection with 1001 (it has nothing open). */
  close(connection: BrokerConnection): void;
  /** Closes what is left, and the broker. */
  closeBroker(): Promise<void>;
}

/** A part (part.ts) from the start, doing nothing until `start`: then it hears each route that ends and each connection that closes. */
export class Drain implements BrokerPart {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Idle connections are closed from now on (after the grace). */
  private closingIdle = false;
  private resolve: ((closed: Promise<void>) => void) | undefined;
  private finishing: Promise<void> | undefined;
  /** When each connection last had a call refused because its target is moving. */
  private readonly resending = new WeakMap<RouteEndpoint, number>();
  /** Timers looking again at connections that were busy sending calls again. */
  private readonly rechecks = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly ctx: DrainContext) {}

  /** Starts draining; resolves once it closed the broker. */
  start(deadlineMs: number): Promise<void> {
    const { ctx } = this;
    ctx.log.info({ connections: ctx.connections.size, calls: ctx.routes(), deadlineMs }, 'draining: no new connections; clients told to go away; calls carry on');
    for (const connection of [...ctx.connections]) ctx.goAway.tell(connection, deadlineMs, 'broker draining');
    if (ctx.connections.size === 0) return this.finish(false);
    this.graceTimer = setTimeout(() => this.closeIdle(), Math.min(LEAVE_GRACE_MS, deadlineMs / 4));
    return new Promise((resolve) => {
      this.timer = setTimeout(() => resolve(this.finish(true)), deadlineMs);
      this.resolve = resolve;
    });
  }

  /** The broker is closing anyway (close() during the drain): the deadline no longer matters. */
  stop(): void {
    clearTimeout(this.timer);
    clearTimeout(this.graceTimer);
    for (const recheck of this.rechecks) clearTimeout(recheck);
  }

  /**
   * A route ended: its caller and callee go away once they have nothing else open (after the
   * grace). Later, not now: the route's last frame is sent after the router says it ended.
   */
  routeEnded(route: Route): void {
    if (!this.closingIdle) return;
    queueMicrotask(() => {
      this.leaveIfIdle(route.caller);
      this.leaveIfIdle(route.callee);
    });
  }

  /** A call of `caller` was refused because its target is moving: its client sends it again soon. */
  callRefusedAsMoving(caller: RouteEndpoint): void {
    this.resending.set(caller, Date.now());
  }

  /** A connection closed (left, or was closed by the drain): the last one ends a drain under way. */
  connectionClosed(): void {
    const resolve = this.resolve;
    if (this.ctx.connections.size === 0 && resolve) queueMicrotask(() => resolve(this.finish(false)));
  }

  private closeIdle(): void {
    this.closingIdle = true;
    for (const connection of [...this.ctx.connections]) this.leaveIfIdle(connection);
  }

  private leaveIfIdle(endpoint: RouteEndpoint): void {
    const connection = endpoint as BrokerConnection;
    if (!this.ctx.connections.has(connection) || connection.hasRoutes) return;
    const since = Date.now() - (this.resending.get(connection) ?? -Infinity);
    if (since >= RESEND_WINDOW_MS) return this.ctx.close(connection);
    const recheck = setTimeout(() => {
      this.rechecks.delete(recheck);
      this.leaveIfIdle(connection);
    }, RESEND_WINDOW_MS - since);
    this.rechecks.add(recheck);
  }

  private finish(deadlinePassed: boolean): Promise<void> {
    if (!this.finishing) {
      clearTimeout(this.timer);
      clearTimeout(this.graceTimer);
      for (const recheck of this.rechecks) clearTimeout(recheck);
      const { ctx } = this;
      if (deadlinePassed) ctx.log.warn({ connections: ctx.connections.size, calls: ctx.routes() }, 'drain deadline passed: closing the connections whose calls are still open');
      this.finishing = ctx.closeBroker();
    }
    return this.finishing;
  }
}
