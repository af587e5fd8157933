/**
 * The heartbeat: every `intervalMs` the broker pings each connection. One that neither answered
 * the last ping nor sent anything since is dropped with its registrations, so a half-open
 * connection is found within twice the interval and its callers get PEER_DISCONNECTED.
 *
 * A connection whose reading is paused by back-pressure cannot be heard (its pong waits unread
 * in the socket, and the ping itself waits behind the bytes it has not taken), so for it the
 * sign of life is that it takes bytes: the kernel accepted more of them since the last ping,
 * which it does only as the peer acknowledges them. A paused connection that drains is alive;
 * one that takes nothing for two intervals is as dead as a silent one.
 */
import type { BrokerConnection } from './connection.js';
import type { BrokerPart } from './part.js';
import { Slot } from './slot.js';

/** What the heartbeat noted about a connection at its last ping. */
interface Pinged {
  /** `signsOfLife` then: unchanged at the next ping means nothing was heard. */
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
  ) {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      for (const connection of connections) {
        let pinged = pingedOf.get(connection);
        if (pinged === undefined) pingedOf.set(connection, (pinged = { signs: connection.signsOfLife - 1, writeQueue: 0, writable: 0 }));
        if (tookBytes(connection, pinged) && connection.readingPaused) connection.signsOfLife++;
        if (connection.signsOfLife === pinged.signs) {
          drop(connection);
          continue;
        }
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

/**
 * Whether the kernel accepted bytes of `connection` since the last ping. Node hands a backlog
 * to libuv as one large write, which completes only once all of it is in the kernel; libuv's
 * write queue (the bytes of the write in progress still to go) shrinks with every partial
 * write. A new write starting (the queue growing) only happens after one completed, and a
 * completed write shrinks the socket's buffer: either change is progress.
 */
function tookBytes(connection: BrokerConnection, pinged: Pinged): boolean {
  const socket = connection.socket as BrokerConnection['socket'] & { _handle?: { writeQueueSize?: number } };
  const queued = socket._handle?.writeQueueSize ?? 0;
  const waiting = socket.writableLength;
  const progress = queued !== pinged.writeQueue || waiting < pinged.writable;
  pinged.writeQueue = queued;
  pinged.writable = waiting;
  return progress;
}
