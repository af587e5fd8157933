/** UTF-8 and JSON for the control plane and error payloads (never on the data path). */
import { HEADER_SIZE, writeHeader } from './frame.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const lenientDecoder = new TextDecoder('utf-8');

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return decoder.decode(bytes.subarray(start, end));
}

/** For messages only (never for ids or values): invalid UTF-8 becomes U+FFFD instead of an error. */
export function fromUtf8Lenient(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return lenientDecoder.decode(bytes.subarray(start, end));
}

/** A frame whose payload is `value` as JSON. */
export function jsonFrame(type: number, callId: number, value: unknown, source = 0): Uint8Array {
  const body = encoder.encode(JSON.stringify(value));
  const frame = new Uint8Array(HEADER_SIZE + body.length);
  writeHeader(frame, type, 0, callId, source);
  frame.set(body, HEADER_SIZE);
  return frame;
}

/** The JSON payload of a frame, or undefined when it is not valid UTF-8 JSON. */
export function readJson(frame: Uint8Array, start: number): unknown {
  try {
    return JSON.parse(fromUtf8(frame, start));
  } catch {
    return undefined;
  }
}
