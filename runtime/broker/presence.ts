/**
 * Presence: connections that asked get an Event frame when a peer joins or leaves, but only
 * about peers they may send to (isAllowedToSendToPeer). A connection is told a peer left
 * only if it was told the peer joined. 'joined' comes again when a known peer's controllers
 * change (an update keyed by peer id); 'left' comes once, after which the id may join anew.
 */
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { BrokerConnection } from './connection.js';
import type { PeerRegistration } from './peer-registry.js';
import type { BrokerCore } from './broker.js';

export interface PeerInfo {
  id: string;
  controllers: string[];
  contracts: { path: string; fingerprint: string }[];
}

export function peerInfo(registration: PeerRegistration): PeerInfo {
  const controllers = registration.connection.controllers;
  return {
    id: registration.id,
    controllers: controllers.map((c) => c.path),
    contracts: controllers.map((c) => ({ path: c.path, fingerprint: c.fingerprint })),
  };
}

export class Presence {
  private readonly subscribers = new Set<BrokerConnection>();

  constructor(private readonly broker: BrokerCore) {}

  /** Starts sending events to `connection`; returns the peers present now that it may see. */
  async subscribe(connection: BrokerConnection): Promise<PeerInfo[]> {
    const known = (connection.presenceKnown ??= new Set());
    this.subscribers.add(connection);
    const visible = await this.visibleTo(connection, [...this.broker.registry.all()]);
    for (const registration of visible) known.add(registration);
    return visible.map(peerInfo);
  }

  unsubscribe(connection: BrokerConnection): void {
    this.subscribers.delete(connection);
    connection.presenceKnown = undefined;
  }

  joined(registration: PeerRegistration): void {
    for (const subscriber of this.subscribers) {
      if (subscriber === registration.connection) continue;
      void this.broker.mayReach(subscriber, registration).then((allowed) => {
        // Still registered, still subscribed, not told yet.
        const known = subscriber.presenceKnown;
        if (!allowed || !known || known.has(registration) || this.broker.registry.get(registration.key) !== registration) return;
        known.add(registration);
        subscriber.send(jsonFrame(FrameType.Event, 0, { type: 'joined', peer: peerInfo(registration) }));
      });
    }
  }

  /**
   * A connection announced a new controller list: subscribers already told its peers joined
   * get 'joined' again with the new list, so a map of peers kept by id stays current.
   */
  controllersChanged(connection: BrokerConnection): void {
    if (this.subscribers.size === 0) return;
    for (const key of connection.peerIds) {
      const registration = this.broker.registry.get(key)!;
      for (const subscriber of this.subscribers) {
        if (!subscriber.presenceKnown?.has(registration)) continue;
        subscriber.send(jsonFrame(FrameType.Event, 0, { type: 'joined', peer: peerInfo(registration) }));
      }
    }
  }

  left(registration: PeerRegistration): void {
    for (const subscriber of this.subscribers) {
      if (!subscriber.presenceKnown?.delete(registration)) continue;
      subscriber.send(jsonFrame(FrameType.Event, 0, { type: 'left', peer: peerInfo(registration) }));
    }
  }

  /** The registrations among `candidates` that `connection` may send to. */
  async visibleTo(connection: BrokerConnection, candidates: PeerRegistration[]): Promise<PeerRegistration[]> {
    const allowed = await Promise.all(candidates.map((r) => this.broker.mayReach(connection, r)));
    return candidates.filter((_, i) => allowed[i]);
  }
}
