/**
 * The heartbeat: every `intervalMs` the broker pings each connection. One that neither answered
 * the last ping nor sent anything since is dropped with its registrations, so a half-open
 * connection is found within twice the interval and its callers get PEER_DISCONNECTED. What
 * was heard is read off the socket's count of bytes read (a pong or any frame moves it), so no
 * listener per connection and nothing per frame is needed for it.
 *
 * A connection whose reading is paused by back-pressure cannot be heard (its pong waits unread
 * in the socket, and the ping itself waits behind the bytes it has not taken), so for it the
 * sign of life is that it takes bytes: the kernel accepted more of them since the last ping,
 * which it does only as the peer acknowledges them. A paused connection that drains is alive;
 * one that takes nothing for two intervals is as dead as a silent one. A connection not read
 * because it waits for others (backpressure.ts) is not asked for signs of life meanwhile: the
 * one it waits for is, and it is read again when that one drained or was dropped.
 */
import type { BrokerConnection } from './connection.js';
import type { BrokerPart } from './part.js';
import { Slot } from './slot.js';

/** What the heartbeat noted about a connection at its last ping. */
interface Pinged {
  /** The socket's bytes read then: unchanged at the next ping means nothing was heard (no frame, no pong). */
  bytesRead: number;
  /** `signsOfLife` then (reading resumed meanwhile counts as heard). */
  signs: number;
  /** The socket's write backlog then (a paused connection that takes bytes is alive). */
  writeQueue: number;
  writable: number;
}

const pingedOf = new Slot<Pinged>();

export class Heartbeat implements BrokerPart {
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    intervalMs: number,
    connections: Iterable<BrokerConnection>,
    /** Drops a connection that stopped answering. */
    drop: (connection: BrokerConnection) => void,
    /** Whether the broker does not read `connection` because of others (then it cannot be heard, through no fault of its own). */
    waitingForOthers: (connection: BrokerConnection) => boolean,
  ) {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      for (const connection of connections) {
        const bytesRead = connection.socket.bytesRead;
        let pinged = pingedOf.get(connection);
        if (pinged === undefined) pingedOf.set(connection, (pinged = { bytesRead: -1, signs: connection.signsOfLife, writeQueue: 0, writable: 0 }));
        const took = tookBytes(connection, pinged); // always: it keeps the marks current
        if (connection.readingPaused && (took || waitingForOthers(connection))) connection.signsOfLife++;
        if (bytesRead === pinged.bytesRead && connection.signsOfLife === pinged.signs) {
          drop(connection);
          continue;
        }
        pinged.bytesRead = bytesRead;
        pinged.signs = connection.signsOfLife;
        connection.ws.ping();
      }
    }, intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** Whether the kernel accepted bytes of `connection` since the last ping (connection.ts writeProgress). */
function tookBytes(connection: BrokerConnection, pinged: Pinged): boolean {
  const { queued, waiting } = connection.writeProgress();
  const progress = queued !== pinged.writeQueue || waiting < pinged.writable;
  pinged.writeQueue = queued;
  pinged.writable = waiting;
  return progress;
}
