/**
 * Presence as the client offers it: an Observable of peers joining and leaving, among those
 * this client may send to. Each subscription asks the broker for presence, gets a 'joined'
 * for every peer present, then the changes as Event frames bring them. `ready` resolves once
 * a subscription's snapshot has been delivered: from then on no change is missed.
 *
 * A subscription outlives a lost connection: once the client is back (on any broker), it asks
 * again, and tells each subscriber 'left' for the peers it knew that are gone and 'joined'
 * for those present, so a map of peers kept from the events stays right. The same happens when
 * the broker says `resync` (it could not send every event: this client was not taking them
 * fast enough, or the broker's presence budget was full).
 */
import { Observable, type Subscriber } from 'rxjs';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { PeerInfo, PresenceEvent, ResyncEvent } from '../wire/control.js';
import { expandPeerList } from '../wire/peer-list.js';
import type { ControlRequests } from './control-requests.js';

/** What `presence()` returns: the events, and when the current peers have been delivered. */
export interface PresenceObservable extends Observable<PresenceEvent> {
  /**
   * Resolves when a subscription's snapshot (a 'joined' per peer present) has been delivered;
   * rejects if the broker refused the subscription.
   */
  readonly ready: Promise<void>;
}

interface Watcher {
  readonly subscriber: Subscriber<PresenceEvent>;
  /** The peers this subscriber was told are present, by id. */
  readonly known: Map<string, PeerInfo>;
}

export class PresenceFeed {
  private readonly watchers = new Set<Watcher>();
  /** While the list is asked for again: ids an event told about meanwhile (the event is newer than the list). */
  private heardWhileAsking: Set<string> | undefined;
  /** A resync came while one was being asked: ask once more after it. */
  private resyncAgain = false;

  constructor(
    private readonly control: ControlRequests,
    private readonly isOpen: () => boolean,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  observable(): PresenceObservable {
    let markReady!: () => void;
    let fail!: (error: RpcError) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      fail = reject;
    });
    ready.catch(() => undefined); // a refusal also reaches the subscriber; nobody need await ready
    const events = new Observable<PresenceEvent>((subscriber) => {
      const watcher: Watcher = { subscriber, known: new Map() };
      this.watchers.add(watcher);
      this.askPresence(false).then(
        (peers) => {
          if (!this.watchers.has(watcher)) return;
          for (const peer of peers) this.tell(watcher, { type: 'joined', peer });
          markReady();
        },
        (error: RpcError) => {
          fail(error);
          this.watchers.delete(watcher);
          subscriber.error(error);
        },
      );
      return () => {
        this.watchers.delete(watcher);
        if (this.watchers.size === 0 && this.isOpen()) this.control.request('presence', { on: false }).catch(() => undefined);
      };
    });
    return Object.assign(events, { ready });
  }

  /** An Event frame's payload. */
  onEvent(event: unknown): void {
    const e = event as Partial<PresenceEvent | ResyncEvent> | undefined;
    if (e?.type === 'resync') return void this.resync();
    if (!e || (e.type !== 'joined' && e.type !== 'left') || !e.peer || typeof e.peer.id !== 'string') return;
    this.heardWhileAsking?.add(e.peer.id);
    for (const watcher of this.watchers) this.tell(watcher, e as PresenceEvent);
  }

  /** Connected again (maybe to another broker): asks for presence anew and tells subscribers what changed meanwhile. */
  async restore(): Promise<void> {
    await this.askAgain(false);
  }

  /** The broker could not send every event: the list again, and what changed. */
  private async resync(): Promise<void> {
    if (this.heardWhileAsking) {
      this.resyncAgain = true;
      return;
    }
    do {
      this.resyncAgain = false;
      await this.askAgain(true).catch(() => undefined); // lost meanwhile: restore() asks once back
    } while (this.resyncAgain && this.watchers.size > 0);
  }

  /** Presence on: the peers present now (a compact list, expanded). */
  private async askPresence(resync: boolean): Promise<PeerInfo[]> {
    const entries = await this.control.request('presence', resync ? { on: true, resync, compact: true } : { on: true, compact: true });
    return expandPeerList(entries ?? []);
  }

  private async askAgain(resync: boolean): Promise<void> {
    if (this.watchers.size === 0) return;
    const heard = (this.heardWhileAsking = new Set());
    let peers: PeerInfo[];
    try {
      peers = await this.askPresence(resync);
    } finally {
      if (this.heardWhileAsking === heard) this.heardWhileAsking = undefined;
    }
    const present = new Map(peers.map((p) => [p.id, p]));
    for (const watcher of this.watchers) {
      // A peer an event told about while the list was asked for is as the event said.
      for (const [id, peer] of [...watcher.known]) if (!present.has(id) && !heard.has(id)) this.tell(watcher, { type: 'left', peer });
      // 'joined' for the peers it did not know, or knew with other controllers.
      for (const peer of peers) if (!heard.has(peer.id) && !samePeer(watcher.known.get(peer.id), peer)) this.tell(watcher, { type: 'joined', peer });
    }
  }

  /** Closed for good: every subscriber errors. */
  closeAll(reason: string): void {
    for (const { subscriber } of [...this.watchers]) subscriber.error(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
    this.watchers.clear();
  }

  private tell(watcher: Watcher, event: PresenceEvent): void {
    if (event.type === 'joined') watcher.known.set(event.peer.id, event.peer);
    else if (!watcher.known.delete(event.peer.id)) return; // never told it joined
    watcher.subscriber.next(event);
  }
}

function samePeer(known: PeerInfo | undefined, peer: PeerInfo): boolean {
  if (!known || known.contracts.length !== peer.contracts.length) return false;
  return known.contracts.every((c, i) => c.path === peer.contracts[i]!.path && c.fingerprint === peer.contracts[i]!.fingerprint);
}

/**
 * `source` narrowed to the members of `group`: 'joined' for a peer in it (again when its
 * controllers or groups change), 'left' when it leaves the group or goes away.
 */
export function presenceOfGroup(source: PresenceObservable, group: string): PresenceObservable {
  const events = new Observable<PresenceEvent>((subscriber) => {
    const members = new Set<string>();
    return source.subscribe({
      next: (event) => {
        const id = event.peer.id;
        if (event.type === 'joined' && event.peer.groups?.includes(group) === true) {
          members.add(id);
          subscriber.next(event);
        } else if (members.delete(id)) subscriber.next(event.type === 'left' ? event : { type: 'left', peer: event.peer });
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
  });
  return Object.assign(events, { ready: source.ready });
}
