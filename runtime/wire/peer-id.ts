/**
 * Peer ids: 1 to 255 bytes of UTF-8 from well-formed Unicode. Request frames carry the target
 * id's UTF-8 bytes and the broker compares those bytes exactly, so an id with a lone
 * surrogate (which UTF-8 cannot carry: it would arrive as U+FFFD and alias another id) is
 * refused where it is written, not silently turned into someone else's.
 */
import { isWellFormed } from '../codec/validation.js';
import { MAX_TARGET_LENGTH } from './frame.js';

const encoder = new TextEncoder();

/** The id's UTF-8 bytes, or why it is not a valid peer id. */
export function encodePeerId(peerId: unknown): Uint8Array | string {
  if (typeof peerId !== 'string' || peerId.length === 0) return 'a peer id is a non-empty string';
  if (!isWellFormed(peerId)) return 'a peer id must be well-formed Unicode (it has a lone surrogate)';
  const bytes = encoder.encode(peerId);
  if (bytes.length > MAX_TARGET_LENGTH) return `a peer id is at most ${MAX_TARGET_LENGTH} UTF-8 bytes (this one has ${bytes.length})`;
  return bytes;
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** The id whose UTF-8 bytes these are, or undefined when no peer id has them (not UTF-8). */
export function peerIdOfBytes(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}
