/**
 * p2pgen's generated codecs against an independent implementation: protobuf-es (v2) reading
 * the `buf build` image of the same generated .proto. For every message of the example
 * contracts and of the all-types fixture (entities, unions, requests and responses), values
 * p2pgen encodes decode in protobuf-es to the message the value stands for, and protobuf-es's
 * encoding of that message decodes in p2pgen to the value; requests and responses are also
 * written through protobufjs's Writer, whose bytes p2pgen's Writer must equal. Then crafted bytes: where
 * protobuf's rules leave room (merging, packing, unknown fields, map entries missing a part,
 * invalid UTF-8, Timestamps out of range), p2pgen does what docs/contracts.md's "Decoding" says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../cli/generate.js';
import type { MessageModel } from '../cli/model/contract-model.js';
import type { MessageCodec } from '../runtime/codec/message-codec.js';
import protobuf from 'protobufjs/minimal.js';
import { createReader, createWriter, type Writer } from '../runtime/codec/protobuf.js';
import type { ContractSet } from '../runtime/contracts/descriptors.js';
import { ModelArbitraries } from './support/arbitraries.js';
import { EsValues, esRegistry } from './support/protobuf-es.js';
import { repoRoot } from './support/paths.js';
import * as examples from '../generated/index.js';
import * as chat from '../contracts/chat.js';
import * as collaboration from '../contracts/collaboration.js';
import * as discovery from '../contracts/discovery.js';
import * as fileSharing from '../contracts/file-sharing.js';
import * as allTypes from '../.tmp/gen/all-types/index.js';
import * as allTypesContracts from './fixtures/all-types/all-types.js';

const RUNS = 100;

/** What one message's p2pgen codec does with bytes (requests and responses through their action codecs). */
interface Codec {
  name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
  /** The generated encoder writing into `w` (requests and responses: entity codecs make their own writer). */
  encodeInto?(w: Writer, value: unknown): Uint8Array;
}

/**
 * protobufjs's own Writer, given the one method p2pgen's Writer has beside its (a 64-bit varint
 * from its halves, which protobufjs writes as a Long): the reference p2pgen's bytes must equal.
 */
function protobufjsWriter(): Writer {
  const w = protobuf.Writer.create() as protobuf.Writer & { varint64(lo: number, hi: number): protobuf.Writer };
  w.varint64 = (lo, hi) => w.int64({ low: lo | 0, high: hi | 0, unsigned: false } as unknown as number);
  return w as unknown as Writer;
}

const suites = [
  { name: 'example contracts', dir: join(repoRoot, 'generated'), set: examples.contracts, codecs: examples.codecs as Record<string, MessageCodec<unknown>>, modules: [chat, collaboration, discovery, fileSharing] as Record<string, unknown>[] },
  { name: 'all-types fixture', dir: join(repoRoot, '.tmp/gen/all-types'), set: allTypes.contracts, codecs: allTypes.codecs as Record<string, MessageCodec<unknown>>, modules: [allTypesContracts] as Record<string, unknown>[] },
];

/** Every message with a p2pgen codec: entities and unions directly, requests and responses through their action's codecs (as objects by field name). */
function codecsOf(model: Manifest['model'], set: ContractSet, codecs: Record<string, MessageCodec<unknown>>): Codec[] {
  const out: Codec[] = Object.values(codecs).map((c) => ({ name: c.name, encode: (v) => c.encode(v), decode: (b) => c.decode(b) }));
  const messages = new Map(model.messages.map((m) => [m.name, m]));
  for (const controller of model.controllers) {
    const descriptor = set.controllers.find((c) => c.path === controller.path)!;
    for (const action of controller.actions) {
      const { request, response } = descriptor.actions.find((a) => a.name === action.name)!;
      const params = messages.get(action.request)!.fields;
      const result = messages.get(action.response)!.fields[0];
      const encodeRequest = (w: Writer, v: unknown) => request.encode(w, params.map((p) => (v as Record<string, unknown>)[p.name]) as never).finish();
      const encodeResponse = (w: Writer, v: unknown) => response.encode(w, result ? (v as Record<string, unknown>).value : undefined).finish();
      out.push({
        name: action.request,
        encode: (v) => encodeRequest(createWriter(), v),
        encodeInto: encodeRequest,
        decode: (b) => Object.fromEntries(params.map((p, i) => [p.name, (request.decode(createReader(b), b.length) as unknown[])[i]]).filter(([, x]) => x !== undefined)),
      });
      out.push({
        name: action.response,
        encode: (v) => encodeResponse(createWriter(), v),
        encodeInto: encodeResponse,
        decode: (b) => {
          const value = response.decode(createReader(b), b.length);
          return value === undefined ? {} : { value };
        },
      });
    }
  }
  return out;
}

