/**
 * p2pgen's Writer (runtime/codec/writer.ts) writes the bytes protobufjs's Writer writes, for
 * every method generated code and frames use, on random values and sequences (nested forks
 * included), and its buffer kept between writers never lets one writer's bytes show up in
 * another's output: not with several writers alive at once, not after one threw half-way.
 * The one documented difference, a lone surrogate, is pinned down too.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createWriter, writeInt64, type Writer } from '../runtime/codec/protobuf.js';

/** One write, as data, so the same sequence can go through both writers. */
type Op =
  | { m: 'uint32' | 'int32' | 'fixed32' | 'double' | 'float'; v: number }
  | { m: 'bool'; v: boolean }
  | { m: 'string'; v: string }
  | { m: 'bytes' | 'raw'; v: Uint8Array }
  | { m: 'uint32s' | 'int32s' | 'doubles' | 'floats'; v: number[] }
  | { m: 'bools'; v: boolean[] }
  | { m: 'varint64'; lo: number; hi: number }
  | { m: 'nest'; ops: Op[] };

type Methods = Record<string, (...args: unknown[]) => unknown>;

function apply(w: Methods, ops: readonly Op[], reference: boolean): void {
  for (const op of ops) {
    if (op.m === 'nest') {
      w.uint32!(10);
      w.fork!();
      apply(w, op.ops, reference);
      w.ldelim!();
    } else if (op.m === 'varint64') {
      // protobufjs takes any { low, high } pair as a Long.
      if (reference) w.int64!({ low: op.lo | 0, high: op.hi | 0, unsigned: false });
      else w.varint64!(op.lo, op.hi);
    } else w[op.m]!(op.v);
  }
}

const ours = (ops: readonly Op[], w: Writer = createWriter()) => {
  apply(w as unknown as Methods, ops, false);
  return w.finish();
};
const theirs = (ops: readonly Op[]) => {
  const w = protobuf.Writer.create();
  apply(w as unknown as Methods, ops, true);
  return w.finish();
};
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
const expectSame = (ops: readonly Op[]): void => {
  expect(hex(ours(ops))).toBe(hex(theirs(ops)));
};

// Values: the edges on purpose (fast-check biases towards them too), and numbers out of each
// method's range, which both writers must coerce alike (uint32 modulo 2^32, int32 by `| 0`).
const anyNumber = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 1.5, -1.5));
const float64 = fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, 2 ** -1074, 1e-310));
/** What a float32 can be written from: a float64 whose float32 rounding is finite unless it is (the Writer refuses the rest: below). */
const float32 = fc
  .oneof(fc.float(), float64, fc.constantFrom(3.4028234663852886e38, 3.4028235677973362e38, 1.401298464324817e-45, 1e-46))
  .filter((v) => Number.isFinite(Math.fround(v)) || !Number.isFinite(v));
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
/** Well-formed strings of every UTF-8 length per unit (a lone surrogate is the one case where the writers differ: below). */
const text = (maxLength: number) =>
  fc.string({ unit: fc.oneof(fc.constantFrom('a', 'é', '€', '😀', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '\u{10ffff}'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength });
/** Strings around each length where the writer changes path (42/43 and 127/128 units) or the length prefix grows. */
const edgeText = fc.tuple(fc.constantFrom(0, 1, 23, 24, 25, 39, 40, 41, 42, 43, 44, 63, 64, 127, 128, 129, 5461, 16383, 16384), fc.constantFrom('x', 'é', '€', '😀'), text(3)).map(([n, unit, tail]) => unit.repeat(n) + tail);

const leaf: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ m: fc.constantFrom('uint32' as const, 'int32' as const, 'fixed32' as const), v: anyNumber }),
  fc.record({ m: fc.constant('double' as const), v: float64 }),
  fc.record({ m: fc.constant('float' as const), v: float32 }),
  fc.record({ m: fc.constant('bool' as const), v: fc.boolean() }),
  fc.record({ m: fc.constant('string' as const), v: fc.oneof(text(60), edgeText) }),
  fc.record({ m: fc.constantFrom('bytes' as const, 'raw' as const), v: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 120, maxLength: 300 })) }),
  fc.record({ m: fc.constant('uint32s' as const), v: fc.array(fc.oneof(uint32, anyNumber), { maxLength: 40 }) }),
  fc.record({ m: fc.constant('int32s' as const), v: fc.array(fc.oneof(int32, anyNumber), { maxLength: 40 }) }),
  fc.record({ m: fc.constant('doubles' as const), v: fc.array(float64, { maxLength: 30 }) }),
  fc.record({ m: fc.constant('floats' as const), v: fc.array(float32, { maxLength: 30 }) }),
  fc.record({ m: fc.constant('bools' as const), v: fc.array(fc.boolean(), { maxLength: 200 }) }),
  fc.record({ m: fc.constant('varint64' as const), lo: uint32, hi: fc.oneof(uint32, fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff)) }),
);
/** Sequences of writes with length-delimited values nested in them, a few levels deep. */
const ops: fc.Arbitrary<Op[]> = fc.letrec<{ ops: Op[]; op: Op }>((tie) => ({
  op: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.record({ m: fc.constant('nest' as const), ops: tie('ops') })),
  ops: fc.array(tie('op'), { maxLength: 12 }),
})).ops;

