/**
 * What a part of the broker is. broker.ts builds its parts in one ordered list; an event that
 * more than one part hears is a loop over that list, in its order, each part handling its own
 * share (the order is written once, in broker.ts, with the reasons). A part keeps what it
 * knows about a connection in a slot of its own (slot.ts), and reports its share of
 * `broker.stats()` (broker-stats.ts).
 *
 * Every method is optional: a part implements the events it cares about.
 */
import type { BrokerConnection, ConnectionClosure } from './connection.js';
import type { LeaveReason, PeerRegistration } from './peer-directory.js';

export type { ConnectionClosure } from './connection.js';

export interface BrokerPart {
  /** A WebSocket connection was accepted (before its handshake). */
  connectionOpened?(connection: BrokerConnection): void;
  /** `connection` closed (or was closed): what the part keeps about it goes. Told once per connection. */
  connectionClosed?(connection: BrokerConnection, closure: ConnectionClosure): void;
  /** A registration ended (deregistered, its connection left, its broker went, or, clustered, the id was taken). */
  peerLeft?(registration: PeerRegistration, reason: LeaveReason): void;
  /** `connection` registered or gave up an id: who it is as a caller changed. */
  identityChanged?(connection: BrokerConnection): void;
  /** Its share of `broker.stats()`. */
  stats?(): object;
  /** The broker is closing, after every connection was dropped. */
  close?(): void | Promise<void>;
}
