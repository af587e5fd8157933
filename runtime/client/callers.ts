/**
 * Who the broker says each caller handle is (Caller frames, docs/wire.md): what the
 * CallContext of a call this client serves names as its caller. The broker tells before a
 * handle's first call reaches this client and when the handle leaves; a broker that tells more
 * than this client keeps (a broken or hostile one) only loses the oldest entries.
 */
import type { CallerAnnouncement } from '../wire/control.js';

export interface CallerInfo {
  readonly peers: readonly string[];
  readonly user: string;
}

/** Callers this client keeps at most. */
const MAX_CALLERS = 100_000;
const unknown: CallerInfo = Object.freeze({ peers: Object.freeze([]) as readonly string[], user: '' });

export class Callers {
  private readonly byHandle = new Map<number, CallerInfo>();

  get size(): number {
    return this.byHandle.size;
  }

  /** A Caller frame's payload (read defensively: anything malformed is ignored). */
  onAnnouncement(value: unknown): void {
    const a = value as Partial<CallerAnnouncement & { left: boolean; peers: unknown; user: unknown }> | undefined;
    if (!a || typeof a !== 'object' || typeof a.handle !== 'number') return;
    this.byHandle.delete(a.handle);
    if (a.left === true) return;
    if (!Array.isArray(a.peers) || !a.peers.every((p) => typeof p === 'string') || typeof a.user !== 'string') return;
    if (this.byHandle.size >= MAX_CALLERS) this.byHandle.delete(this.byHandle.keys().next().value!);
    this.byHandle.set(a.handle, Object.freeze({ peers: Object.freeze([...(a.peers as string[])]), user: a.user }));
  }

  /** Who `handle` is; nobody (no ids, no user) if the broker did not say. */
  get(handle: number): CallerInfo {
    return this.byHandle.get(handle) ?? unknown;
  }

  clear(): void {
    this.byHandle.clear();
  }
}
