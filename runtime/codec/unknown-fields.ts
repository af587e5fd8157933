/**
 * Fields a decoded message carries that this version does not know, kept so that encoding the
 * value again writes them back, as protobuf does (proto3 since 3.5, protobuf-es): a peer that
 * relays a newer peer's value passes on what it cannot read. They are kept on entity messages
 * (classes, interfaces, anonymous object types), under a non-enumerable symbol property, so
 * they are invisible to code, `JSON.stringify`, spreads and equality; a copy of the value
 * (`{ ...note }`) does not carry them.
 *
 * Bounded by what arrived: the bytes are copied once into one buffer per message (grown by
 * doubling, so many small fields cost no more than one large one), never more than the bytes
 * of that message itself; a message without unknown fields costs nothing to read or write.
 */
import type { Reader, Writer } from './protobuf.js';
import { skipField } from './protobuf.js';

/** The property decoded messages keep unknown fields under (`Symbol.for`, so two copies of the runtime agree). */
export const unknownFields: unique symbol = Symbol.for('p2pgen.unknownFields') as never;

/** The unknown fields of one message: wire bytes (each field's tag and value) in `bytes[0, length)`. */
export class UnknownFields {
  constructor(
    public bytes: Uint8Array,
    public length: number,
  ) {}
}

/** Skips a field this version does not know, as `skipField` does, and keeps its bytes on `message`. */
export function keepUnknown(r: Reader, tag: number, message: object): void {
  const start = r.pos;
  skipField(r, tag);
  const end = r.pos;
  const kept = (message as { [unknownFields]?: UnknownFields })[unknownFields];
  // The tag as a varint (at most 5 bytes), then the value's bytes as they arrived.
  const need = 5 + end - start;
  let target = kept;
  if (target === undefined) {
    target = new UnknownFields(new Uint8Array(Math.max(16, need)), 0);
    Object.defineProperty(message, unknownFields, { value: target, writable: true, configurable: true, enumerable: false });
  } else if (target.length + need > target.bytes.length) {
    const grown = new Uint8Array(Math.max(target.bytes.length * 2, target.length + need));
    grown.set(target.bytes.subarray(0, target.length));
    target.bytes = grown;
  }
  const bytes = target.bytes;
  let at = target.length;
  let value = tag >>> 0;
  while (value > 0x7f) {
    bytes[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  bytes[at++] = value;
  bytes.set(r.buf.subarray(start, end), at);
  target.length = at + end - start;
}

/** Writes back the unknown fields a decoded message kept (generated encoders call it after the known fields). */
export function writeUnknown(w: Writer, kept: unknown): void {
  if (kept instanceof UnknownFields) w.raw(kept.bytes.subarray(0, kept.length));
}
