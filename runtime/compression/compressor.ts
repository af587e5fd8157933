/**
 * How a peer compresses and inflates messages (docs/peers.md, "Compression"): platform-neutral,
 * like the transport, so the peer client imports no Node built-in. Node's entry installs zlib
 * (node-zlib.ts: synchronous, no step through the event loop); elsewhere the platform's
 * CompressionStream is used (web-streams.ts: asynchronous). A client may be given its own.
 *
 * `decompress` is bounded: it stops, and fails with `InflatedTooLarge`, as soon as the output would
 * exceed `maxBytes` (a zip bomb costs the receiver at most that much memory).
 */
export type EncodingName = 'gzip' | 'deflate';

export interface Compressor {
  compress(encoding: EncodingName, bytes: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** The inflated bytes, at most `maxBytes` of them; throws (or rejects with) `InflatedTooLarge` past that, anything else for bytes that do not inflate. */
  decompress(encoding: EncodingName, bytes: Uint8Array, maxBytes: number): Uint8Array | Promise<Uint8Array>;
}

/** What `decompress` throws when the output would exceed its bound. */
export class InflatedTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`inflates to more than ${maxBytes} bytes`);
    this.name = 'InflatedTooLarge';
  }
}

const defaultKey = Symbol.for('p2pgen.defaultCompressor');

/** The compressor clients use when given none: Node's entry installs zlib; browsers use CompressionStream. */
export function setDefaultCompressor(compressor: Compressor): void {
  (globalThis as { [defaultKey]?: Compressor })[defaultKey] = compressor;
}

export function defaultCompressor(): Compressor | undefined {
  return (globalThis as { [defaultKey]?: Compressor })[defaultKey];
}
