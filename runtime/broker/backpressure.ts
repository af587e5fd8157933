/**
 * Back-pressure at the broker: when more than `highWaterMark` bytes wait to be written to an
 * endpoint, the endpoints feeding it are not read until it drains, so a slow reader cannot
 * make the broker buffer without bound. The one owner of each endpoint's `flow` state.
 */
import type { RouteEndpoint } from './route.js';

export interface FlowState {
  /** Endpoints paused because this one is backed up; resumed when it drains. */
  readonly feeders: Set<RouteEndpoint>;
  /** How many backed-up endpoints this one feeds (reading is paused while > 0). */
  pausedBy: number;
  awaitingDrain: boolean;
}

export class Backpressure {
  private paused = 0;

  constructor(private readonly highWaterMark: number) {}

  /** Sends `frame` from `from` to `to`; if `to` is backed up, stops reading `from` until `to` drains. */
  relay(from: RouteEndpoint, to: RouteEndpoint, frame: Uint8Array): void {
    to.send(frame);
    if (to.bufferedAmount > this.highWaterMark && to.isOpen) this.throttle(from, to);
  }

  /** Endpoints whose reading is paused right now. */
  get pausedEndpoints(): number {
    return this.paused;
  }

  /** `endpoint` is going away: whatever it held paused reads again. */
  release(endpoint: RouteEndpoint): void {
    this.resumeFeeders(endpoint);
    const flow = endpoint.flow;
    if (flow && flow.pausedBy > 0) {
      this.paused--;
      flow.pausedBy = 0;
    }
  }

  private throttle(from: RouteEndpoint, to: RouteEndpoint): void {
    if (from === to || !from.isOpen) return;
    const toFlow = (to.flow ??= newFlow());
    if (!toFlow.feeders.has(from)) {
      toFlow.feeders.add(from);
      const fromFlow = (from.flow ??= newFlow());
      if (fromFlow.pausedBy++ === 0) {
        this.paused++;
        from.pauseReading();
      }
    }
    if (!toFlow.awaitingDrain) {
      toFlow.awaitingDrain = true;
      to.onceDrained(() => {
        toFlow.awaitingDrain = false;
        this.resumeFeeders(to);
      });
    }
  }

  private resumeFeeders(to: RouteEndpoint): void {
    const flow = to.flow;
    if (!flow || flow.feeders.size === 0) return;
    for (const from of flow.feeders) {
      const fromFlow = from.flow!;
      if (fromFlow.pausedBy > 0 && --fromFlow.pausedBy === 0) {
        this.paused--;
        from.resumeReading();
      }
    }
    flow.feeders.clear();
  }
}

function newFlow(): FlowState {
  return { feeders: new Set(), pausedBy: 0, awaitingDrain: false };
}
