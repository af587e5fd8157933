/**
 * Presence: connections that asked get an Event frame when a peer joins or leaves, but only
 * about peers they may send to (access.ts decides, from its cache). A connection is told a
 * peer left only if it was told the peer joined: each subscriber's `knownOf` slot holds what
 * it was told. 'joined' comes again when a known peer's controllers change (an update keyed by
 * peer id); 'left' comes once, after which the id may join anew.
 *
 * Bounded, whatever the number of subscribers and however fast peers come and go: event bytes
 * not yet written out are held to MAX_HELD_PER_SUBSCRIBER per subscriber and to
 * `maxHeldBytes` in all. An event that does not fit is not sent: the subscriber falls behind,
 * hears nothing more, and once what it was sent is out (and the budget has room) it is told
 * `resync`, one small event that says "ask for the list again" (its client does, and tells its
 * own subscribers what changed meanwhile). A thousand joins and lefts a subscriber cannot take
 * cost it one resync.
 */
import type { PresenceEvent, ResyncEvent } from '../wire/control.js';
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { Access } from './access.js';
import type { BrokerConnection } from './connection.js';
import type { Listings } from './listing.js';
import type { BrokerPart } from './part.js';
import { peerInfo, type PeerDirectory, type PeerRegistration } from './peer-directory.js';
import { Slot } from './slot.js';

/** Event bytes one subscriber may have waiting to be written before it falls behind. */
export const MAX_HELD_PER_SUBSCRIBER = 256 * 1024;

/** What presence keeps about a subscriber, while it is subscribed. */
interface Subscriber {
  /** The peers it was told joined (a new set when it starts again after falling behind). */
  known: Set<PeerRegistration>;
  /** Presence subscriptions it made (one per presence() subscriber of its client). */
  subscriptions: number;
  /** Event bytes sent to it and not written out yet. */
  held: number;
  /** It missed events (they did not fit): it hears nothing until told to resync. */
  behind: boolean;
}

const subscriberOf = new Slot<Subscriber>();

const resyncFrame = jsonFrame(FrameType.Event, 0, { type: 'resync' } satisfies ResyncEvent);

export interface PresenceStats {
  /** Connections subscribed to presence. */
  presenceSubscribers: number;
  /** Presence event bytes sent and not written out yet, to all subscribers. */
  presenceHeldBytes: number;
  /** Resync events sent since the broker started (subscribers that missed events). */
  presenceResyncs: number;
}

export class Presence implements BrokerPart {
  private readonly subscribers = new Set<BrokerConnection>();
  /** Subscribers that fell behind and wait for room to be told to resync. */
  private readonly behind = new Set<BrokerConnection>();
  private held = 0;
  private resyncs = 0;
  private resyncScheduled = false;

  constructor(
    private readonly directory: PeerDirectory,
    private readonly access: Access,
    private readonly listings: Listings,
    /** Presence event bytes held for all subscribers together, at most. */
    readonly maxHeldBytes: number,
  ) {}

  stats(): PresenceStats {
    return { presenceSubscribers: this.subscribers.size, presenceHeldBytes: this.held, presenceResyncs: this.resyncs };
  }

  /**
   * Starts sending events to `connection` (or, `resync`, starts again after it fell behind);
   * returns the peers present now that it may see. A peer that leaves while the hooks are
   * asked is left out (it would never get its 'left').
   */
  async subscribe(connection: BrokerConnection, resync = false): Promise<PeerRegistration[]> {
    let subscriber = subscriberOf.get(connection);
    if (!subscriber) subscriberOf.set(connection, (subscriber = { known: new Set(), subscriptions: 0, held: 0, behind: false }));
    else if (resync) {
      // Afresh: what it was told before no longer counts (the answer is the whole list).
      subscriber.known = new Set();
      subscriber.behind = false;
      this.behind.delete(connection);
    }
    if (!resync || subscriber.subscriptions === 0) subscriber.subscriptions++;
    this.subscribers.add(connection);
    const known = subscriber.known;
    const visible = await this.listings.visibleTo(connection, [...this.directory.all()]);
    if (subscriberOf.get(connection) !== subscriber || subscriber.known !== known) return []; // unsubscribed, or started again, meanwhile
    for (const registration of visible) known.add(registration);
    return visible;
  }

