/**
 * The protobuf writer generated encoders and data-path frames write with. It has the methods
 * of protobufjs's Writer that they use, and writes the same bytes, but costs less per value:
 *
 * - One buffer is kept between writers (a spare, taken by `createWriter` and given back by
 *   `finish`), so a message is written without growing a fresh buffer from 128 bytes each
 *   time; `finish` copies the bytes out into one buffer of their exact length, always a Node
 *   Buffer where there is one, as protobufjs's BufferWriter gives: readers see one kind of
 *   array (plain Uint8Arrays for small messages measured no faster, and are zero-filled). A
 *   message that outgrew the spare is in a buffer grown for it alone, unfilled: `finish` hands
 *   that buffer out as it is when the message fills most of it (no copy of a large message; a
 *   frame of 16 KiB calls was copied twice on its way out, into the writer and out of it), and
 *   the spare stays for the next writer. A writer that throws half-way never gives the
 *   spare back: the next one allocates another, so an error costs an allocation, never bytes.
 *   Two writers alive at once (an encoder re-entered from a getter) each have their own.
 * - Doubles and floats go through a DataView kept with the buffer; short strings through a
 *   loop, long ones through the platform's UTF-8 encoder (Node's `utf8Write`, else
 *   `TextEncoder.encodeInto`). A lone surrogate is written as U+FFFD either way, as
 *   TextEncoder and Node do. That is the one place the bytes can differ from protobufjs's,
 *   whose own loop (strings under 40 units in Node, all in browsers) writes the surrogate's
 *   three bytes, which are not UTF-8 (p2pgen's reader refuses them); validators refuse such
 *   strings before anything is written, so valid values are written identically.
 * - A string of fewer than 43 UTF-16 units is at most 126 bytes, so its one-byte length is
 *   written after it without moving it; up to 127 units it is written where a two-byte length
 *   would end and moved back if need be; longer ones are measured first (never 3 bytes of room
 *   per unit for a large string). Packed numbers are measured before they are written.
 */
import protobuf from 'protobufjs/minimal.js';

/** Node's Buffer where there is one (found as protobufjs finds it, never imported). */
interface NodeBuffer {
  allocUnsafe(size: number): Uint8Array;
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array;
  byteLength(text: string): number;
  prototype: { utf8Write(this: Uint8Array, text: string, offset: number): number };
}
const nodeBuffer = (protobuf.util.Buffer as unknown as NodeBuffer | null) ?? null;
const utf8Write = nodeBuffer?.prototype.utf8Write;
const textEncoder = new TextEncoder();

/** The size of the buffer kept for the next writer; a message larger than this leaves in a buffer of its own. */
const SPARE_SIZE = 8192;
/** From this length on a string is written by the platform's encoder (a call costs about as much as this many characters in the loop). */
const NATIVE_STRING_LENGTH = 24;

/** From here on a number rounds to Infinity as a float32 (2^128 - 2^103, halfway past the largest float32). */
const FLOAT32_OVERFLOW = 3.4028235677973366e38;

function float32Overflow(value: number): never {
  throw new RangeError(`${value} is beyond float32's range: it would be written as ${value > 0 ? '' : '-'}Infinity`);
}

let spare: Uint8Array | null = null;
let spareView: DataView | null = null;
const EMPTY = new Uint8Array(0);

/** An output buffer of `size` bytes: Node's pooled allocation (always, see above), or a plain Uint8Array. */
function allocate(size: number): Uint8Array {
  return nodeBuffer !== null ? nodeBuffer.allocUnsafe(size) : new Uint8Array(size);
}

