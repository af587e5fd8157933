/**
 * Another broker of the cluster, as the router sees it: an endpoint whose frames travel over
 * the cluster's bus (cluster-engine.ts). It has no session (the broker of each caller made the
 * security decisions) and holds no peer ids of this broker. It is open while the bus is up and
 * the other broker is alive. Reading from it is never paused: what flows through it is bounded
 * by the streams' credit and by the callers' own brokers' limits, and back-pressure acts on the
 * client connections at either end (backpressure.ts).
 */
import type { Route, RouteEndpoint, RouteTarget } from '../route.js';
import { slotCount } from '../slot.js';
import type { BusChannel, ClusterBus } from './cluster-engine.js';

const none: ReadonlySet<RouteTarget> = new Set();

export class BrokerLink implements RouteEndpoint {
  readonly session = undefined;
  readonly registrations = none;
  readonly remoteAddress: string;
  readonly outgoing = new Map<number, Route>();
  readonly incoming = new Map<number, Route>();
  readonly slots: unknown[] = new Array(slotCount());
  /** False once the other broker is known to be gone. */
  alive = true;
  private readonly channel: BusChannel;

  constructor(
    readonly handle: number,
    readonly node: string,
    private readonly bus: ClusterBus,
  ) {
    this.remoteAddress = `cluster:${node}`;
    this.channel = bus.channelTo(node);
  }

  get isOpen(): boolean {
    return this.alive && this.bus.up;
  }

  get hasRoutes(): boolean {
    return this.outgoing.size + this.incoming.size > 0;
  }

  send(frame: Uint8Array): void {
    if (this.alive) this.channel.send(frame);
  }
}
