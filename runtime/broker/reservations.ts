/**
 * Peer ids reserved for the client that held them: when a connection goes away without giving
 * its ids up (it closed, was cut off, or its broker died), each id it held under a holder
 * token stays reserved to that token for `reservationMs`. Meanwhile the same client (the same
 * token) takes it back at once, from any connection; anyone else is refused (nobody steps into
 * a service that just fell over), and calls to the id are told it is moving (PEER_NOT_FOUND
 * with `moving`, which callers send again within their deadline). Bounded: at most
 * MAX_RESERVATIONS at a time (the oldest goes first); expired ones are swept.
 */

export const MAX_RESERVATIONS = 100_000;

interface Reservation {
  readonly holder: string;
  readonly until: number;
}

export class Reservations {
  private readonly byId = new Map<string, Reservation>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(readonly reservationMs: number) {}

  get size(): number {
    return this.byId.size;
  }

  /**
   * Reserves `peerId` for `holder` for `forMs` (reservationMs unless said; nothing without a
   * holder token, or for 0 ms).
   */
  reserve(peerId: string, holder: string | undefined, forMs = this.reservationMs): void {
    if (holder === undefined || forMs <= 0) return;
    if (this.byId.size >= MAX_RESERVATIONS) this.byId.delete(this.byId.keys().next().value!);
    // Re-inserted last: the map's order is about the order they expire in (one of another
    // length may be swept late, never honoured late: holderOf looks at its time).
    this.byId.delete(peerId);
    this.byId.set(peerId, { holder, until: performance.now() + forMs });
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), Math.max(100, this.reservationMs));
      this.sweeper.unref();
    }
  }

  /** The holder `peerId` is reserved for, if it is. */
  holderOf(peerId: string): string | undefined {
    const reservation = this.byId.get(peerId);
    if (!reservation) return undefined;
    if (reservation.until > performance.now()) return reservation.holder;
    this.byId.delete(peerId);
    return undefined;
  }

  /** The reservation ends (its holder took the id back). */
  release(peerId: string): void {
    this.byId.delete(peerId);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.byId.clear();
  }

  private sweep(): void {
    const now = performance.now();
    for (const [id, reservation] of this.byId) {
      if (reservation.until > now) break;
      this.byId.delete(id);
    }
    if (this.byId.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** The refusal of a registration of an id reserved for another client. */
export function reservedMessage(peerId: string, reservationMs: number): string {
  return `peer id '${peerId}' is reserved for the client that held it: its connection went away less than ${Math.round(reservationMs / 1000)} s ago (the same client takes it back at once)`;
}
