/**
 * protobufjs's minimal runtime (Writer/Reader), the only part generated codecs need, plus the
 * few primitives it lacks for our type table: int64 as `bigint` (without the `long` package,
 * identically in Node and browsers), Timestamp as `Date`, bytes as plain `Uint8Array` views.
 */
import protobuf from 'protobufjs/minimal.js';

export type Writer = protobuf.Writer;
export type Reader = protobuf.Reader;

/** A writer over a growing buffer (a Node Buffer where available). */
export function createWriter(): Writer {
  return protobuf.Writer.create();
}

/** A reader over `bytes`, optionally starting at `offset` (so a frame header need not be sliced off). */
export function createReader(bytes: Uint8Array, offset = 0): Reader {
  const reader = new protobuf.Reader(bytes);
  reader.pos = offset;
  return reader;
}

const MASK_32 = 0xffffffffn;

/** Writes a signed 64-bit varint (two's complement, as protobuf int64). */
export function writeInt64(w: Writer, value: bigint): Writer {
  const lo = Number(value & MASK_32);
  const hi = Number((value >> 32n) & MASK_32);
  // protobufjs takes any { low, high } pair as a Long.
  return w.int64({ low: lo, high: hi, unsigned: false } as unknown as number);
}

/** Reads a 64-bit varint as a signed bigint. */
export function readInt64(r: Reader): bigint {
  const buf = r.buf;
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let pos = r.pos;
  for (let i = 0; i < 10; i++) {
    if (pos >= r.len) throw new RangeError(`index out of range: ${pos} + 1 > ${r.len}`);
    const b = buf[pos++]!;
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    shift += 7;
    if (b < 0x80) {
      r.pos = pos;
      return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    }
  }
  throw new RangeError('invalid varint encoding');
}

/** Writes a `Date` as google.protobuf.Timestamp (length-delimited, seconds=1, nanos=2). */
export function writeTimestamp(w: Writer, date: Date): Writer {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  w.fork();
  if (seconds !== 0) w.uint32(8).int64(seconds);
  if (nanos !== 0) w.uint32(16).int32(nanos);
  return w.ldelim();
}

/** Reads a google.protobuf.Timestamp into a `Date` (millisecond precision, like `Date`). */
export function readTimestamp(r: Reader): Date {
  const end = readEnd(r);
  let seconds = 0;
  let nanos = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 8) seconds = Number(readInt64(r));
    else if (tag === 16) nanos = r.int32();
    else skipField(r, tag);
  }
  return new Date(seconds * 1000 + Math.floor(nanos / 1_000_000));
}

/** Reads bytes as a plain `Uint8Array` view into the frame (no copy). */
export function readBytes(r: Reader): Uint8Array {
  const bytes = r.bytes();
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads a length prefix and returns where the nested message ends. */
export function readEnd(r: Reader): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > r.len) throw new RangeError(`index out of range: ${r.pos} + ${length} > ${r.len}`);
  return end;
}

/** Skips a field this version does not know (forward compatibility). */
export function skipField(r: Reader, tag: number): void {
  r.skipType(tag & 7);
}

/** The known-field set of a message without fields. */
export const noFields: ReadonlySet<number> = new Set();

/**
 * Skips an unknown field, but refuses a known field number with the wrong wire type: bytes
 * from an incompatible schema must fail, not decode into something plausible.
 */
export function skipUnknown(r: Reader, tag: number, known: ReadonlySet<number>): void {
  if (known.has(tag >>> 3)) {
    throw new TypeError(`field ${tag >>> 3} has wire type ${tag & 7}, which its type never uses`);
  }
  r.skipType(tag & 7);
}

/** A nested value claimed more bytes than its parent holds. */
export function overrun(r: Reader, end: number): never {
  throw new RangeError(`a nested value runs past its message (at ${r.pos}, message ends at ${end})`);
}
