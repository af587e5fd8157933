/**
 * Peer ids keyed by their UTF-8 bytes, so the router finds a Request's target straight from
 * the frame: a hash over the bytes picks a bucket, then bytes are compared. No string is built
 * per lookup (a Map keyed by string would need one decoded from every frame).
 *
 * An entry of an ASCII id (nearly every id) keeps no bytes: its UTF-8 bytes are its string's
 * char codes, hashed and compared straight from the string (a Buffer per idle peer was about
 * 90 bytes of the broker's memory per peer). An id beyond ASCII keeps its bytes (`utf8`).
 */
import { Buffer } from 'node:buffer';

interface Keyed {
  readonly id: string;
  /** The id's UTF-8 bytes; undefined for an ASCII id that keeps none (`ownUtf8`); it may get them later (the same hash). */
  readonly utf8: Uint8Array | undefined;
}

/** What an entry for `id` keeps of `bytes` (its UTF-8 bytes): nothing when they are its char codes (ASCII), else a copy. */
export function ownUtf8(id: string, bytes: Uint8Array): Uint8Array | undefined {
  // UTF-8 takes more bytes than UTF-16 takes units for every character beyond ASCII.
  return bytes.length === id.length ? undefined : Buffer.from(bytes);
}

/** An entry's UTF-8 bytes, made (and kept) for an ASCII id when first asked for: group and any-peer frames carry them. */
export function utf8Of(entry: { readonly id: string; utf8: Uint8Array | undefined }): Uint8Array {
  return (entry.utf8 ??= Buffer.from(entry.id, 'latin1'));
}

/** 32-bit FNV-1a: where a hash starts, and what each byte multiplies it by. */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashOf(entry: Keyed): number {
  const bytes = entry.utf8;
  if (bytes !== undefined) return hashBytes(bytes, 0, bytes.length);
  // The same hash as hashBytes over the id's bytes, which are its char codes.
  const id = entry.id;
  let hash = FNV_OFFSET;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), FNV_PRIME);
  return hash >>> 0;
}

function isKeyOf(entry: Keyed, bytes: Uint8Array, start: number, end: number): boolean {
  const key = entry.utf8;
  if (key !== undefined) return sameBytes(key, bytes, start, end);
  const id = entry.id;
  if (id.length !== end - start) return false;
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

/** 32-bit FNV-1a over bytes[start, end). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  return hash >>> 0;
}

function sameBytes(key: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) if (key[i] !== bytes[start + i]) return false;
  return true;
}

export class PeerIdTable<T extends Keyed> {
  /** A bucket is one entry, or (rarely: a hash collision) a list of them. */
  private readonly buckets = new Map<number, T | T[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  find(bytes: Uint8Array, start = 0, end = bytes.length): T | undefined {
    const bucket = this.buckets.get(hashBytes(bytes, start, end));
    if (bucket === undefined) return undefined;
    if (!Array.isArray(bucket)) return isKeyOf(bucket, bytes, start, end) ? bucket : undefined;
    for (const entry of bucket) if (isKeyOf(entry, bytes, start, end)) return entry;
    return undefined;
  }

  /** Adds `entry` (its `utf8` as `ownUtf8` gave it); the caller makes sure no entry with the same bytes is in the table. */
  add(entry: T): void {
    const hash = hashOf(entry);
    const bucket = this.buckets.get(hash);
    if (bucket === undefined) this.buckets.set(hash, entry);
    else if (Array.isArray(bucket)) bucket.push(entry);
    else this.buckets.set(hash, [bucket, entry]);
    this.count++;
  }

  /** Removes exactly `entry` (not another one with the same bytes); false when it was not there. */
  remove(entry: T): boolean {
    const hash = hashOf(entry);
    const bucket = this.buckets.get(hash);
    if (bucket === entry) this.buckets.delete(hash);
    else if (Array.isArray(bucket) && bucket.includes(entry)) {
      const rest = bucket.filter((e) => e !== entry);
      this.buckets.set(hash, rest.length === 1 ? rest[0]! : rest);
    } else return false;
    this.count--;
    return true;
  }

  *values(): IterableIterator<T> {
    for (const bucket of this.buckets.values()) {
      if (Array.isArray(bucket)) yield* bucket;
      else yield bucket;
    }
  }
}
