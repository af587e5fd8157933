/**
 * Peer ids claimed in the cluster's claim store (a KeyValueStore: cluster-engine.ts): one key
 * per id (its UTF-8 bytes in base64url, since KV keys allow few characters), whose value names
 * the broker that holds it, the holder's token and the connection there (whose controllers
 * are stored once for all its ids: announcements.ts). Claiming is atomic across the cluster: `create` succeeds
 * for exactly one of several brokers racing for a free id; an id whose holder is dead is
 * taken over with a compare-and-set on the entry's revision, so two brokers cannot both take
 * it either. Releasing deletes the entry only if it is still the revision this broker wrote.
 */
import { StoreConflict, type KeyValueStore, type StoreEntry } from './cluster-engine.js';

/** What a claim's KV entry holds. */
export interface ClaimValue {
  node: string;
  /** The token of the client holding the id, if it gave one: the same client may take the claim over. */
  holder?: string;
  /** The handle of the connection holding it on `node` (its announcement: announcements.ts). */
  connection?: number;
  /** The groups the peer joined, sorted (absent when none). */
  groups?: string[];
  /**
   * The id's connection went away: it is reserved for `holder` (reservations.ts) by `node`,
   * which deletes the claim when the reservation ends. Nobody holds the id meanwhile.
   */
  reserved?: true;
}

const encoder = new TextEncoder();

export function claimKey(idBytes: Uint8Array): string {
  let binary = '';
  for (const byte of idBytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function idBytesOfKey(key: string): Uint8Array {
  const binary = atob(key.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function readClaim(value: Uint8Array): ClaimValue | undefined {
  try {
    const claim = JSON.parse(new TextDecoder().decode(value)) as Partial<ClaimValue>;
    if (typeof claim.node !== 'string') return undefined;
    return {
      node: claim.node,
      ...(typeof claim.holder === 'string' ? { holder: claim.holder } : {}),
      ...(typeof claim.connection === 'number' ? { connection: claim.connection } : {}),
      ...(claim.reserved === true ? { reserved: true } : {}),
      ...(Array.isArray(claim.groups) ? { groups: claim.groups.filter((g): g is string => typeof g === 'string') } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The store could not be asked within the bound (not an answer: the id may be free or taken). */
export class ClaimUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClaimUnavailable';
  }
}

/** How a store call is retried when the store could not be asked. */
export interface RetryBound {
  /** Give up (ClaimUnavailable) after this long, ms from the first attempt. */
  readonly withinMs: number;
  /** False while it is still worth trying (the registration is still wanted, the broker not closing). */
  wanted?(): boolean;
}

/** Conflicts in a row (other writers between our read and our write) before a claim counts as taken. */
const MAX_CONFLICTS = 16;
const FIRST_WAIT_MS = 50;
const MAX_WAIT_MS = 1000;

export class PeerClaims {
  constructor(readonly store: KeyValueStore) {}

  /**
   * Claims `key` for `value.node`. Resolves with the entry's revision, or undefined when a live
   * broker holds it (`isGone(node)` says whether a holder may be taken over). The client that
   * holds it (its holder token) takes it over from a live broker when it registers anew (it
   * moved there), and always from a reservation kept for it; a broker claiming again for a
   * connection it had (`again`) never takes a live holding of the same client: that client moved
   * on without this broker knowing. A store that cannot be asked is asked again, with backoff,
   * within `bound`; past it the claim rejects with ClaimUnavailable: an error is never taken for "taken".
   */
  claim(key: string, value: ClaimValue, isGone: (node: string) => Promise<boolean>, bound: RetryBound, again = false): Promise<number | undefined> {
    const data = encoder.encode(JSON.stringify(value));
    return retrying(bound, `claim ${key}`, async () => {
      // A free id is claimed in one write; only when it is taken is the holder looked at.
      let entry: StoreEntry | undefined;
      let looked = false;
      for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
        if (entry?.value !== undefined) {
          const current = readClaim(entry.value);
          // Taken over only from a dead broker, from this one, or by the same client (see above).
          const sameClient = value.holder !== undefined && current?.holder === value.holder && (!again || current.reserved === true);
          if (current && current.node !== value.node && !sameClient && !(await isGone(current.node))) return undefined;
        }
        try {
          return !looked || entry === undefined ? await this.store.create(key, data) : await this.store.update(key, data, entry.revision);
        } catch (error) {
          if (!(error instanceof StoreConflict)) throw error;
          // Taken, or someone wrote between our read and our write: look (again).
        }
        entry = await this.store.get(key);
        looked = true;
      }
      return undefined;
    });
  }

  /**
   * Writes a new value for a claim `node` holds. If the entry moved on but is still this
   * node's (it was claimed again meanwhile), writes over that revision; undefined when the
   * claim is another broker's now (the claim was lost). Retried like `claim`.
   */
  rewrite(key: string, value: ClaimValue, revision: number, node: string, bound: RetryBound): Promise<number | undefined> {
    const data = encoder.encode(JSON.stringify(value));
    return retrying(bound, `rewrite ${key}`, async () => {
      for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
        try {
          return await this.store.update(key, data, revision);
        } catch (error) {
          if (!(error instanceof StoreConflict)) throw error;
        }
        const entry = await this.store.get(key);
        if (entry?.value === undefined || readClaim(entry.value)?.node !== node) return undefined;
        revision = entry.revision;
      }
      return undefined;
    });
  }

  /**
   * Turns the claim at `revision` (of a broker that died) into a reservation kept by `value.node`;
   * undefined when the claim moved on (someone else did it first, or the client is back).
   */
  reserve(key: string, value: ClaimValue, revision: number, bound: RetryBound): Promise<number | undefined> {
    const data = encoder.encode(JSON.stringify(value));
    return retrying(bound, `reserve ${key}`, async () => {
      try {
        return await this.store.update(key, data, revision);
      } catch (error) {
        if (error instanceof StoreConflict) return undefined;
        throw error;
      }
    });
  }

  /** Deletes the claim if it is still at `revision` (a claim that moved on is someone else's now). Retried like `claim`. */
  release(key: string, revision: number, bound: RetryBound): Promise<void> {
    return retrying(bound, `release ${key}`, async () => {
      await this.store.delete(key, revision).catch((error: unknown) => {
        if (!(error instanceof StoreConflict)) throw error;
      });
    });
  }
}

/** Runs `attempt` until it answers, asking again with backoff while the store cannot be asked, within `bound`. */
export async function retrying<T>(bound: RetryBound, what: string, attempt: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + bound.withinMs;
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, MAX_WAIT_MS)) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() + wait > giveUpAt || bound.wanted?.() === false) {
        throw new ClaimUnavailable(`${what}: the cluster's store did not answer (${(error as Error)?.message ?? String(error)})`, { cause: error });
      }
      // Full jitter: brokers that lost the store together do not come back in step.
      await new Promise((resolve) => setTimeout(resolve, wait / 2 + Math.random() * (wait / 2)));
    }
  }
}
