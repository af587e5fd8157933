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
 * comes through `sent`.
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
  /** Reading is paused until the connection drains. */
  paused: boolean;
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
    const flow = (connection.flow ??= { paused: false, closing: false });
    if (buffered > this.maxBufferedBytes) {
      if (flow.closing) return;
      flow.closing = true;
      // Not from inside the send: the caller may be in the middle of walking route tables.
      queueMicrotask(() => this.closeSlowReader(connection, buffered));
    }
    if (flow.paused) return;
    flow.paused = true;
    this.paused++;
    connection.pauseReading();
    connection.onceDrained(() => {
      if (!flow.paused) return;
      flow.paused = false;
      this.paused--;
      connection.resumeReading();
    });
  }

  /** Connections not being read right now. */
  get pausedConnections(): number {
    return this.paused;
  }

  /** `connection` is going away. */
  release(connection: Throttled): void {
    const flow = connection.flow;
    if (flow?.paused) {
      flow.paused = false;
      this.paused--;
    }
    connection.flow = undefined;
  }
}
