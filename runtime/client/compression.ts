/**
 * Per-message compression, end to end (docs/peers.md, "Compression"): the broker forwards the
 * compressed bytes as they are and never inflates anything. This module owns the client's
 * policy and what it learned of other peers:
 *
 * - A client with `compression` compresses what it sends (arguments; results and stream items
 *   of the calls it serves) from `minBytes` on, with its `encoding`, when the other side takes
 *   it, and only when that makes the message smaller.
 * - The caller learns what a callee takes per call, in the call envelope: its requests carry
 *   the encodings it takes itself (so the callee may compress the answer) and, until it knows,
 *   the question; the callee's answer carries the encodings it takes. The caller remembers
 *   that per peer id (the first call to a peer goes out uncompressed). Every peer of this
 *   version inflates gzip and deflate, whatever its own `compression`; a peer of an earlier
 *   version never answers, so it is never sent a compressed message.
 * - Inflating is bounded by the receiver's `maxMessageBytes`: past it FRAME_TOO_LARGE, and no
 *   more memory than that.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { createWriter } from '../codec/protobuf.js';
import { InflatedTooLarge, type Compressor, type EncodingName } from '../compression/compressor.js';
import { ALL_ENCODINGS, Encoding, encodingName, writeEnvelope, type EnvelopeOut } from './envelope.js';

export interface CompressionOptions {
  /** What this client compresses with. Default 'gzip'. */
  encoding?: EncodingName;
  /** Messages of at least this many bytes (encoded, before compressing) are compressed. Default 1024. */
  minBytes?: number;
}

export const DEFAULT_COMPRESSION_MIN_BYTES = 1024;

/** Peers whose encodings are remembered (oldest out first); one forgotten is asked again. */
const MAX_PEERS = 4096;

/** Where a frame's envelope and payload start (frames.ts fills it in while writing). */
export interface FrameLayout {
  envelopeStart: number;
  payloadStart: number;
}

export class MessageCompression {
  /** The encoding this client compresses with; 0 when it does not compress. */
  readonly encoding: number;
  readonly minBytes: number;
  /** Encodings each peer said it takes, by peer id. */
  private readonly peers = new Map<string, number>();

  constructor(
    options: CompressionOptions | boolean | undefined,
    readonly compressor: Compressor,
  ) {
    const on = options !== undefined && options !== false;
    const settings = typeof options === 'object' ? options : {};
    this.encoding = on ? Encoding[settings.encoding ?? 'gzip'] : 0;
    if (on && this.encoding === undefined) throw new RpcError(RpcErrorCode.VALIDATION_FAILED, `compression.encoding must be 'gzip' or 'deflate', not '${String(settings.encoding)}'`);
    this.minBytes = Math.max(0, settings.minBytes ?? DEFAULT_COMPRESSION_MIN_BYTES);
  }

  /**
   * The envelope of a request to `peerId`: the metadata, and with compression on the
   * encodings this client takes (for the answer) and, until it knows, the question.
   */
  requestEnvelope(peerId: string, metadata: ReadonlyMap<string, string> | undefined): EnvelopeOut | undefined {
    const hasMetadata = metadata !== undefined && metadata.size > 0;
    if (this.encoding === 0) return hasMetadata ? { metadata, accept: 0, ask: false } : undefined;
    return { metadata: hasMetadata ? metadata : undefined, accept: ALL_ENCODINGS, ask: !this.peers.has(peerId) };
  }

  /** The encoding to compress a request payload of `size` bytes to `peerId` with; 0: none. */
  forPeer(peerId: string, size: number): number {
    if (this.encoding === 0 || size < this.minBytes) return 0;
    return ((this.peers.get(peerId) ?? 0) & this.encoding) !== 0 ? this.encoding : 0;
  }

  /** The encoding to compress an answer of `size` bytes with, for a caller that takes `accept`; 0: none. */
  forCaller(accept: number, size: number): number {
    if (this.encoding === 0 || size < this.minBytes) return 0;
    return (accept & this.encoding) !== 0 ? this.encoding : 0;
  }

  /** `peerId` said it takes `accept`. */
  learn(peerId: string, accept: number): void {
    if (this.peers.get(peerId) === accept) return;
    this.peers.delete(peerId);
    if (this.peers.size >= MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
    this.peers.set(peerId, accept);
  }

  /**
   * `frame` with its payload compressed: the header as it is, a "must understand" envelope
   * (`envelope` and the encoding), the compressed bytes. The frame unchanged when compressing
   * does not make it smaller.
   */
  compressFrame(frame: Uint8Array, layout: FrameLayout, envelope: EnvelopeOut, encoding: number): Uint8Array | Promise<Uint8Array> {
    const payload = frame.subarray(layout.payloadStart);
    const envelopeStart = layout.envelopeStart; // the layout is reused by the next frame meanwhile
    const assemble = (compressed: Uint8Array): Uint8Array => {
      if (compressed.length >= payload.length) return frame;
      const w = createWriter();
      w.raw(frame.subarray(0, envelopeStart));
      writeEnvelope(w, envelope, encoding);
      w.raw(compressed);
      return w.finish();
    };
    const compressed = this.compressor.compress(encodingName(encoding)!, payload);
    return compressed instanceof Uint8Array ? assemble(compressed) : compressed.then(assemble, () => frame);
  }

  /** The payload compressed with `encoding`, inflated to at most `maxBytes`; an RpcError when it cannot be. */
  inflate(bytes: Uint8Array, encoding: number, maxBytes: number): Uint8Array | RpcError | Promise<Uint8Array | RpcError> {
    const name = encodingName(encoding);
    if (name === undefined) return new RpcError(RpcErrorCode.PROTOCOL_ERROR, `a message compressed with encoding ${encoding}, which this peer does not know (it takes gzip and deflate)`);
    try {
      const inflated = this.compressor.decompress(name, bytes, maxBytes);
      return inflated instanceof Uint8Array ? inflated : inflated.then(undefined, (error: unknown) => inflateError(error, name));
    } catch (error) {
      return inflateError(error, name);
    }
  }
}

function inflateError(error: unknown, name: EncodingName): RpcError {
  if (error instanceof InflatedTooLarge) {
    return new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `a ${name}-compressed message inflates to more than ${error.maxBytes} bytes (the limit is maxMessageBytes): refused`);
  }
  return new RpcError(RpcErrorCode.VALIDATION_FAILED, `a ${name}-compressed message does not inflate: ${(error as Error)?.message ?? String(error)}`);
}