describe('Writer writes what protobufjs writes', () => {
  it('for random sequences of every method, with nested length-delimited values', () => {
    fc.assert(fc.property(ops, (sequence) => expectSame(sequence)), { numRuns: 1000 });
  });

  it('for each number edge by itself: 0, -0, NaN, infinities, subnormals, floats out of range, integers out of range', () => {
    for (const v of [0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 3.5e38, 1e-46, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 32 + 5, -1, 1.5, -0.5, 2 ** 53]) {
      const asFloat32: Op[] = Number.isFinite(v) && !Number.isFinite(Math.fround(v)) ? [] : [{ m: 'float', v }, { m: 'floats', v: [v] }];
      expectSame([{ m: 'double', v }, ...asFloat32, { m: 'uint32', v }, { m: 'int32', v }, { m: 'fixed32', v }, { m: 'doubles', v: [v, v] }, { m: 'uint32s', v: [v] }, { m: 'int32s', v: [v] }]);
    }
  });

  it('refuses a finite float32 beyond its range (protobufjs writes it as Infinity; protobuf-es refuses it too)', () => {
    for (const v of [3.4028235677973366e38, 3.5e38, -1e39, Number.MAX_VALUE]) {
      expect(() => createWriter().float(v)).toThrow(/beyond float32's range: it would be written as -?Infinity/);
      expect(() => createWriter().floats([0, v])).toThrow(/beyond float32's range/);
      expect(() => new BinaryWriter().float(v)).toThrow(/invalid float32/);
    }
  });

  it('for 64-bit varints from their halves, and int64 extremes through writeInt64 as protobuf-es writes the bigint', () => {
    fc.assert(fc.property(uint32, uint32, (lo, hi) => expectSame([{ m: 'varint64', lo, hi }])));
    const int64 = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), 2n ** 53n, -(2n ** 53n), 2n ** 31n, -(2n ** 31n)));
    fc.assert(
      fc.property(int64, (v) => {
        expect(hex(writeInt64(createWriter(), v).finish())).toBe(hex(new BinaryWriter().int64(v).finish()));
      }),
    );
  });

  it('for strings of every length around the writer\'s paths and the length sizes, also past the kept buffer\'s size', () => {
    for (const n of [0, 1, 23, 24, 25, 39, 40, 42, 43, 44, 127, 128, 129, 5461, 8191, 8192, 8193, 16383, 16384, 70_000, 300_000]) {
      for (const unit of ['x', 'é', '€', '😀']) expectSame([{ m: 'string', v: unit.repeat(unit.length === 2 ? n >> 1 : n) }]);
    }
    fc.assert(fc.property(fc.array(fc.oneof(text(200), edgeText), { maxLength: 5 }), (texts) => expectSame(texts.map((v) => ({ m: 'string', v })))), { numRuns: 300 });
    fc.assert(fc.property(text(12_000), (v) => expectSame([{ m: 'uint32', v: 8 }, { m: 'string', v }])), { numRuns: 20 });
  });

  it('for nested length-delimited values of every length size, and values larger than the kept buffer', () => {
    for (const n of [0, 1, 126, 127, 128, 129, 8190, 8192, 16383, 16384, 16385, 65_536, 2_097_152]) {
      const body: Op = { m: 'raw', v: new Uint8Array(n).fill(7) };
      expectSame([{ m: 'nest', ops: [body, { m: 'nest', ops: [{ m: 'string', v: 'inner' }] }] }, { m: 'uint32', v: 24 }]);
      expectSame([{ m: 'nest', ops: [{ m: 'nest', ops: [{ m: 'nest', ops: [body] }] }] }]);
      expectSame([{ m: 'bytes', v: body.v }]);
    }
  });
});

