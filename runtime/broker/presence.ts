/**
 * Presence: connections that asked get an Event frame when a peer joins or leaves, but only
 * about peers they may send to (access.ts decides, from its cache). A connection is told a
 * peer left only if it was told the peer joined: each subscriber's `knownOf` slot holds what
 * it was told. 'joined' comes again when a known peer's controllers change (an update keyed by
 * peer id); 'left' comes once, after which the id may join anew.
 */
import type { PresenceEvent } from '../wire/control.js';
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { Access } from './access.js';
import type { BrokerConnection } from './connection.js';
import type { Listings } from './listing.js';
import type { BrokerPart } from './part.js';
import { peerInfo, type PeerDirectory, type PeerRegistration } from './peer-directory.js';
import { Slot } from './slot.js';

/** The peers a subscriber was told joined, while it is subscribed. */
const knownOf = new Slot<Set<PeerRegistration>>();

export interface PresenceStats {
  /** Connections subscribed to presence. */
  presenceSubscribers: number;
}

export class Presence implements BrokerPart {
  private readonly subscribers = new Set<BrokerConnection>();
  /** Subscriptions per subscriber (a client subscribes once per presence() subscriber). */
  private readonly counts = new Map<BrokerConnection, number>();

  constructor(
    private readonly directory: PeerDirectory,
    private readonly access: Access,
    private readonly listings: Listings,
  ) {}

  stats(): PresenceStats {
    return { presenceSubscribers: this.subscribers.size };
  }

  /**
   * Starts sending events to `connection`; returns the peers present now that it may see. A
   * peer that leaves while the hooks are asked is left out (it would never get its 'left').
   */
  async subscribe(connection: BrokerConnection): Promise<PeerRegistration[]> {
    let known = knownOf.get(connection);
    if (!known) knownOf.set(connection, (known = new Set()));
    this.subscribers.add(connection);
    this.counts.set(connection, (this.counts.get(connection) ?? 0) + 1);
    const visible = await this.listings.visibleTo(connection, [...this.directory.all()]);
    if (knownOf.get(connection) !== known) return []; // unsubscribed meanwhile
    for (const registration of visible) known.add(registration);
    return visible;
  }

  unsubscribe(connection: BrokerConnection): void {
    this.subscribers.delete(connection);
    this.counts.delete(connection);
    knownOf.set(connection, undefined);
  }

  connectionClosed(connection: BrokerConnection): void {
    this.unsubscribe(connection);
  }

  /** Presence subscriptions `connection` made since it last turned presence off. */
  subscriptionsOf(connection: BrokerConnection): number {
    return this.counts.get(connection) ?? 0;
  }

  joined(registration: PeerRegistration): void {
    for (const subscriber of this.subscribers) {
      if (subscriber === registration.connection) continue;
      const allowed = this.access.mayReach(subscriber, registration);
      if (allowed === true) this.tellJoined(subscriber, registration);
      else if (allowed !== false) void allowed.then((yes) => yes && this.tellJoined(subscriber, registration));
    }
  }

  changed(registrations: readonly PeerRegistration[]): void {
    if (this.subscribers.size === 0) return;
    for (const registration of registrations) {
      for (const subscriber of this.subscribers) {
        if (knownOf.get(subscriber)?.has(registration)) this.send(subscriber, { type: 'joined', peer: peerInfo(registration) });
      }
    }
  }

  /** A registration ended (a directory's `left`, heard through the broker's parts: `peerLeft`). */
  peerLeft(registration: PeerRegistration): void {
    for (const subscriber of this.subscribers) {
      if (knownOf.get(subscriber)?.delete(registration)) this.send(subscriber, { type: 'left', peer: peerInfo(registration) });
    }
  }

  /** Still registered, still subscribed, not told yet. */
  private tellJoined(subscriber: BrokerConnection, registration: PeerRegistration): void {
    const known = knownOf.get(subscriber);
    if (!known || known.has(registration) || !registration.active) return;
    known.add(registration);
    this.send(subscriber, { type: 'joined', peer: peerInfo(registration) });
  }

  private send(subscriber: BrokerConnection, event: PresenceEvent): void {
    subscriber.send(jsonFrame(FrameType.Event, 0, event));
  }
}