const counts = { messages: 0, samples: 0 };

for (const suite of suites) {
  describe(`p2pgen and protobuf-es agree: ${suite.name}`, () => {
    const manifest = JSON.parse(readFileSync(join(suite.dir, 'manifest.json'), 'utf8')) as Manifest;
    const es = new EsValues(manifest.model, esRegistry(join(suite.dir, 'contracts.proto')));
    const classOf = (m: MessageModel) =>
      m.origin.kind === 'class' ? (suite.modules.map((mod) => mod[(m.origin as { tsName: string }).tsName]).find((c) => typeof c === 'function') as new () => object) : undefined;
    const arbitraries = new ModelArbitraries(manifest.model, classOf);

    for (const codec of codecsOf(manifest.model, suite.set, suite.codecs)) {
      it(`${codec.name}: p2pgen bytes read in protobuf-es, protobuf-es bytes read in p2pgen`, () => {
        const desc: DescMessage = es.desc(codec.name);
        counts.messages++;
        fc.assert(
          fc.property(arbitraries.of(codec.name), (value) => {
            counts.samples++;
            const expected = es.create(codec.name, value);
            const expectedBytes = toBinary(desc, expected);
            // p2pgen -> protobuf-es: the message protobuf-es reads is the one the value stands for.
            expect(toBinary(desc, fromBinary(desc, codec.encode(value)))).toEqual(expectedBytes);
            // protobuf-es -> p2pgen: the value comes back.
            expect(codec.decode(expectedBytes)).toStrictEqual(value);
            // p2pgen's Writer writes byte for byte what protobufjs's writes for the same calls.
            if (codec.encodeInto) expect(Buffer.from(codec.encodeInto(createWriter(), value)).toString('hex')).toBe(Buffer.from(codec.encodeInto(protobufjsWriter(), value)).toString('hex'));
          }),
          { numRuns: RUNS },
        );
      });
    }
  });
}

