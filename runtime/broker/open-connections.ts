/**
 * The broker's open connections: the set the heartbeat pings, a drain closes and the stats
 * count, with the totals only the set can give (bytes waiting, bytes moved by open sockets).
 * A part (part.ts): a connection is in it from `connectionOpened` to `connectionClosed`.
 */
import type { BrokerConnection } from './connection.js';
import type { BrokerPart } from './part.js';

export interface ConnectionStats {
  connections: number;
  /** Bytes waiting to be written to all connections. */
  bufferedBytes: number;
}

export class OpenConnections implements BrokerPart, Iterable<BrokerConnection> {
  private readonly open = new Set<BrokerConnection>();

  connectionOpened(connection: BrokerConnection): void {
    this.open.add(connection);
  }

  connectionClosed(connection: BrokerConnection): void {
    this.open.delete(connection);
  }

  get size(): number {
    return this.open.size;
  }

  has(connection: BrokerConnection): boolean {
    return this.open.has(connection);
  }

  [Symbol.iterator](): Iterator<BrokerConnection> {
    return this.open.values();
  }

  stats(): ConnectionStats {
    let bufferedBytes = 0;
    for (const connection of this.open) bufferedBytes += connection.bufferedAmount;
    return { connections: this.open.size, bufferedBytes };
  }

  /** Bytes read from and written to the sockets of the connections open now (for the metrics). */
  socketBytes(): { read: number; written: number } {
    let read = 0;
    let written = 0;
    for (const connection of this.open) {
      read += connection.socket.bytesRead;
      written += connection.socket.bytesWritten;
    }
    return { read, written };
  }
}
