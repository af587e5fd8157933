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

export function startHeartbeat(
  intervalMs: number,
  connections: Iterable<BrokerConnection>,
  drop: (connection: BrokerConnection) => void,
): ReturnType<typeof setInterval> | undefined {
  if (intervalMs <= 0) return undefined;
  const timer = setInterval(() => {
    for (const connection of connections) {
      if (tookBytes(connection) && connection.paused) connection.heardFrom = true;
      if (connection.awaitingPong && !connection.heardFrom) {
        drop(connection);
        continue;
      }
      connection.awaitingPong = true;
      connection.heardFrom = false;
      connection.ws.ping();
    }
  }, intervalMs);
  timer.unref();
  return timer;
}

/**
 * Whether the kernel accepted bytes of `connection` since the last ping. Node hands a backlog
 * to libuv as one large write, which completes only once all of it is in the kernel; libuv's
 * write queue (the bytes of the write in progress still to go) shrinks with every partial
 * write. A new write starting (the queue growing) only happens after one completed, and a
 * completed write shrinks the socket's buffer: either change is progress.
 */
function tookBytes(connection: BrokerConnection): boolean {
  const socket = connection.socket as BrokerConnection['socket'] & { _handle?: { writeQueueSize?: number } };
  const queued = socket._handle?.writeQueueSize ?? 0;
  const waiting = socket.writableLength;
  const progress = queued !== connection.writeQueueAtPing || waiting < connection.writableAtPing;
  connection.writeQueueAtPing = queued;
  connection.writableAtPing = waiting;
  return progress;
}
