/**
 * Peer ids claimed in the cluster's claim store (a KeyValueStore: cluster-engine.ts): one key per id (its UTF-8 bytes in base64url,
 * since KV keys allow few characters), whose value names the broker that holds it and the
 * controllers the peer announced. Claiming is atomic across the cluster: `create` succeeds
 * for exactly one of several brokers racing for a free id; an id whose holder is dead is
 * taken over with a compare-and-set on the entry's revision, so two brokers cannot both take
 * it either. Releasing deletes the entry only if it is still the revision this broker wrote.
 */
import type { ControllerInfo } from '../../wire/control.js';
import type { KeyValueStore } from './cluster-engine.js';

/** What a claim's KV entry holds. */
export interface ClaimValue {
  node: string;
  /** The token of the client holding the id, if it gave one: the same client may take the claim over. */
  holder?: string;
  controllers: readonly ControllerInfo[];
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
    if (typeof claim.node !== 'string' || !Array.isArray(claim.controllers)) return undefined;
    return { node: claim.node, controllers: claim.controllers, ...(typeof claim.holder === 'string' ? { holder: claim.holder } : {}) };
  } catch {
    return undefined;
  }
}

export class PeerClaims {
  constructor(readonly store: KeyValueStore) {}

  /**
   * Claims `key` for `value.node`. Resolves with the entry's revision, or undefined when a
   * live broker holds it (`isGone(node)` says whether a holder may be taken over).
   */
  async claim(key: string, value: ClaimValue, isGone: (node: string) => Promise<boolean>): Promise<number | undefined> {
    const data = encoder.encode(JSON.stringify(value));
    try {
      return await this.store.create(key, data);
    } catch {
      // Taken (or was, by a broker that may be gone): look at who holds it.
    }
    const entry = await this.store.get(key);
    if (!entry) return undefined;
    if (entry.value === undefined) return this.store.update(key, data, entry.revision).catch(() => undefined);
    const current = readClaim(entry.value);
    // Taken over only from a dead broker, from this one, or by the same client (its holder token).
    const sameClient = value.holder !== undefined && current?.holder === value.holder;
    if (current && current.node !== value.node && !sameClient && !(await isGone(current.node))) return undefined;
    return this.store.update(key, data, entry.revision).catch(() => undefined);
  }

  /**
   * Writes a new value for a claim `node` holds. If the entry moved on but is still this
   * node's (it was claimed again meanwhile), writes over that revision; undefined when the
   * claim is another broker's now (the claim was lost).
   */
  async rewrite(key: string, value: ClaimValue, revision: number, node: string): Promise<number | undefined> {
    const data = encoder.encode(JSON.stringify(value));
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await this.store.update(key, data, revision);
      } catch {
        const entry = await this.store.get(key);
        if (!entry?.value || readClaim(entry.value)?.node !== node) return undefined;
        revision = entry.revision;
      }
    }
    return undefined;
  }

  /** Deletes the claim if it is still at `revision`. */
  async release(key: string, revision: number): Promise<void> {
    await this.store.delete(key, revision).catch(() => undefined);
  }
}
