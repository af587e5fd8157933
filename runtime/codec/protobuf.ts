/**
 * The Writer (writer.ts: protobufjs's bytes at less cost per value) and protobufjs's minimal
 * Reader, all generated codecs need, plus the few primitives they lack for our type table:
 * int64 as `bigint` (without the `long` package, identically in Node and browsers),
 * Timestamp as `Date`, bytes as plain `Uint8Array` views,
 * strings decoded strictly. Where p2pgen reads more strictly than protobuf requires, the
 * helper says so (docs/contracts.md, "Decoding"): bytes that could mean a wrong value are refused.
 */
import protobuf from 'protobufjs/minimal.js';
import { Writer } from './writer.js';
import { maxDepth, tooDeep } from './limits.js';

export { Writer };

/**
 * protobufjs's Reader, as far as generated decoders and these helpers use it. Declared here
 * rather than re-exported, so that compiling contracts against the runtime's declarations (what
 * `p2pgen build` does) never loads protobufjs's 100 KB of typings.
 */
export interface Reader {
  buf: Uint8Array;
  pos: number;
  len: number;
  uint32(): number;
  int32(): number;
  sint32(): number;
  bool(): boolean;
  fixed32(): number;
  sfixed32(): number;
  float(): number;
  double(): number;
  bytes(): Uint8Array;
  stringVerify(): string;
  skipType(wireType: number): unknown;
  uint32s(array?: number[]): number[];
  int32s(array?: number[]): number[];
  bools(array?: boolean[]): boolean[];
  floats(array?: number[]): number[];
  doubles(array?: number[]): number[];
}

/** A writer for one message or frame (writer.ts: it borrows a buffer kept between writers). */
export function createWriter(): Writer {
  return new Writer();
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
  return w.varint64(Number(value & MASK_32), Number((value >> 32n) & MASK_32));
}

/** The halves of the last 64-bit varint `readVarint64` read (module scratch: reading is synchronous). */
let varintLo = 0;
let varintHi = 0;

/** Reads a 64-bit varint into `varintLo` (unsigned lower half) and `varintHi` (signed upper half). */
function readVarint64(r: Reader): void {
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
      varintLo = lo >>> 0;
      varintHi = hi;
      return;
    }
  }
  throw new RangeError('invalid varint encoding');
}

/** Reads a 64-bit varint as a signed bigint. */
export function readInt64(r: Reader): bigint {
  readVarint64(r);
  return BigInt.asIntN(64, (BigInt(varintHi >>> 0) << 32n) | BigInt(varintLo));
}

/** Reads a 64-bit varint as a number, exact within ±2^53 (a Timestamp's seconds), allocating no bigint. */
function readInt64Number(r: Reader): number {
  readVarint64(r);
  return varintHi * 4294967296 + varintLo;
}

/** google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
export const TIMESTAMP_MIN_SECONDS = -62_135_596_800;
export const TIMESTAMP_MAX_SECONDS = 253_402_300_799;

/** Writes a `Date` as google.protobuf.Timestamp (length-delimited, seconds=1, nanos=2), a message at `depth`; never an invalid one. */
export function writeTimestamp(w: Writer, date: Date, depth = 1): Writer {
  if (depth > maxDepth) tooDeep(depth);
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  // Validators refuse such dates first; this keeps direct encoders from writing them.
  if (!(seconds >= TIMESTAMP_MIN_SECONDS && seconds <= TIMESTAMP_MAX_SECONDS)) throw new RangeError(`${ms} ms is outside google.protobuf.Timestamp's range (years 1 to 9999)`);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  // The length is known up front: no fork/ldelim (each allocates) for this small message.
  w.uint32((seconds !== 0 ? 1 + varintLength(seconds) : 0) + (nanos !== 0 ? 1 + varintLength(nanos) : 0));
  // seconds as int64 (two's complement halves; exact: |seconds| < 2^53).
  if (seconds !== 0) w.uint32(8).varint64(seconds >>> 0, Math.floor(seconds / 4294967296));
  if (nanos !== 0) w.uint32(16).int32(nanos);
  return w;
}

/** Bytes of a non-fractional number as a protobuf varint (negative: ten, as int64 sign-extends). */
function varintLength(n: number): number {
  if (n < 0) return 10;
  let length = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}

/**
 * Reads a google.protobuf.Timestamp into a `Date` (millisecond precision, like `Date`: finer
 * nanos are dropped). Stricter than protobuf: a Timestamp outside its documented range or
 * with nanos outside 0..999,999,999 is refused, not turned into some other date. `depth` is
 * the Timestamp's own as a message (limits.ts).
 */