describe('a lone surrogate (which validators refuse before anything is written)', () => {
  it('is written as U+FFFD whatever the length, as TextEncoder and Node write it', () => {
    for (const n of [0, 1, 22, 23, 24, 41, 42, 43, 126, 127, 128, 5000]) {
      for (const t of [`${'x'.repeat(n)}\uD800`, `\uDC00${'é'.repeat(n)}`, `${'x'.repeat(n)}\uDBFF\uDBFF${'x'.repeat(n)}`, `\uDFFF\uD800${'€'.repeat(n)}`]) {
        const expected = new TextEncoder().encode(t);
        expect(Buffer.from(t).equals(expected)).toBe(true);
        const bytes = createWriter().string(t).finish();
        expect(hex(bytes.subarray(bytes.length - expected.length))).toBe(hex(expected));
        // The length prefix is the bytes' own: reading it back gives the string with U+FFFD.
        expect(protobuf.Reader.create(bytes).string()).toBe(new TextDecoder().decode(expected));
      }
    }
  });

  it('is where protobufjs differs: its own loop (short strings in Node) writes the surrogate\'s three bytes, which are not UTF-8', () => {
    expect(hex(protobuf.Writer.create().string('a\uD800').finish())).toBe('0461eda080');
    expect(hex(createWriter().string('a\uD800').finish())).toBe('0461efbfbd');
    // From 40 units on protobufjs uses Node's encoder too, and the writers agree.
    const long = `${'x'.repeat(40)}\uD800`;
    expect(hex(createWriter().string(long).finish())).toBe(hex(protobuf.Writer.create().string(long).finish()));
  });
});

