/**
 * Compression through Node's zlib, synchronously: a message is compressed or inflated where it
 * is sent or read, in order, with no step through the event loop (64 KiB of JSON-like text
 * takes well under a millisecond either way). Inflating passes zlib the bound
 * (`maxOutputLength`): it stops there instead of growing a buffer without end.
 */
import zlib from 'node:zlib';
import { InflatedTooLarge, type Compressor } from './compressor.js';

export const nodeZlibCompressor: Compressor = {
  compress(encoding, bytes) {
    return encoding === 'gzip' ? zlib.gzipSync(bytes) : zlib.deflateSync(bytes);
  },
  decompress(encoding, bytes, maxBytes) {
    try {
      const options = { maxOutputLength: Math.max(1, maxBytes) };
      return encoding === 'gzip' ? zlib.gunzipSync(bytes, options) : zlib.inflateSync(bytes, options);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new InflatedTooLarge(maxBytes);
      throw error;
    }
  },
};