describe('crafted bytes behave as docs/contracts.md says (all-types fixture)', () => {
  const suite = suites[1]!;
  const manifest = JSON.parse(readFileSync(join(suite.dir, 'manifest.json'), 'utf8')) as Manifest;
  const es = new EsValues(manifest.model, esRegistry(join(suite.dir, 'contracts.proto')));
  const codec = suite.codecs.Everything!;
  const desc = es.desc('Everything');
  const base = () => new allTypesContracts.Everything();
  const number = (field: string) => manifest.model.messages.find((m) => m.name === 'Everything')!.fields.find((f) => f.name === field)!.number;
  const concat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) out.set(p, (at += p.length) - p.length);
    return out;
  };
  /** A field of Everything on its own: `write` fills the writer after the tag (protobufjs's, independent of p2pgen's). */
  const field = (name: string, wireType: number, write: (w: protobuf.Writer) => void) => {
    const w = protobuf.Writer.create().uint32((number(name) << 3) | wireType);
    write(w);
    return w.finish();
  };
  /** protobuf-es reads `bytes` to the message p2pgen's value stands for. */
  const agree = (bytes: Uint8Array) => {
    const value = codec.decode(bytes);
    expect(toBinary(desc, fromBinary(desc, bytes), { writeUnknownFields: false })).toEqual(toBinary(desc, es.create('Everything', value)));
    return value as InstanceType<typeof allTypesContracts.Everything>;
  };
  const refused = (bytes: Uint8Array, reason: RegExp) => {
    expect(() => codec.decode(bytes)).toThrow(reason);
  };

  it('a scalar field that appears twice: the last value wins (protobuf, p2pgen)', () => {
    const bytes = concat(codec.encode(Object.assign(base(), { text: 'first', small: 1 })), field('text', 2, (w) => w.string('second')), field('small', 0, (w) => w.int32(2)));
    expect(agree(bytes)).toMatchObject({ text: 'second', small: 2 });
  });

  it('a message field that appears twice: protobuf merges, p2pgen refuses', () => {
    const point = (x: number) => field('point', 2, (w) => w.fork().uint32(9).double(x).ldelim());
    const bytes = concat(codec.encode(base()), point(3));
    expect((fromBinary(desc, bytes) as unknown as { point: { x: number } }).point.x).toBe(3); // merged into the first
    refused(bytes, /a message field appears twice/);
  });

  it('repeated numbers: packed, unpacked and both mixed are read alike (protobuf, p2pgen)', () => {
    const unpacked = concat(codec.encode(base()), field('generic', 0, (w) => w.int32(5)), field('generic', 0, (w) => w.int32(-6)));
    expect(agree(unpacked).generic).toEqual([5, -6]);
    const mixed = concat(unpacked, field('generic', 2, (w) => w.fork().int32(7).int32(8).ldelim()));
    expect(agree(mixed).generic).toEqual([5, -6, 7, 8]);
  });

  it('unknown fields of every wire type leave the value as it is (protobuf, p2pgen; both keep them to write back: unknown-fields.test.ts)', () => {
    const unknown = protobuf.Writer.create().uint32((900 << 3) | 0).int32(1).uint32((901 << 3) | 1).fixed64(2).uint32((902 << 3) | 2).string('x').uint32((903 << 3) | 5).fixed32(3).finish();
    const value = Object.assign(base(), { text: 'kept' });
    expect(agree(concat(codec.encode(value), unknown))).toStrictEqual(value);
  });

  it('a known field with a wire type its type never uses: refused (protobuf-es, p2pgen)', () => {
    const bytes = concat(codec.encode(base()), field('small', 2, (w) => w.string('x')));
    expect(() => fromBinary(desc, bytes)).toThrow();
    refused(bytes, /wire type 2, which its type never uses/);
  });

  it('map entries without a value or a key take the type default (protobuf, p2pgen)', () => {
    const entry = (name: string, write: (w: protobuf.Writer) => void) => field(name, 2, (w) => { w.fork(); write(w); w.ldelim(); });
    const bytes = concat(
      codec.encode(base()),
      entry('byName', (w) => w.uint32(10).string('no value')), // map<string, Point>: an empty Point
      entry('record', (w) => w.uint32(17).double(2.5)), // map<string, double>: key ''
      entry('byNumber', (w) => w.uint32(18).string('no key')), // entries of Map<number, string>: key 0
      entry('tagged', (w) => w.uint32(10).string('t')), // Record<string, Tag | null>: null
    );
    const value = agree(bytes);
    expect(value.byName.get('no value')).toStrictEqual(Object.assign(Object.create(allTypesContracts.Point.prototype), { x: 0, y: 0 }));
    expect(value.record).toEqual({ '': 2.5 });
    expect([...value.byNumber]).toEqual([[0, 'no key']]);
    expect(value.tagged).toEqual({ t: null });
    // Entries of Map<Date, boolean> are messages with a Timestamp key: protobuf-es leaves it
    // unset, whose default instance is the epoch, the Date p2pgen reads.
    const noDate = concat(codec.encode(base()), entry('byDate', (w) => w.uint32(16).bool(true)));
    const [esEntry] = (fromBinary(desc, noDate) as unknown as { byDate: { key?: unknown; value: boolean }[] }).byDate;
    expect([esEntry!.key, esEntry!.value]).toEqual([undefined, true]);
    expect([...(codec.decode(noDate) as { byDate: Map<Date, boolean> }).byDate]).toEqual([[new Date(0), true]]);
  });

  it('invalid UTF-8 in a string is refused (protobuf-es, p2pgen; protobufjs alone would replace it); valid UTF-8 and a BOM come through', () => {
    // A stray byte, an overlong encoding, an encoded surrogate, a truncated sequence.
    for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x61, 0xe2, 0x82]]) {
      const bytes = concat(codec.encode(base()), field('text', 2, (w) => w.bytes(Uint8Array.from(bad))));
      expect(() => fromBinary(desc, bytes)).toThrow();
      refused(bytes, /not valid UTF-8/);
    }
    const text = '\uFEFFé€𝄞 and a longer text past the short-string path';
    expect(agree(concat(codec.encode(base()), field('text', 2, (w) => w.string(text)))).text).toBe(text);
  });

  it('Timestamps outside 0001-01-01..9999-12-31 or with nanos out of range: p2pgen refuses (protobuf-es reads them)', () => {
    // Bytes with only this field (the decoder alone, before validation, reads them).
    const timestamp = (seconds: number, nanos: number) => field('when', 2, (w) => w.fork().uint32(8).int64(seconds).uint32(16).int32(nanos).ldelim());
    for (const [seconds, nanos] of [[253_402_300_800, 0], [-62_135_596_801, 0], [0, 1_000_000_000], [0, -1]] as const) {
      expect(() => fromBinary(desc, timestamp(seconds, nanos))).not.toThrow();
      refused(timestamp(seconds, nanos), /invalid google\.protobuf\.Timestamp/);
    }
    const when = (bytes: Uint8Array) => (codec.decode(bytes) as { when: Date }).when;
    expect(when(timestamp(253_402_300_799, 999_999_999))).toEqual(new Date('9999-12-31T23:59:59.999Z'));
    expect(when(timestamp(-62_135_596_800, 0))).toEqual(new Date('0001-01-01T00:00:00.000Z'));
    // And p2pgen never writes one: such a Date fails validation, and the encoder throws.
    const far = Object.assign(base(), { when: new Date('+010000-01-01T00:00:00Z') });
    expect(codec.validate(far)).toEqual([{ path: 'Everything.when', message: "must be between 0001-01-01 and 9999-12-31 (google.protobuf.Timestamp's range), got +010000-01-01T00:00:00.000Z" }]);
    expect(() => codec.encode(far)).toThrow(/outside google\.protobuf\.Timestamp's range/);
  });

  it('an enum number or a union member this version lacks, or two members of one union: p2pgen refuses (proto3 keeps an unknown enum number)', () => {
    refused(field('color', 0, (w) => w.int32(99)), /99 is not a value of Color here/);
    refused(field('color', 0, (w) => w.int32(0)), /0 is not a value of Color here \(0 is never a value\)/);
    const shape = (write: (w: protobuf.Writer) => void) => field('shape', 2, (w) => { w.fork(); write(w); w.ldelim(); });
    refused(shape((w) => w.uint32((77 << 3) | 0).int32(1)), /no member of Shape this version knows/);
    const circle = (w: protobuf.Writer) => w.uint32((1 << 3) | 2).fork().ldelim();
    refused(shape((w) => { circle(w); circle(w); }), /union Shape has more than one member set/);
  });

  it('two scalar members of one union (oneof): protobuf keeps the last, p2pgen refuses, naming the union', () => {
    const scalar = (write: (w: protobuf.Writer) => void) => field('scalar', 2, (w) => { w.fork(); write(w); w.ldelim(); });
    const union = manifest.model.unions.find((u) => u.name === 'Scalar')!;
    // (the numbers are the lock's: string and number members, whatever their order)
    const [text, real] = [union.variants.find((v) => v.protoName === 'string_value')!.number, union.variants.find((v) => v.protoName === 'number_value')!.number];
    const bytes = concat(codec.encode(base()), scalar((w) => w.uint32((text << 3) | 2).string('text').uint32((real << 3) | 1).double(2)));
    expect((fromBinary(desc, bytes) as unknown as { scalar: { value: { case: string; value: unknown } } }).scalar.value).toEqual({ case: 'numberValue', value: 2 });
    refused(bytes, /union Scalar has more than one member set \(a oneof holds one value; p2pgen does not take the last\)/);
  });

  it('field number 0 is refused (protobuf-es, p2pgen): it is not a field, whatever its wire type', () => {
    for (const tag of [0, 2, 5]) {
      const bytes = concat(codec.encode(base()), protobuf.Writer.create().uint32(tag).uint32(tag === 2 ? 0 : 1).finish());
      expect(() => fromBinary(desc, bytes)).toThrow();
      refused(bytes, /field number 0 \(tag \d\) is not a field: protobuf reserves it/);
    }
  });

  it('a string whose length runs past the end is named as that, not as bad UTF-8 (protobuf-es refuses it too)', () => {
    // A length of 100 with 3 bytes left; a length beyond 2^31 (protobufjs: "invalid length encoding").
    for (const length of [[100], [0xff, 0xff, 0xff, 0xff, 0x0f]]) {
      const bytes = concat(codec.encode(base()), protobuf.Writer.create().uint32((number('text') << 3) | 2).finish(), Uint8Array.from(length), Uint8Array.from([0x61, 0x62, 0x63]));
      expect(() => fromBinary(desc, bytes)).toThrow();
      refused(bytes, /a string's length runs past the end of the bytes/);
      expect(() => codec.decode(bytes)).not.toThrow(/UTF-8/);
    }
  });

  it('a float32 beyond ±3.4e38: refused by the validator and the encoder (protobuf-es refuses to encode it); Infinity and the largest float32 pass', () => {
    for (const single of [3.5e38, -1e39, Number.MAX_VALUE]) {
      const value = Object.assign(base(), { single });
      expect(codec.validate(value)).toEqual([{ path: 'Everything.single', message: `must be within float32's range (±3.4028234663852886e38), got ${single}: it would travel as ${single > 0 ? '' : '-'}Infinity` }]);
      expect(() => codec.encode(value)).toThrow(/beyond float32's range/);
      expect(() => toBinary(desc, es.create('Everything', value))).toThrow(/invalid float32/);
    }
    for (const single of [Infinity, -Infinity, 3.4028234663852886e38, 3.4028235677973362e38]) {
      const value = Object.assign(base(), { single });
      expect(codec.validate(value)).toEqual([]);
      expect((codec.decode(codec.encode(value)) as { single: number }).single).toBe(Math.fround(single));
      expect((fromBinary(desc, codec.encode(value)) as unknown as { single: number }).single).toBe(Math.fround(single));
    }
  });

  it('a typed array is read as a view into the bytes where they are aligned for its elements, else in one copy; never element by element', () => {
    const samples = Float32Array.from([1.5, -2, 3.25, NaN]);
    const only = field('samples', 2, (w) => w.bytes(new Uint8Array(samples.buffer)));
    // `only` is the tag, the length and 16 bytes: placed so that the elements start at 8 (aligned), then at 9.
    const head = only.length - 16;
    for (const [offset, view] of [[8 - head, true], [9 - head, false]] as const) {
      const frame = new Uint8Array(new ArrayBuffer(64), offset, only.length);
      frame.set(only);
      const got = (codec.decode(frame) as { samples: Float32Array }).samples;
      expect(got).toEqual(samples);
      expect(got.buffer === frame.buffer, `a view at offset ${offset}`).toBe(view);
    }
  });

  it('typed arrays in several packed pieces and unpacked elements, fixed-width and varint: appended in order (protobuf, p2pgen)', () => {
    const bytes = concat(
      codec.encode(Object.assign(base(), { ints: Int32Array.from([1, -2]), shorts: Int16Array.from([-300]) })),
      field('ints', 2, (w) => w.fork().sfixed32(3).sfixed32(-4).ldelim()),
      field('ints', 5, (w) => w.sfixed32(5)),
      field('shorts', 0, (w) => w.sint32(400)),
      field('shorts', 2, (w) => w.fork().sint32(-1).sint32(32767).ldelim()),
      field('longs', 1, (w) => w.sfixed64(-(2 ** 40))),
    );
    const value = agree(bytes) as unknown as { ints: Int32Array; shorts: Int16Array; longs: BigInt64Array };
    expect(value.ints).toEqual(Int32Array.from([1, -2, 3, -4, 5]));
    expect(value.shorts).toEqual(Int16Array.from([-300, 400, -1, 32767]));
    expect(value.longs).toEqual(BigInt64Array.from([-(2n ** 40n)]));
  });

  it('a typed array value outside its range, or a packed one of a broken length: protobuf reads them, p2pgen refuses', () => {
    const outOfRange = field('tiny', 0, (w) => w.sint32(200));
    expect((fromBinary(desc, outOfRange) as unknown as { tiny: number[] }).tiny).toEqual([200]);
    refused(outOfRange, /200 is outside Int8Array's range \(-128 to 127\)/);
    refused(field('pixels', 2, (w) => w.fork().uint32(256).ldelim()), /256 is outside Uint8ClampedArray's range \(0 to 255\)/);
    const broken = field('samples', 2, (w) => w.bytes(Uint8Array.of(0, 0, 128)));
    expect(() => fromBinary(desc, broken)).toThrow();
    refused(broken, /a packed Float32Array of 3 bytes is not a whole number of 4-byte elements/);
  });

  it('a Set element twice: protobuf reads a list with it twice, p2pgen refuses (collapsing it would change the value)', () => {
    const twice = concat(field('names', 2, (w) => w.string('a')), field('names', 2, (w) => w.string('b')), field('names', 2, (w) => w.string('a')));
    expect((fromBinary(desc, twice) as unknown as { names: string[] }).names).toEqual(['a', 'b', 'a']);
    refused(twice, /an element of a Set appears twice \("a"\)/);
    refused(field('counts', 2, (w) => w.fork().int32(7).int32(7).ldelim()), /an element of a Set appears twice \(7\)/);
  });

  it('a tuple is an array of exactly its elements; a Set and a typed array are checked as what they are', () => {
    const issues = codec.validate(Object.assign(base(), { pair: ['x'], triple: 'no', names: ['a'], samples: [1, 2], pairs: [['a', 1.5]] }));
    expect(issues).toEqual([
      { path: 'Everything.pair', message: 'expected a [string, number] (2 elements), got 1' },
      { path: 'Everything.triple', message: 'expected a [Point, Date | null, Color], got a string ("no")' },
      { path: 'Everything.pairs[0][1]', message: 'expected an int32 (integer from -2147483648 to 2147483647), got number 1.5' },
      { path: 'Everything.names', message: 'expected a Set, got an array' },
      { path: 'Everything.samples', message: 'expected a Float32Array, got an array' },
    ]);
  });

  it('a required value the bytes do not hold is reported as nothing sent, not as undefined (a sender\'s null travels as absence)', () => {
    const w = protobuf.Writer.create();
    const bytes = w.uint32((number('text') << 3) | 2).string('only text').finish();
    const decoded = codec.decode(bytes);
    expect(codec.validate(decoded)).toContainEqual({ path: 'Everything.point', message: 'expected a Point object, got nothing' });
  });
});

afterAll(() => {
  console.log(`differential: ${counts.messages} messages, ${counts.samples} samples`);
});
