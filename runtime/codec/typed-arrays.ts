/**
 * Typed arrays as packed repeated fields (the generator's table: cli/model/typed-arrays.ts).
 * Float32Array, Float64Array, Int32Array, Uint32Array, BigInt64Array and BigUint64Array travel
 * as fixed-width scalars (float, double, sfixed32, fixed32, sfixed64, fixed64): their packed
 * bytes are the array's own little-endian bytes, so they are written in one copy and read as a
 * view into the received frame when it is aligned for the element size, else in one copy: never
 * element by element (on a little-endian platform; a big-endian one goes through a DataView).
 * Int8Array and Int16Array travel as zigzag varints (sint32), Uint8ClampedArray and
 * Uint16Array as varints (uint32); the reader refuses a value outside the array's range.
 *
 * A field may arrive in several packed pieces, or unpacked (one element per tag), as protobuf
 * allows: pieces after the first are appended into a buffer grown by doubling, so many small
 * pieces cost no more than one large one.
 */
import type { Reader, Writer } from './protobuf.js';
import type { ValidationIssue } from './validation.js';
import { reject, type Key } from './checks.js';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Int16Array
  | Int8Array
  | Uint16Array
  | Uint8ClampedArray;

/** What generated code passes to name a typed array's kind: its constructor. */
export interface TypedArrayKind<T extends TypedArray> {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

interface Spec {
  /** Fixed-width elements (viewable), or varints. */
  fixed: boolean;
  /** Varints: zigzag (signed) or plain; and the range an element must be in. */
  zigzag?: boolean;
  min?: number;
  max?: number;
  /** Fixed-width: how one element is read and written through a DataView (little-endian). */
  get?: (view: DataView, at: number) => number | bigint;
  set?: (view: DataView, at: number, value: never) => void;
}

const specs = new Map<unknown, Spec>([
  [Float32Array, { fixed: true, get: (v, at) => v.getFloat32(at, true), set: (v, at, x: number) => v.setFloat32(at, x, true) }],
  [Float64Array, { fixed: true, get: (v, at) => v.getFloat64(at, true), set: (v, at, x: number) => v.setFloat64(at, x, true) }],
  [Int32Array, { fixed: true, get: (v, at) => v.getInt32(at, true), set: (v, at, x: number) => v.setInt32(at, x, true) }],
  [Uint32Array, { fixed: true, get: (v, at) => v.getUint32(at, true), set: (v, at, x: number) => v.setUint32(at, x, true) }],
  [BigInt64Array, { fixed: true, get: (v, at) => v.getBigInt64(at, true), set: (v, at, x: bigint) => v.setBigInt64(at, x, true) }],
  [BigUint64Array, { fixed: true, get: (v, at) => v.getBigUint64(at, true), set: (v, at, x: bigint) => v.setBigUint64(at, x, true) }],
  [Int16Array, { fixed: false, zigzag: true, min: -32768, max: 32767 }],
  [Int8Array, { fixed: false, zigzag: true, min: -128, max: 127 }],
  [Uint16Array, { fixed: false, min: 0, max: 65535 }],
  [Uint8ClampedArray, { fixed: false, min: 0, max: 255 }],
]);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function specOf(kind: TypedArrayKind<TypedArray>): Spec {
  const spec = specs.get(kind);
  if (!spec) throw new TypeError(`${kind.name} is not a typed array p2pgen maps`);
  return spec;
}

/** Bytes of a uint32 as a varint. */
function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Writes `values` as the body of a packed field (its length, then the elements); the caller wrote the tag. */
export function writeTyped<T extends TypedArray>(w: Writer, values: T, kind: TypedArrayKind<T>): Writer {
  const spec = specOf(kind);
  if (spec.fixed) {
    w.uint32(values.byteLength);
    if (LITTLE_ENDIAN) return w.raw(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    const bytes = new Uint8Array(values.byteLength);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) spec.set!(view, i * kind.BYTES_PER_ELEMENT, values[i] as never);
    return w.raw(bytes);
  }
  const numbers = values as ArrayLike<number>;
  let size = 0;
  for (let i = 0; i < numbers.length; i++) size += varintSize(spec.zigzag ? zigzag(numbers[i]!) : numbers[i]!);
  w.uint32(size);
  for (let i = 0; i < numbers.length; i++) w.uint32(spec.zigzag ? zigzag(numbers[i]!) : numbers[i]!);
  return w;
}

function zigzag(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/** Reads a packed piece of a typed-array field and returns the field's value with it appended (`previous` holds what came before). */
export function readTyped<T extends TypedArray>(r: Reader, previous: T, kind: TypedArrayKind<T>): T {
  const spec = specOf(kind);
  const length = r.uint32();
  const start = r.pos;
  const end = start + length;
  if (end > r.len) throw new RangeError(`a packed ${kind.name} of ${length} bytes runs past the end of the bytes (at ${start})`);
  r.pos = end;
  if (spec.fixed) {
    const size = kind.BYTES_PER_ELEMENT;
    if (length % size !== 0) throw new TypeError(`a packed ${kind.name} of ${length} bytes is not a whole number of ${size}-byte elements`);
    const count = length / size;
    let piece: T;
    if (LITTLE_ENDIAN && (r.buf.byteOffset + start) % size === 0) {
      piece = new kind(r.buf.buffer, r.buf.byteOffset + start, count); // a view: no copy
    } else if (LITTLE_ENDIAN) {
      const copy = new Uint8Array(length);
      copy.set(r.buf.subarray(start, end));
      piece = new kind(copy.buffer, 0, count);
    } else {
      piece = new kind(count);
      const view = new DataView(r.buf.buffer, r.buf.byteOffset + start, length);
      for (let i = 0; i < count; i++) piece[i] = spec.get!(view, i * size) as never;
    }
    if (previous.length === 0) return piece;
    const joined = grow(previous, count, kind);
    joined.set(piece as never, previous.length);
    return joined;
  }
  // Varints: count them (each ends with a byte below 0x80), then read them into place.
  let count = 0;
  for (let at = start; at < end; at++) if (r.buf[at]! < 0x80) count++;
  const joined = previous.length === 0 ? new kind(count) : grow(previous, count, kind);
  r.pos = start;
  for (let i = previous.length; r.pos < end; i++) joined[i] = readVarint(r, spec, kind) as never;
  if (r.pos !== end) throw new RangeError(`a packed ${kind.name}'s last varint runs past its length (at ${r.pos}, it ends at ${end})`);
  return joined;
}

/** Reads one element of a typed-array field written unpacked (one per tag) and returns the field's value with it appended. */
export function readTypedOne<T extends TypedArray>(r: Reader, previous: T, kind: TypedArrayKind<T>): T {
  const spec = specOf(kind);
  let value: number | bigint;
  if (spec.fixed) {
    const size = kind.BYTES_PER_ELEMENT;
    if (r.pos + size > r.len) throw new RangeError(`a ${kind.name} element runs past the end of the bytes (at ${r.pos})`);
    value = spec.get!(new DataView(r.buf.buffer, r.buf.byteOffset + r.pos, size), 0);
    r.pos += size;
  } else {
    value = readVarint(r, spec, kind);
  }
  const joined = grow(previous, 1, kind);
  joined[previous.length] = value as never;
  return joined;
}

function readVarint(r: Reader, spec: Spec, kind: TypedArrayKind<TypedArray>): number {
  const value = spec.zigzag ? r.sint32() : r.uint32();
  if (value < spec.min! || value > spec.max!) throw new TypeError(`${value} is outside ${kind.name}'s range (${spec.min} to ${spec.max})`);
  return value;
}

/** Element capacity of the buffers `grow` allocated (appending to anything else copies it first). */
const capacities = new WeakMap<ArrayBufferLike, number>();

/** `previous` followed by room for `extra` elements: appended in place when `previous` ends a buffer grown here with room left. */
function grow<T extends TypedArray>(previous: T, extra: number, kind: TypedArrayKind<T>): T {
  const need = previous.length + extra;
  const capacity = capacities.get(previous.buffer);
  if (capacity !== undefined && previous.byteOffset === 0 && need <= capacity) return new kind(previous.buffer, 0, need);
  const size = Math.max(8, need, previous.length * 2);
  const next = new kind(size);
  next.set(previous as never);
  capacities.set(next.buffer, size);
  return new kind(next.buffer, 0, need);
}

/** A typed array of the field's kind (a plain array or another typed array is refused: it would decode as this kind). */
export function checkTyped<T extends TypedArray>(v: unknown, kind: TypedArrayKind<T>, key: Key, issues: ValidationIssue[]): v is T {
  return v instanceof kind || reject(v, `a ${kind.name}`, key, issues);
}