export function readTimestamp(r: Reader, depth = 1): Date {
  if (depth > maxDepth) tooDeep(depth);
  const end = readEnd(r);
  let seconds = 0;
  let nanos = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 8) seconds = readInt64Number(r);
    else if (tag === 16) nanos = r.int32();
    else skipField(r, tag);
  }
  if (r.pos !== end) overrun(r, end);
  if (!(seconds >= TIMESTAMP_MIN_SECONDS && seconds <= TIMESTAMP_MAX_SECONDS) || nanos < 0 || nanos > 999_999_999) {
    throw new RangeError(`an invalid google.protobuf.Timestamp (seconds ${seconds}, nanos ${nanos})`);
  }
  return new Date(seconds * 1000 + Math.floor(nanos / 1_000_000));
}

/**
 * Reads a string. Stricter than protobufjs's `string()` (which replaces what it cannot
 * decode): bytes that are not UTF-8 are refused, as protobuf's spec requires of proto3 strings.
 * protobufjs's `stringVerify()` reads ASCII eight bytes at a time and hands the rest to a fatal
 * TextDecoder.
 */
export function readString(r: Reader): string {
  try {
    return r.stringVerify();
  } catch (error) {
    // The fatal TextDecoder throws a TypeError for bytes that are not UTF-8; anything else is the length.
    if (error instanceof TypeError) throw new TypeError(`a string field is not valid UTF-8 (at ${r.pos})`);
    throw new RangeError(`a string's length runs past the end of the bytes (${(error as Error).message})`);
  }
}

/**
 * A singular message-typed field (an entity, union, Timestamp, wrapper) read a second time.
 * Stricter than protobuf, which merges the two: p2pgen writers never repeat one, and merging
 * into class instances and unions would guess at intent; refusing never yields a wrong value.
 */
export function once<T>(previous: T | null | undefined, next: T): T {
  if (previous != null) throw new TypeError('a message field appears twice (p2pgen does not merge repeated message fields)');
  return next;
}

/**
 * A member of a union (a oneof) read when one was already: protobuf keeps the last, p2pgen
 * refuses (its writers set exactly one, and taking the last would guess).
 */
export function oneMember<T>(previous: T | undefined, next: T, unionName: string): T {
  if (previous !== undefined) throw new TypeError(`union ${unionName} has more than one member set (a oneof holds one value; p2pgen does not take the last)`);
  return next;
}

/** Adds a decoded element to a Set field: one that is already there is refused (a writer of a Set never sends one twice; collapsing it would change a list's value). */
export function addUnique<T>(set: ReadonlySet<T>, value: T): void {
  // (A decoder made it a Set; the contract may type it a ReadonlySet.)
  if (set.has(value)) throw new TypeError(`an element of a Set appears twice (${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value)})`);
  (set as Set<T>).add(value);
}

/** An enum number this version has no member for (proto3 would keep the number; p2pgen refuses it). */
export function unknownEnumValue(enumName: string, n: number): never {
  throw new TypeError(`${n} is not a value of ${enumName} here${n === 0 ? ' (0 is never a value)' : ''}`);
}

/** A union with no member this version knows (an added member, or none on the wire). */
export function noUnionMember(unionName: string): never {
  throw new TypeError(`no member of ${unionName} this version knows`);
}

/**
 * Reads bytes as a plain `Uint8Array` view into the frame (no copy). Made here, not by the
 * reader's `bytes()`, whose view of a Node Buffer is a Buffer that would need a second view.
 */
export function readBytes(r: Reader): Uint8Array {
  const end = readEnd(r);
  const start = r.pos;
  r.pos = end;
  const buf = r.buf;
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** Reads a length prefix and returns where the nested message ends. */
export function readEnd(r: Reader): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > r.len) throw new RangeError(`index out of range: ${r.pos} + ${length} > ${r.len}`);
  return end;
}

/** Skips a field this version does not know (forward compatibility); field number 0 is never one (protobuf parsers must refuse it). */
export function skipField(r: Reader, tag: number): void {
  if (tag >>> 3 === 0) throw new TypeError(`field number 0 (tag ${tag}) is not a field: protobuf reserves it`);
  r.skipType(tag & 7);
}

/**
 * A known field number with a wire type its type never uses: bytes from an incompatible schema
 * must fail, not decode into something plausible (unknown numbers are skipped with `skipField`).
 */
export function wrongWireType(tag: number): never {
  throw new TypeError(`field ${tag >>> 3} has wire type ${tag & 7}, which its type never uses`);
}

/** A nested value claimed more bytes than its parent holds. */
export function overrun(r: Reader, end: number): never {
  throw new RangeError(`a nested value runs past its message (at ${r.pos}, message ends at ${end})`);
}
