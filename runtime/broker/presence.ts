/**
 * Presence: connections that asked get an Event frame when a peer joins or leaves, but only
 * about peers they may send to (access.ts decides, from its cache). A connection is told a
 * peer left only if it was told the peer joined: each subscriber's `presenceKnown` set is
 * what it was told. 'joined' comes again when a known peer's controllers change (an update
 * keyed by peer id); 'left' comes once, after which the id may join anew.
 */
import type { PeerInfo, PresenceEvent } from '../wire/control.js';
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { Access } from './access.js';
import type { BrokerConnection } from './connection.js';
import type { Listings } from './listing.js';
import type { DirectoryListener, PeerDirectory, PeerRegistration } from './peer-directory.js';

export function peerInfo(registration: PeerRegistration): PeerInfo {
  const controllers = registration.controllers;
  return {
    id: registration.id,
    controllers: controllers.map((c) => c.path),
    contracts: controllers.map((c) => ({ path: c.path, fingerprint: c.fingerprint })),
  };
}

export class Presence implements DirectoryListener {
  private readonly subscribers = new Set<BrokerConnection>();
  /** Subscriptions per subscriber (a client subscribes once per presence() subscriber). */
  private readonly counts = new Map<BrokerConnection, number>();

  constructor(
    private readonly directory: PeerDirectory,
    private readonly access: Access,
    private readonly listings: Listings,
  ) {}

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Starts sending events to `connection`; returns the peers present now that it may see. A
   * peer that leaves while the hooks are asked is left out (it would never get its 'left').
   */
  async subscribe(connection: BrokerConnection): Promise<PeerRegistration[]> {
    const known = (connection.presenceKnown ??= new Set());
    this.subscribers.add(connection);
    this.counts.set(connection, (this.counts.get(connection) ?? 0) + 1);
    const visible = await this.listings.visibleTo(connection, [...this.directory.all()]);
    if (connection.presenceKnown !== known) return []; // unsubscribed meanwhile
    for (const registration of visible) known.add(registration);
    return visible;
  }

  unsubscribe(connection: BrokerConnection): void {
    this.subscribers.delete(connection);
    this.counts.delete(connection);
    connection.presenceKnown = undefined;
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
        if (subscriber.presenceKnown?.has(registration)) this.send(subscriber, { type: 'joined', peer: peerInfo(registration) });
      }
    }
  }

  left(registration: PeerRegistration): void {
    for (const subscriber of this.subscribers) {
      if (subscriber.presenceKnown?.delete(registration)) this.send(subscriber, { type: 'left', peer: peerInfo(registration) });
    }
  }

  /** Still registered, still subscribed, not told yet. */
  private tellJoined(subscriber: BrokerConnection, registration: PeerRegistration): void {
    const known = subscriber.presenceKnown;
    if (!known || known.has(registration) || !registration.active) return;
    known.add(registration);
    this.send(subscriber, { type: 'joined', peer: peerInfo(registration) });
  }

  private send(subscriber: BrokerConnection, event: PresenceEvent): void {
    subscriber.send(jsonFrame(FrameType.Event, 0, event));
  }
}
