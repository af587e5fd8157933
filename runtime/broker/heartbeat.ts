/**
 * The heartbeat: every `intervalMs` the broker pings each connection. One that neither answered
 * the last ping nor sent anything since is dropped with its registrations, so a half-open
 * connection is found within twice the interval and its callers get PEER_DISCONNECTED.
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
