/**
 * Presence as the client offers it: an Observable of peers joining and leaving, among those
 * this client may send to. Each subscription asks the broker for presence, gets a 'joined'
 * for every peer present, then the changes as Event frames bring them. `ready` resolves once
 * a subscription's snapshot has been delivered: from then on no change is missed.
 */
import { Observable, type Subscriber } from 'rxjs';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { PresenceEvent } from '../wire/control.js';
import type { ControlRequests } from './control-requests.js';

/** What `presence()` returns: the events, and when the current peers have been delivered. */
export interface PresenceObservable extends Observable<PresenceEvent> {
  /**
   * Resolves when a subscription's snapshot (a 'joined' per peer present) has been delivered;
   * rejects if the broker refused the subscription.
   */
  readonly ready: Promise<void>;
}

export class PresenceFeed {
  private readonly subscribers = new Set<Subscriber<PresenceEvent>>();

  constructor(
    private readonly control: ControlRequests,
    private readonly isOpen: () => boolean,
  ) {}

  get size(): number {
    return this.subscribers.size;
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
      this.subscribers.add(subscriber);
      this.control.request('presence', { on: true }).then(
        (peers) => {
          if (!this.subscribers.has(subscriber)) return;
          for (const peer of peers ?? []) subscriber.next({ type: 'joined', peer });
          markReady();
        },
        (error: RpcError) => {
          fail(error);
          subscriber.error(error);
        },
      );
      return () => {
        this.subscribers.delete(subscriber);
        if (this.subscribers.size === 0 && this.isOpen()) this.control.request('presence', { on: false }).catch(() => undefined);
      };
    });
    return Object.assign(events, { ready });
  }

  /** An Event frame's payload. */
  onEvent(event: unknown): void {
    const e = event as Partial<PresenceEvent> | undefined;
    if (!e || (e.type !== 'joined' && e.type !== 'left') || !e.peer || typeof e.peer.id !== 'string') return;
    for (const subscriber of this.subscribers) subscriber.next(e as PresenceEvent);
  }

  /** The connection is gone: every subscriber errors. */
  closeAll(reason: string): void {
    for (const subscriber of [...this.subscribers]) subscriber.error(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
    this.subscribers.clear();
  }
}