  unsubscribe(connection: BrokerConnection): void {
    const subscriber = subscriberOf.get(connection);
    if (!subscriber) return;
    this.subscribers.delete(connection);
    this.behind.delete(connection);
    this.held -= subscriber.held; // its writes' callbacks find it gone
    subscriberOf.set(connection, undefined);
  }

  connectionClosed(connection: BrokerConnection): void {
    this.unsubscribe(connection);
  }

  /** Presence subscriptions `connection` made since it last turned presence off. */
  subscriptionsOf(connection: BrokerConnection): number {
    return subscriberOf.get(connection)?.subscriptions ?? 0;
  }

  joined(registration: PeerRegistration): void {
    let frame: Uint8Array | undefined;
    const joinedFrame = () => (frame ??= eventFrame('joined', registration));
    for (const connection of this.subscribers) {
      if (connection === registration.connection) continue;
      const allowed = this.access.mayReach(connection, registration);
      if (allowed === true) this.tellJoined(connection, registration, joinedFrame);
      else if (allowed !== false) void allowed.then((yes) => yes && this.tellJoined(connection, registration, joinedFrame));
    }
  }

  changed(registrations: readonly PeerRegistration[]): void {
    if (this.subscribers.size === 0) return;
    for (const registration of registrations) {
      let frame: Uint8Array | undefined;
      for (const connection of this.subscribers) {
        const subscriber = subscriberOf.get(connection)!;
        if (subscriber.known.has(registration)) this.send(connection, subscriber, (frame ??= eventFrame('joined', registration)));
      }
    }
  }

  /** A registration ended (a directory's `left`, heard through the broker's parts: `peerLeft`). */
  peerLeft(registration: PeerRegistration): void {
    let frame: Uint8Array | undefined;
    for (const connection of this.subscribers) {
      const subscriber = subscriberOf.get(connection)!;
      if (subscriber.known.delete(registration)) this.send(connection, subscriber, (frame ??= eventFrame('left', registration)));
    }
  }

  close(): void {
    this.behind.clear();
  }

  /** Still registered, still subscribed, not told yet. */
  private tellJoined(connection: BrokerConnection, registration: PeerRegistration, frame: () => Uint8Array): void {
    const subscriber = subscriberOf.get(connection);
    if (!subscriber || subscriber.known.has(registration) || !registration.active) return;
    subscriber.known.add(registration);
    this.send(connection, subscriber, frame());
  }

  /** Sends an event if it fits the subscriber's share and the budget; else the subscriber falls behind. */
  private send(connection: BrokerConnection, subscriber: Subscriber, frame: Uint8Array): void {
    if (subscriber.behind) return;
    // One event always fits where nothing is held (an event larger than a share still goes out).
    const fits = (subscriber.held === 0 || subscriber.held + frame.length <= MAX_HELD_PER_SUBSCRIBER) && (this.held === 0 || this.held + frame.length <= this.maxHeldBytes);
    if (!fits) {
      subscriber.behind = true;
      this.behind.add(connection);
      return;
    }
    this.hold(connection, subscriber, frame);
  }

  private hold(connection: BrokerConnection, subscriber: Subscriber, frame: Uint8Array): void {
    const bytes = frame.length;
    subscriber.held += bytes;
    this.held += bytes;
    connection.sendTracked(frame, () => {
      if (subscriberOf.get(connection) !== subscriber) return; // unsubscribed: its bytes were let go then
      subscriber.held -= bytes;
      this.held -= bytes;
      if (this.behind.size > 0) this.scheduleResync();
    });
  }

  /** Subscribers behind whose events are all out are told to resync, as far as the budget has room. */
  private scheduleResync(): void {
    if (this.resyncScheduled) return;
    this.resyncScheduled = true;
    queueMicrotask(() => {
      this.resyncScheduled = false;
      for (const connection of this.behind) {
        const subscriber = subscriberOf.get(connection);
        if (!subscriber) {
          this.behind.delete(connection);
          continue;
        }
        if (subscriber.held > 0) continue;
        if (this.held > 0 && this.held + resyncFrame.length > this.maxHeldBytes) return;
        this.behind.delete(connection);
        this.resyncs++;
        this.hold(connection, subscriber, resyncFrame);
      }
    });
  }
}

function eventFrame(type: PresenceEvent['type'], registration: PeerRegistration): Uint8Array {
  return jsonFrame(FrameType.Event, 0, { type, peer: peerInfo(registration) } satisfies PresenceEvent);
}