describe('the buffer kept between writers', () => {
  /** A program for several writers alive at once: open a new one, write to one, or finish one. */
  const program = fc.array(fc.oneof(fc.constant({ kind: 'open' as const }), fc.record({ kind: fc.constant('write' as const), who: fc.nat(), ops }), fc.record({ kind: fc.constant('finish' as const), who: fc.nat() })), { maxLength: 30 });

  it('never lets a writer\'s bytes reach another\'s output, with writers interleaved (an encoder re-entered from a getter)', () => {
    fc.assert(
      fc.property(program, (steps) => {
        const open: { w: Writer; written: Op[] }[] = [];
        const finished: { bytes: Uint8Array; copy: string; expected: string }[] = [];
        const finish = (i: number) => {
          const { w, written } = open.splice(i, 1)[0]!;
          const bytes = w.finish();
          finished.push({ bytes, copy: hex(bytes), expected: hex(theirs(written)) });
        };
        for (const step of steps) {
          if (step.kind === 'open' || open.length === 0) open.push({ w: createWriter(), written: [] });
          else if (step.kind === 'write') {
            const target = open[step.who % open.length]!;
            apply(target.w as unknown as Methods, step.ops, false);
            target.written.push(...step.ops);
          } else finish(step.who % open.length);
        }
        while (open.length > 0) finish(0);
        for (const f of finished) {
          expect(f.copy).toBe(f.expected);
          // Later writers did not change bytes handed out earlier.
          expect(hex(f.bytes)).toBe(f.copy);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is never shared by a writer that threw half-way and the next one, whether or not the first is used again', () => {
    fc.assert(
      fc.property(ops, ops, ops, fc.boolean(), (before, after, next, resume) => {
        const broken = createWriter();
        apply(broken as unknown as Methods, [...before, { m: 'raw', v: new Uint8Array(9000).fill(0xee) }], false);
        broken.uint32(10).fork().string('half');
        expect(() => broken.raw(undefined as unknown as Uint8Array)).toThrow(TypeError);
        const first = ours(next);
        if (resume) {
          // The broken writer still holds its own bytes; finishing it later gives its buffer back.
          apply(broken as unknown as Methods, after, false);
          broken.ldelim();
          broken.finish();
        }
        const second = ours(after);
        expect([hex(first), hex(second)]).toEqual([hex(theirs(next)), hex(theirs(after))]);
      }),
      { numRuns: 200 },
    );
  });

  it('hands out Node Buffers of the exact length, large ones without copying, and nothing is reused after', () => {
    const small = createWriter().string('hi').finish();
    const medium = createWriter().raw(new Uint8Array(5000).fill(2)).finish();
    const big = createWriter().raw(new Uint8Array(100_000).fill(1)).finish();
    const after = createWriter().raw(new Uint8Array(100_000).fill(3)).finish();
    for (const [bytes, length] of [[small, 3], [medium, 5000], [big, 100_000], [after, 100_000]] as const) {
      // Readers see one kind of array: a Buffer whatever the size, as protobufjs's BufferWriter gives.
      expect(Buffer.isBuffer(bytes)).toBe(true);
      expect(bytes.length).toBe(length);
    }
    expect(small.every((b, i) => b === [2, 104, 105][i])).toBe(true);
    expect(medium.every((b) => b === 2) && big.every((b) => b === 1) && after.every((b) => b === 3)).toBe(true);
    expect(big.buffer).not.toBe(after.buffer);
  });

  it('hands a message that outgrew the kept buffer out in the buffer it grew (no copy) when it fills it, and keeps the smaller one for the next writer', () => {
    const w = createWriter().raw(new Uint8Array(16_400).fill(7));
    const grown = w.buf;
    const out = w.finish();
    expect(out.buffer).toBe(grown.buffer);
    expect(out.length).toBe(16_400);
    const next = createWriter();
    expect(next.buf.length).toBeLessThan(16_400);
    const bytes = next.raw(new Uint8Array(16_400).fill(8)).finish();
    expect(bytes.buffer).not.toBe(out.buffer);
    expect(out.every((b) => b === 7) && bytes.every((b) => b === 8)).toBe(true);
    // Written in pieces, a message just past the spare's size lands in a buffer doubled for it
    // (16 KiB for 9,000 bytes): copied out to its length, not handed out at nearly twice it.
    const pieces = createWriter().raw(new Uint8Array(5000).fill(1));
    pieces.raw(new Uint8Array(4000).fill(2));
    const doubled = pieces.buf;
    const nine = pieces.finish();
    expect(doubled.length).toBeGreaterThanOrEqual(16_384);
    expect(nine.buffer).not.toBe(doubled.buffer);
    expect(nine.length).toBe(9000);
    expect(nine.subarray(0, 5000).every((b) => b === 1) && nine.subarray(5000).every((b) => b === 2)).toBe(true);
  });

  it('finished twice gives nothing more, a finished writer written to again has a buffer of its own, and ldelim without fork is refused', () => {
    const w = createWriter().string('once');
    expect(hex(w.finish())).toBe('046f6e6365');
    expect(w.finish().length).toBe(0);
    // The next writer takes the buffer w gave back: w must not write into it any more.
    const next = createWriter().string('next');
    w.string('late');
    expect(hex(next.finish())).toBe('046e657874');
    expect(hex(w.finish())).toBe('046c617465');
    expect(() => createWriter().uint32(1).ldelim()).toThrow(/ldelim without a fork/);
  });
});

describe('without Node\'s Buffer (as in browsers: TextEncoder for long strings, plain Uint8Arrays out)', () => {
  let BrowserWriter: typeof import('../runtime/codec/writer.js').Writer;
  beforeAll(async () => {
    // A fresh copy of writer.ts that finds no Buffer, as protobufjs finds none in a browser.
    const util = protobuf.util as { Buffer: unknown };
    const buffer = util.Buffer;
    vi.resetModules();
    util.Buffer = null;
    try {
      BrowserWriter = (await import('../runtime/codec/writer.js')).Writer;
    } finally {
      util.Buffer = buffer;
    }
  });

  it('writes what protobufjs writes, for random sequences and strings of every length', () => {
    fc.assert(fc.property(ops, (sequence) => {
      expect(hex(ours(sequence, new BrowserWriter()))).toBe(hex(theirs(sequence)));
    }), { numRuns: 500 });
    for (const n of [0, 23, 24, 42, 43, 127, 128, 8192, 70_000]) {
      for (const unit of ['x', 'é', '€', '😀']) {
        const v: Op[] = [{ m: 'string', v: unit.repeat(n) }];
        expect(hex(ours(v, new BrowserWriter()))).toBe(hex(theirs(v)));
      }
    }
  });

  it('writes a lone surrogate as U+FFFD, measuring long strings as it writes them', () => {
    for (const t of [`${'x'.repeat(30)}\uD800`, `${'x'.repeat(100)}\uDC00`, `\uD800${'€'.repeat(200)}\uDBFF`]) {
      const bytes = new BrowserWriter().string(t).finish();
      expect(bytes.constructor).toBe(Uint8Array);
      expect(protobuf.Reader.create(bytes).string()).toBe(t.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
    }
  });
});
