/**
 * Back-pressure at the broker, per connection. What a connection is sent comes from its own
 * doing: answers to its requests, items of streams it granted credit to, calls to the ids it
 * registered, replies of the broker to what it asked. So when more than `highWaterMark` bytes
 * wait to be written to a connection, the broker stops reading from that connection (it makes
 * no new requests and grants no credit) until the bytes drain; nobody else is paused, so a
 * slow reader cannot freeze a callee that others share. A connection whose waiting bytes pass
 * `maxBufferedBytes` even so is closed as a slow reader (close code 4001): what the broker
 * holds for one connection is bounded. Frames the broker makes itself (errors, control
 * replies, presence events) count the same as forwarded ones: every send to a connection
 * (BrokerConnection.send) ends in `backedUp` when it leaves too much waiting. A connection is
 * also not read while too many of its own frames are held for security decisions (access.ts).
 *
 * The one owner of each connection's flow state (in its `flowOf` slot).
 */
import { BrokerConnection, type WriteWatcher } from './connection.js';
import type { BrokerPart } from './part.js';
import type { RouteEndpoint } from './route.js';
import { Slot } from './slot.js';

interface FlowState {
  /** Too many bytes wait to be written to it: not read until they drain. */
  backedUp: boolean;
  /** Too many of its frames are held for security decisions (access.ts): not read until they are in. */
  holding: boolean;
  /** A close as slow reader is scheduled. */
  closing: boolean;
}

const flowOf = new Slot<FlowState>();

export interface BackpressureStats {
  /** Connections not being read because too many bytes wait to be written to them. */
  pausedConnections: number;
}

export class Backpressure implements WriteWatcher, BrokerPart {
  private paused = 0;

  constructor(
    readonly highWaterMark: number,
    readonly maxBufferedBytes: number,
    /** Closes a connection whose buffered bytes passed the hard cap (called outside any send). */
    private readonly closeSlowReader: (connection: BrokerConnection, buffered: number) => void,
  ) {}

  /** Something was just sent to `connection`, which now buffers `buffered` bytes (over the high-water mark). */
  backedUp(connection: BrokerConnection, buffered: number): void {
    if (!connection.isOpen) return;
    const flow = stateOf(connection);
    if (buffered > this.maxBufferedBytes && !flow.closing) {
      flow.closing = true;
      // Not from inside the send: the caller may be in the middle of walking route tables.
      queueMicrotask(() => this.closeSlowReader(connection, buffered));
    }
    if (flow.backedUp) return;
    flow.backedUp = true;
    this.update(connection, flow, true);
    connection.onceDrained(() => {
      if (!flow.backedUp) return;
      flow.backedUp = false;
      this.update(connection, flow, false);
    });
  }

  /** Frames of `caller` held for security decisions passed the bound (`true`), or were let go (only connections are paused). */
  holding(caller: RouteEndpoint, holding: boolean): void {
    if (!(caller instanceof BrokerConnection) || !caller.isOpen) return;
    const flow = stateOf(caller);
    if (flow.holding === holding) return;
    flow.holding = holding;
    this.update(caller, flow, holding);
  }

  stats(): BackpressureStats {
    return { pausedConnections: this.paused };
  }

  /** `connection` is going away. */
  connectionClosed(connection: BrokerConnection): void {
    const flow = flowOf.get(connection);
    if (flow && (flow.backedUp || flow.holding)) this.paused--;
    flowOf.set(connection, undefined);
  }

  /** One reason to pause came (`on`) or went: reading stops with the first and restarts after the last. */
  private update(connection: BrokerConnection, flow: FlowState, on: boolean): void {
    const reasons = (flow.backedUp ? 1 : 0) + (flow.holding ? 1 : 0);
    if (on && reasons === 1) {
      this.paused++;
      connection.pauseReading();
    } else if (!on && reasons === 0) {
      this.paused--;
      connection.resumeReading();
    }
  }
}

function stateOf(connection: BrokerConnection): FlowState {
  let flow = flowOf.get(connection);
  if (!flow) flowOf.set(connection, (flow = { backedUp: false, holding: false, closing: false }));
  return flow;
}
