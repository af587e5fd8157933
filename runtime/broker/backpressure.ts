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
 * The one owner of each connection's `flow` state.
 */

/** What back-pressure needs of a connection. */
export interface Throttled {
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
  pauseReading(): void;
  resumeReading(): void;
  /** Calls `callback` once when everything buffered has been handed to the network. */
  onceDrained(callback: () => void): void;
  /** Owned by this module. */
  flow: FlowState | undefined;
}

export interface FlowState {
  /** Too many bytes wait to be written to it: not read until they drain. */
  backedUp: boolean;
  /** Too many of its frames are held for security decisions (access.ts): not read until they are in. */
  holding: boolean;
  /** A close as slow reader is scheduled. */
  closing: boolean;
}

export class Backpressure {
  private paused = 0;

  constructor(
    readonly highWaterMark: number,
    readonly maxBufferedBytes: number,
    /** Closes a connection whose buffered bytes passed the hard cap (called outside any send). */
    private readonly closeSlowReader: (connection: Throttled, buffered: number) => void,
  ) {}

  /** Something was just sent to `connection`, which now buffers `buffered` bytes (over the high-water mark). */
  backedUp(connection: Throttled, buffered: number): void {
    if (!connection.isOpen) return;
    const flow = this.flowOf(connection);
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

  /** Frames of `connection` held for security decisions passed the bound (`true`), or were let go. */
  holding(connection: Throttled, holding: boolean): void {
    if (!connection.isOpen) return;
    const flow = this.flowOf(connection);
    if (flow.holding === holding) return;
    flow.holding = holding;
    this.update(connection, flow, holding);
  }

  /** Connections not being read right now. */
  get pausedConnections(): number {
    return this.paused;
  }

  /** `connection` is going away. */
  release(connection: Throttled): void {
    const flow = connection.flow;
    if (flow && (flow.backedUp || flow.holding)) this.paused--;
    connection.flow = undefined;
  }

  private flowOf(connection: Throttled): FlowState {
    return (connection.flow ??= { backedUp: false, holding: false, closing: false });
  }

  /** One reason to pause came (`on`) or went: reading stops with the first and restarts after the last. */
  private update(connection: Throttled, flow: FlowState, on: boolean): void {
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
