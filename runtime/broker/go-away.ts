/**
 * Asking a client to go away (the broker drains, or has more than its share of clients): an
 * Event `{ type: 'go-away', deadlineMs }`. A client that understands it moves to another
 * broker of its list first (its ids and its new calls go there: make-before-break), then
 * closes this connection once what runs on it ended, within `deadlineMs`. Meanwhile the
 * broker keeps forwarding to and from the connection, and when the client's ids are taken
 * over by its new connection it lets the calls still open here finish (router.ts,
 * control-plane.ts ask `told`).
 */
import type { GoAwayEvent } from '../wire/control.js';
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { BrokerConnection } from './connection.js';
import type { RouteEndpoint } from './route.js';
import { Slot } from './slot.js';

/** Until when a connection told to go away counts as moving (performance.now()); told again after that if it stayed. */
const toldUntil = new Slot<number>();

export class GoAway {
  /** Tells `connection` to go away, once (`to`: the broker to go to, if the client has it in its list). */
  tell(connection: BrokerConnection, deadlineMs: number, reason: string, to?: string): void {
    if (this.told(connection) || !connection.isOpen) return;
    toldUntil.set(connection, performance.now() + deadlineMs);
    const event: GoAwayEvent = { type: 'go-away', deadlineMs, reason, ...(to === undefined ? {} : { to }) };
    connection.send(jsonFrame(FrameType.Event, 0, event));
  }

  /** Whether `endpoint` was told to go away and may still be moving (on purpose), within the deadline it was given. */
  told(endpoint: RouteEndpoint | undefined): boolean {
    const until = endpoint === undefined ? undefined : toldUntil.get(endpoint);
    return until !== undefined && performance.now() < until;
  }
}