/** Bytes of `value` (an unsigned 32-bit integer) as a varint. */
function varint32Size(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

export class Writer {
  /** The buffer being written; bytes [0, pos) are the output so far. */
  buf: Uint8Array;
  pos = 0;
  private view: DataView | null;
  /** Positions of the length bytes `fork` reserved, innermost last. */
  private forks: number[] | null = null;

  constructor() {
    if (spare !== null) {
      this.buf = spare;
      this.view = spareView;
      spare = spareView = null;
    } else {
      this.buf = new Uint8Array(SPARE_SIZE);
      this.view = null;
    }
  }

  /** Makes room for `n` more bytes. */
  private reserve(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /**
   * Moves to a buffer with room for `n` more bytes: not zero-filled (only [0, pos) is ever read),
   * and the one it leaves, when it is the spare's size, becomes the spare at once: a large message
   * (handed out by `finish`) does not make the next writer allocate a fresh spare. Only that size:
   * a larger spare would make every message that outgrows it leave in a buffer twice its size.
   */
  private grow(n: number): void {
    const old = this.buf;
    const bigger = allocate(Math.max(old.length * 2, this.pos + n));
    bigger.set(old.subarray(0, this.pos));
    this.buf = bigger;
    if (spare === null && old.length === SPARE_SIZE) {
      spare = old;
      spareView = this.view;
    }
    this.view = null;
  }

  private dataView(): DataView {
    return (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  /** An unsigned 32-bit varint (the value is taken modulo 2^32, as protobufjs does). */
  uint32(value: number): this {
    value >>>= 0;
    if (this.pos + 5 > this.buf.length) this.grow(5);
    const buf = this.buf;
    let pos = this.pos;
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.pos = pos;
    return this;
  }

  /** A signed 32-bit varint: a negative value takes ten bytes (sign-extended to 64 bits), as protobuf says. */
  int32(value: number): this {
    value |= 0;
    return value < 0 ? this.varint64(value >>> 0, -1) : this.uint32(value);
  }

  /** A 64-bit varint from its halves (`lo` unsigned, `hi` any 32-bit pattern). */
  varint64(lo: number, hi: number): this {
    lo >>>= 0;
    hi >>>= 0;
    if (hi === 0) return this.uint32(lo);
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const buf = this.buf;
    let pos = this.pos;
    // 28 bits of lo, then 4 of lo with 3 of hi, then the rest of hi.
    for (let i = 0; i < 4; i++) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    let value = lo | ((hi & 0x7) << 4);
    hi >>>= 3;
    if (hi === 0) {
      buf[pos++] = value;
    } else {
      buf[pos++] = value | 0x80;
      while (hi > 0x7f) {
        buf[pos++] = (hi & 0x7f) | 0x80;
        hi >>>= 7;
      }
      buf[pos++] = hi;
    }
    this.pos = pos;
    return this;
  }

  bool(value: boolean): this {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  fixed32(value: number): this {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    const buf = this.buf;
    const pos = this.pos;
    buf[pos] = value;
    buf[pos + 1] = value >>> 8;
    buf[pos + 2] = value >>> 16;
    buf[pos + 3] = value >>> 24;
    this.pos = pos + 4;
    return this;
  }

  double(value: number): this {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    this.dataView().setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  /** A float32; a finite number beyond float32's range is refused (it would be written as ±Infinity), as protobuf-es refuses it. */
  float(value: number): this {
    if (Math.abs(value) >= FLOAT32_OVERFLOW && Number.isFinite(value)) float32Overflow(value);
    if (this.pos + 4 > this.buf.length) this.grow(4);
    this.dataView().setFloat32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  /** A length-delimited string in UTF-8. */
  string(value: string): this {
    const n = value.length;
    if (n < 43) {
      // At most three bytes per UTF-16 unit, plus the one-byte length.
      this.reserve(n * 3 + 1);
      const start = this.pos;
      const end = n < NATIVE_STRING_LENGTH ? writeUtf8(value, this.buf, start + 1) : start + 1 + this.nativeUtf8(value, start + 1);
      this.buf[start] = end - start - 1;
      this.pos = end;
      return this;
    }
    if (n < 128) {
      // The length takes one byte or two: write the bytes after two and move them back if one will do.
      this.reserve(n * 3 + 2);
      const start = this.pos;
      const length = this.nativeUtf8(value, start + 2);
      if (length < 0x80) {
        this.buf.copyWithin(start + 1, start + 2, start + 2 + length);
        this.buf[start] = length;
        this.pos = start + 1 + length;
      } else {
        this.buf[start] = (length & 0x7f) | 0x80;
        this.buf[start + 1] = length >>> 7;
        this.pos = start + 2 + length;
      }
      return this;
    }
    // Long: measured first, so the room reserved is the bytes themselves.
    const length = nodeBuffer !== null ? nodeBuffer.byteLength(value) : utf8Length(value);
    this.uint32(length);
    this.reserve(length);
    this.pos += this.nativeUtf8(value, this.pos);
    return this;
  }

  /** Writes `value` at `at` with the platform's UTF-8 encoder (room is reserved); returns the byte count. */
  private nativeUtf8(value: string, at: number): number {
    if (utf8Write !== undefined) return utf8Write.call(this.buf, value, at);
    return textEncoder.encodeInto(value, this.buf.subarray(at)).written;
  }

  /** Length-delimited bytes. */
  bytes(value: Uint8Array): this {
    const n = value.length;
    this.uint32(n);
    return n === 0 ? this : this.raw(value);
  }

  /** Bytes as they are, no length. */
  raw(value: Uint8Array): this {
    const n = value.length;
    this.reserve(n);
    if (n <= 16) for (let i = 0; i < n; i++) this.buf[this.pos + i] = value[i]!;
    else this.buf.set(value, this.pos);
    this.pos += n;
    return this;
  }

  /** Packed repeated fields: the length, then the values. */
  uint32s(values: readonly number[]): this {
    let size = 0;
    for (let i = 0; i < values.length; i++) size += varint32Size(values[i]! >>> 0);
    this.uint32(size);
    for (let i = 0; i < values.length; i++) this.uint32(values[i]!);
    return this;
  }

  int32s(values: readonly number[]): this {
    let size = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]! | 0;
      size += v < 0 ? 10 : varint32Size(v);
    }
    this.uint32(size);
    for (let i = 0; i < values.length; i++) this.int32(values[i]!);
    return this;
  }

  bools(values: readonly boolean[]): this {
    this.uint32(values.length);
    this.reserve(values.length);
    for (let i = 0; i < values.length; i++) this.buf[this.pos++] = values[i] ? 1 : 0;
    return this;
  }

  doubles(values: readonly number[]): this {
    this.uint32(values.length * 8);
    this.reserve(values.length * 8);
    const view = this.dataView();
    for (let i = 0; i < values.length; i++, this.pos += 8) view.setFloat64(this.pos, values[i]!, true);
    return this;
  }

  floats(values: readonly number[]): this {
    this.uint32(values.length * 4);
    this.reserve(values.length * 4);
    const view = this.dataView();
    for (let i = 0; i < values.length; i++, this.pos += 4) {
      const value = values[i]!;
      if (Math.abs(value) >= FLOAT32_OVERFLOW && Number.isFinite(value)) float32Overflow(value);
      view.setFloat32(this.pos, value, true);
    }
    return this;
  }

  /** Starts a length-delimited value: one byte is reserved for its length, `ldelim` fills it in. */
  fork(): this {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    (this.forks ??= []).push(this.pos++);
    return this;
  }

  /** Ends the value `fork` started: writes its length, moving the value when the length takes more than a byte. */
  ldelim(): this {
    const at = this.forks?.pop();
    // (protobufjs would prefix the whole buffer; nothing here ends a value it did not start.)
    if (at === undefined) throw new Error('ldelim without a fork');
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buf[at] = length;
      return this;
    }
    const size = varint32Size(length);
    this.reserve(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos = at;
    this.uint32(length);
    this.pos += length;
    return this;
  }

  /**
   * The bytes written, in a buffer the caller owns. The writer is done: its buffer goes back
   * for the next one (the bytes copied out), or, when the message outgrew the spare and fills
   * at least three quarters of the buffer `grow` allocated for it alone, is handed out as it is
   * (past the size Node pools, so it shares memory with nothing). A message in a buffer doubled
   * for it is copied out instead: a queued frame never holds much more memory than its length
   * says. (`_shared` is protobufjs's "hand out your own buffer" flag: the result never shares
   * memory with another writer either way.)
   */
  finish(_shared?: boolean): Uint8Array {
    const { buf, pos, view } = this;
    this.buf = EMPTY;
    this.pos = 0;
    this.view = null;
    if (pos > SPARE_SIZE && pos * 4 >= buf.length * 3) return nodeBuffer !== null ? nodeBuffer.from(buf.buffer, buf.byteOffset, pos) : buf.subarray(0, pos);
    const out = allocate(pos);
    if (pos <= 32) for (let i = 0; i < pos; i++) out[i] = buf[i]!;
    else out.set(buf.subarray(0, pos));
    // Only the spare's size goes back (a writer finished twice has nothing to give; one that grew, or was written to again after it finished, has another size).
    if (buf.length === SPARE_SIZE) {
      spare = buf;
      spareView = view;
    }
    return out;
  }
}

/** The UTF-8 length of `value` (a lone surrogate counts as U+FFFD, three bytes, as it is written). */
export function utf8Length(value: string): number {
  let length = value.length;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) length += 1;
    else if ((c & 0xfc00) === 0xd800 && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 2; // a pair: two units, four bytes
      i++;
    } else length += 2;
  }
  return length;
}

/** Writes `value` as UTF-8 at `pos` (room is reserved); returns the position after it. */
function writeUtf8(value: string, buf: Uint8Array, pos: number): number {
  for (let i = 0; i < value.length; i++) {
    let c = value.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
      continue;
    }
    if (c < 0x800) {
      buf[pos++] = (c >> 6) | 0xc0;
      buf[pos++] = (c & 0x3f) | 0x80;
      continue;
    }
    if ((c & 0xfc00) === 0xd800) {
      const next = value.charCodeAt(i + 1);
      if ((next & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x3ff) << 10) + (next & 0x3ff);
        i++;
        buf[pos++] = (c >> 18) | 0xf0;
        buf[pos++] = ((c >> 12) & 0x3f) | 0x80;
        buf[pos++] = ((c >> 6) & 0x3f) | 0x80;
        buf[pos++] = (c & 0x3f) | 0x80;
        continue;
      }
      c = 0xfffd; // a lone high surrogate
    } else if ((c & 0xfc00) === 0xdc00) {
      c = 0xfffd; // a lone low surrogate
    }
    buf[pos++] = (c >> 12) | 0xe0;
    buf[pos++] = ((c >> 6) & 0x3f) | 0x80;
    buf[pos++] = (c & 0x3f) | 0x80;
  }
  return pos;
}
