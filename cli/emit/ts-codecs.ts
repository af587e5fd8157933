/**
 * Generated encoders and decoders on the runtime's Writer (runtime/codec/writer.ts, which
 * writes protobufjs's bytes) and protobufjs's Reader: per enum a pair of switch
 * functions, per message, union and structural wrapper an `encode_*`/`decode_*` pair, per Map
 * type read as a field an `entries_*` reader, and the encode/decode members of request and
 * response codecs. Wire layout decisions come from model/wire-shape.ts, shared with the .proto emitter.
 *
 * Every encoder and decoder of a message takes the message's depth `d` and refuses one deeper
 * than the runtime's limit (runtime/codec/limits.ts); the messages inside it are at `d + 1`,
 * so the depth is passed down as an expression (`Depth`). Entity decoders keep the fields they
 * do not know and their encoders write them back (runtime/codec/unknown-fields.ts).
 */
import type { EnumModel, FieldModel, MessageModel, ScalarKind, TypeRef, UnionModel, UnionVariant } from '../model/contract-model.js';
import { compare } from '../diagnostics.js';
import { literal, memberAccess, propertyKey } from './printer.js';
import type { Depth, TsContext } from './ts-context.js';
import { matchOrder, matchTest } from './ts-types.js';
import { entryName, fieldShape, isPackable, tag, valueWireType, WireType, wrapperName } from '../model/wire-shape.js';

type ArrayRef = Extract<TypeRef, { kind: 'array' }>;
type MapRef = Extract<TypeRef, { kind: 'map' }>;

/** The check every encoder and decoder of a message starts with. */
function depthCheck(ctx: TsContext): string {
  return `if (d > ${ctx.rt('maxDepth')}) ${ctx.rt('tooDeep')}(d);`;
}

/** Messages whose decoded values keep the fields this version does not know (entities; not requests, responses or wrappers). */
function keepsUnknown(m: MessageModel): boolean {
  return m.origin.kind === 'class' || m.origin.kind === 'interface' || m.origin.kind === 'anonymous' || m.origin.kind === 'tuple';
}

/** A field of a decoded or encoded message `m`: `m.name`, or `m[0]` for a tuple's element. */
function fieldOf(message: MessageModel, field: FieldModel): string {
  return message.origin.kind === 'tuple' ? `m[${field.name}]` : memberAccess('m', field.name);
}

/** How a decoder reads one field number: a statement per tag (the number's wire types) it accepts. */
interface FieldCase {
  number: number;
  reads: { tag: number; read: string }[];
}

export const scalarDefaults: Record<ScalarKind, string> = {
  string: "''",
  bool: 'false',
  double: '0',
  float: '0',
  int32: '0',
  uint32: '0',
  int64: '0n',
  bytes: 'new Uint8Array(0)',
  sfixed32: '0',
  fixed32: '0',
  sfixed64: '0n',
  fixed64: '0n',
  sint32: '0',
};

/** protobufjs Writer/Reader methods for packed repeated numbers. */
const packedMethods: Partial<Record<ScalarKind, string>> = {
  double: 'doubles',
  float: 'floats',
  int32: 'int32s',
  uint32: 'uint32s',
  bool: 'bools',
};

export class TsCodecs {
  /** Map types whose entries are read by a generated `entries_*` function, by function name. */
  private readonly entryReaders = new Map<string, MapRef>();

  constructor(private readonly ctx: TsContext) {}

  // ---- enums -----------------------------------------------------------------------------

  enumFunctions(e: EnumModel): string {
    const type = this.ctx.types.named(e.name);
    const toWire = e.values.map((v) => `case ${this.ctx.types.enumValue(e, v)}: return ${v.number};`).join('\n');
    const fromWire = e.values.map((v) => `case ${v.number}: return ${this.ctx.types.enumValue(e, v)};`).join('\n');
    return `// ${e.name} (${this.ctx.where(e.source)}): a member's wire number, 0 for anything else
function encode_${e.name}(value: ${type}): number {
  switch (value) {
${toWire}
default: return 0;
  }
}
function decode_${e.name}(n: number): ${type} {
  switch (n) {
${fromWire}
default: return ${this.ctx.rt('unknownEnumValue')}(${literal(e.name)}, n);
  }
}`;
  }

  // ---- messages, unions, wrappers --------------------------------------------------------

  encodeMessage(m: MessageModel): string {
    const wire = m.fields.filter((f) => f.type.kind !== 'literal');
    const unknown = keepsUnknown(m) ? `\nif (${this.ctx.rt('unknownFields')} in m) ${this.ctx.rt('writeUnknown')}(w, m[${this.ctx.rt('unknownFields')}]);` : '';
    return `function encode_${m.name}(w: ${this.ctx.rtType('Writer')}, m: ${this.ctx.types.named(m.name)}, d: number): ${this.ctx.rtType('Writer')} {
${depthCheck(this.ctx)}
${wire.map((f) => this.writeField(f, fieldOf(m, f), 'd + 1')).join('\n')}${unknown}
return w;
}`;
  }

  decodeMessage(m: MessageModel): string {
    const type = this.ctx.types.named(m.name);
    const wire = m.fields.filter((f) => f.type.kind !== 'literal');
    return `function decode_${m.name}(r: ${this.ctx.rtType('Reader')}, end: number, d: number): ${type} {
${depthCheck(this.ctx)}
${m.origin.kind === 'class' ? `const m = new received_${m.name}();` : this.newObject(m, type)}
${this.decodeLoop(wire.flatMap((f) => this.readCases(f, fieldOf(m, f), 'd + 1')), keepsUnknown(m) ? 'm' : undefined)}
return m;
}`;
  }

  /**
   * The constructor of a contract class's instances as decoders make them (for messages of class
   * origin; emit it before the decoder): the class's constructor is not run, every field is an
   * own property holding its default, set in one go in declaration order (one hidden class for
   * every decoded value, fields stored in the object), and the prototype is the class's.
   */
  receivedClass(m: MessageModel): string {
    const type = this.ctx.types.named(m.name);
    // A field without a default (a message, an optional field) starts undefined, which `this`
    // (Unfilled<T>) allows: a required one arrives, or the validator refuses the value.
    const sets = m.fields.map((f) => `${memberAccess('this', f.name)} = ${this.initialValue(f) ?? 'undefined'};`);
    return `const received_${m.name} = /*@__PURE__*/ ${this.ctx.rt('instanceConstructor')}(${this.ctx.types.classOf(m.name)}, function (this: ${this.ctx.rtType('Unfilled')}<${type}>) {
${sets.join('\n')}
});`;
  }

  /**
   * `m`, a plain object holding the defaults; an optional field without one is left out. A
   * required field without one is undefined until it arrives, or the validator refuses the
   * value: then the object starts as `unfilled<T>(…)`.
   */
  private newObject(m: MessageModel, type: string): string {
    if (m.origin.kind === 'tuple') {
      const initial = m.fields.map((f) => this.initialValue(f));
      const elements = `[${initial.map((value) => value ?? 'undefined').join(', ')}]`;
      return initial.every((value) => value !== undefined) ? `const m: ${type} = ${elements};` : `const m = ${this.ctx.rt('unfilled')}<${type}>(${elements});`;
    }
    const present = m.fields.map((f) => [f, this.initialValue(f)] as const).filter(([f, value]) => value !== undefined || !f.optional);
    const fields = `{ ${present.map(([f, value]) => `${propertyKey(f.name)}: ${value ?? 'undefined'}`).join(', ')} }`;
    return present.every(([, value]) => value !== undefined) ? `const m: ${type} = ${fields};` : `const m = ${this.ctx.rt('unfilled')}<${type}>(${fields});`;
  }

  encodeUnion(u: UnionModel): string {
    const type = this.ctx.types.named(u.name);
    let body: string;
    if (u.variants.every((v) => v.match.kind === 'discriminant')) {
      const property = (u.variants[0]!.match as { property: string }).property;
      const value = (v: UnionVariant) => literal((v.match as { value: unknown }).value);
      body = `switch (${memberAccess('v', property)}) {\n${u.variants.map((v) => `case ${value(v)}: ${this.writeValue(v.type, v.number, 'v', 'd + 1')} break;`).join('\n')}\n}`;
    } else {
      const ordered = [...u.variants].sort((a, b) => matchOrder(a) - matchOrder(b));
      body = ordered.map((v, i) => `${i === 0 ? '' : 'else '}if (${matchTest(v, 'v')}) ${this.writeValue(v.type, v.number, 'v', 'd + 1')}`).join('\n');
    }
    return `function encode_${u.name}(w: ${this.ctx.rtType('Writer')}, v: ${type}, d: number): ${this.ctx.rtType('Writer')} {
${depthCheck(this.ctx)}
${body}
return w;
}`;
  }

  decodeUnion(u: UnionModel): string {
    const type = this.ctx.types.named(u.name);
    const cases = u.variants.map((v) =>
      single(v.number, tag(v.number, valueWireType(v.type)), `value = ${this.ctx.rt('oneMember')}(value, ${this.readValue(v.type, 'd + 1')}, ${literal(u.name)});`),
    );
    return `function decode_${u.name}(r: ${this.ctx.rtType('Reader')}, end: number, d: number): ${type} {
${depthCheck(this.ctx)}
let value: ${type} | undefined;
${this.decodeLoop(cases)}
return value ?? ${this.ctx.rt('noUnionMember')}(${literal(u.name)});
}`;
  }

  /** Codec of a structural wrapper message: the wrapped value is field 1. */
  wrapperFunctions(name: string, type: TypeRef): string {
    const tsType = this.ctx.types.of(type);
    let encodeBody: string;
    let init: string;
    let cases: FieldCase[];
    if (type.kind === 'nullable') {
      encodeBody = `if (v !== null) ${this.writeValue(type.inner, 1, 'v', 'd + 1')}`;
      init = 'null';
      cases = [single(1, tag(1, valueWireType(type.inner)), `value = ${this.readSingular(type.inner, 'value', 'd + 1')};`)];
    } else {
      const inner: FieldModel = { name: 'value', protoName: 'value', number: 1, type, optional: false, nullable: false };
      encodeBody = this.writeField(inner, 'v', 'd + 1');
      init = this.initialValue(inner)!;
      cases = this.readCases(inner, 'value', 'd + 1');
    }
    return `// ${name}
function encode_${name}(w: ${this.ctx.rtType('Writer')}, v: ${tsType}, d: number): ${this.ctx.rtType('Writer')} {
${depthCheck(this.ctx)}
${encodeBody}
return w;
}
function decode_${name}(r: ${this.ctx.rtType('Reader')}, end: number, d: number): ${tsType} {
${depthCheck(this.ctx)}
let value: ${tsType} = ${init};
${this.decodeLoop(cases)}
return value;
}`;
  }

  /** The `entries_*` readers the decoders emitted so far refer to, sorted by name (emit them after every decoder). */
  entryReaderFunctions(): string[] {
    return [...this.entryReaders].sort(([a], [b]) => compare(a, b)).map(([name, type]) => this.entryReader(name, type));
  }

  // ---- requests and responses --------------------------------------------------------------

  /**
   * The `encode` and `decode` members of a request codec (arguments as a tuple `a`). Arguments
   * without a default start undefined (`unfilled<Args>(…)`): a required one arrives, or the
   * validator refuses the call.
   */
  requestMembers(request: MessageModel): string {
    const params = request.fields;
    const initial = params.map((p) => this.initialValue(p));
    const args = this.ctx.types.args(params);
    const start = initial.every((value) => value !== undefined)
      ? `const a: ${args} = [${initial.join(', ')}];`
      : `const a = ${this.ctx.rt('unfilled')}<${args}>([${initial.map((value) => value ?? 'undefined').join(', ')}]);`;
    const writes = params.map((p, i) => this.writeField(p, `a[${i}]`, '2')).filter((s) => s !== '');
    // No parameter named that the body does not read: projects compile with noUnusedParameters.
    return `encode(w${writes.length > 0 ? ', a' : ''}) {
${writes.join('\n')}
return w;
},
decode(r, end) {
${start}
${this.decodeLoop(params.flatMap((p, i) => this.readCases(p, `a[${i}]`, '2')))}
return a;
},`;
  }

  /**
   * The `encode` and `decode` members of a response codec (the result in field `value`, none for
   * void). A result without a default is undefined until it arrives (ResponseCodec's `decode`
   * may return undefined; the validator refuses it where a value is required).
   */
  responseMembers(response: MessageModel): string {
    const result = response.fields[0];
    if (!result) {
      return `encode: (w) => w,
decode(r, end) {
${this.decodeLoop([])}
return undefined;
},`;
    }
    const init = this.initialValue(result);
    const type = this.ctx.types.result(response);
    const start = init !== undefined ? `let value: ${type} = ${init};` : `let value: ${type}${result.optional ? '' : ' | undefined'};`;
    return `encode(w, value) {
${this.writeField(result, 'value', '2')}
return w;
},
decode(r, end) {
${start}
${this.decodeLoop(this.readCases(result, 'value', '2'))}
return value;
},`;
  }

  // ---- encoding --------------------------------------------------------------------------
  // `at`: the depth of the values written or read, when they are messages.

  /** A statement writing one value of `type` as field `n`, unconditionally (explicit presence). */
  private writeValue(type: TypeRef, n: number, v: string, at: Depth): string {
    const t = tag(n, valueWireType(type));
    switch (type.kind) {
      case 'scalar':
        if (type.scalar === 'int64') return `${this.ctx.rt('writeInt64')}(w.uint32(${t}), ${v});`;
        return `w.uint32(${t}).${type.scalar}(${v});`;
      case 'enum':
        return `w.uint32(${t}).int32(encode_${type.name}(${v}));`;
      case 'date':
        return `${this.ctx.rt('writeTimestamp')}(w.uint32(${t}), ${v}, ${at});`;
      case 'message':
      case 'union':
        return `encode_${type.name}(w.uint32(${t}).fork(), ${v}, ${at}).ldelim();`;
      case 'array':
      case 'map':
      case 'nullable':
        return `encode_${wrapperName(type)}(w.uint32(${t}).fork(), ${v}, ${at}).ldelim();`;
      case 'literal':
        return '';
    }
  }

  /** Statements writing a repeated field (numbers, bools and enums packed; a typed array in one copy). */
  private writeRepeated(type: ArrayRef, n: number, v: string, at: Depth): string {
    const element = type.element;
    if (!isPackable(element)) return `for (const x of ${v}) ${this.writeValue(element, n, 'x', at)}`;
    const packed = tag(n, WireType.LengthDelimited);
    if (type.typed) return `if (${v}.length !== 0) ${this.ctx.rt('writeTyped')}(w.uint32(${packed}), ${v}, ${type.typed});`;
    const method = element.kind === 'scalar' && !type.set ? packedMethods[element.scalar] : undefined;
    if (method) return `if (${v}.length !== 0) w.uint32(${packed}).${method}(${v});`;
    const write =
      element.kind === 'enum' ? `w.int32(encode_${element.name}(x))` : element.kind === 'scalar' && element.scalar !== 'int64' ? `w.${element.scalar}(x)` : `${this.ctx.rt('writeInt64')}(w, x)`;
    return `if (${v}.${type.set ? 'size' : 'length'} !== 0) {\n  w.uint32(${packed}).fork();\n  for (const x of ${v}) ${write};\n  w.ldelim();\n}`;
  }

  /** Statements writing a map (`map<K, V>` and a list of entries are the same bytes; an entry is not a level of depth). */
  private writeMap(type: MapRef, n: number, v: string, at: Depth): string {
    const entry = `w.uint32(${tag(n, WireType.LengthDelimited)}).fork();\n${this.writeValue(type.key, 1, 'k', at)}\n${this.writeValue(type.value, 2, 'x', at)}\nw.ldelim();`;
    return type.record
      ? `for (const k of Object.keys(${v})) {\nconst x = ${v}[k]!;\n${entry}\n}`
      : `for (const [k, x] of ${v}) {\n${entry}\n}`;
  }

  /** Statements writing one field, following its shape and presence. */
  private writeField(field: FieldModel, v: string, at: Depth): string {
    const { type } = field;
    if (type.kind === 'literal') return '';
    switch (fieldShape(field).kind) {
      case 'plain':
        if (field.optional || field.nullable) return `if (${v} != null) ${this.writeValue(type, field.number, v, at)}`;
        // Required values are always written, defaults too: absent then means absent, so a
        // reader that makes the field optional later still sees the value.
        return this.writeValue(type, field.number, v, at);
      case 'optional':
      case 'wrapped':
        return `if (${v} != null) ${this.writeValue(type, field.number, v, at)}`;
      case 'repeated':
        return this.writeRepeated(type as ArrayRef, field.number, v, at);
      case 'map':
        return this.writeMap(type as MapRef, field.number, v, at);
      case 'nullable-oneof':
        return `if (${v} === null) w.uint32(${tag(field.nullNumber!, WireType.Varint)}).int32(0);\nelse if (${v} !== undefined) ${this.writeValue(type, field.number, v, at)}`;
    }
  }

  // ---- decoding --------------------------------------------------------------------------

  /** An expression reading one value of `type`. */
  private readValue(type: TypeRef, at: Depth): string {
    switch (type.kind) {
      case 'scalar':
        if (type.scalar === 'int64') return `${this.ctx.rt('readInt64')}(r)`;
        if (type.scalar === 'bytes') return `${this.ctx.rt('readBytes')}(r)`;
        if (type.scalar === 'string') return `${this.ctx.rt('readString')}(r)`;
        return `r.${type.scalar}()`;
      case 'enum':
        // An unknown number is refused (runtime/codec/protobuf.ts unknownEnumValue).
        return `decode_${type.name}(r.int32())`;
      case 'date':
        return `${this.ctx.rt('readTimestamp')}(r, ${at})`;
      case 'message':
      case 'union':
        return `decode_${type.name}(r, ${this.ctx.rt('readEnd')}(r), ${at})`;
      case 'array':
      case 'map':
      case 'nullable':
        return `decode_${wrapperName(type)}(r, ${this.ctx.rt('readEnd')}(r), ${at})`;
      case 'literal':
        return literal(type.value);
    }
  }

  /** Reads a singular field's value into `target`: a message-typed one may come once (runtime `once`). */
  private readSingular(type: TypeRef, target: string, at: Depth): string {
    return valueWireType(type) === WireType.LengthDelimited && type.kind !== 'scalar' ? `${this.ctx.rt('once')}(${target}, ${this.readValue(type, at)})` : this.readValue(type, at);
  }

  /** protobuf's default of a non-scalar value: the decoding of an empty message (an enum's 0 is refused). */
  private defaultValue(type: TypeRef, at: Depth): string {
    switch (type.kind) {
      case 'enum':
        return `decode_${type.name}(0)`;
      case 'date':
        return 'new Date(0)';
      case 'message':
      case 'union':
        return `decode_${type.name}(r, r.pos, ${at})`;
      default:
        return `decode_${wrapperName(type)}(r, r.pos, ${at})`;
    }
  }

  /**
   * What a field holds before its bytes arrive: proto3 defaults for scalars, empty lists and
   * maps, null for a null-only field, undefined otherwise (a missing required message is then
   * refused by the validator). `undefined` when the field is simply left unset.
   */
  private initialValue(field: FieldModel): string | undefined {
    const { type } = field;
    const shape = fieldShape(field).kind;
    if (type.kind === 'literal') return literal(type.value);
    if (shape === 'repeated') {
      const array = type as ArrayRef;
      return array.typed ? `new ${array.typed}(0)` : array.set ? 'new Set()' : '[]';
    }
    if (shape === 'map') return (type as MapRef).record ? '{}' : 'new Map()';
    if (shape === 'plain' && type.kind === 'scalar' && !field.optional && !field.nullable) return scalarDefaults[type.scalar];
    if (field.nullable && !field.optional) return 'null';
    return undefined;
  }

  /** How a decoder reads a field into `target` (an assignable expression): none for a literal (not on the wire). */
  private readCases(field: FieldModel, target: string, at: Depth): FieldCase[] {
    const { type, number: n } = field;
    if (type.kind === 'literal') return [];
    const shape = fieldShape(field).kind;
    if (shape === 'repeated') return [this.readRepeatedCase(type as ArrayRef, n, target, at)];
    if (shape === 'map') {
      const map = type as MapRef;
      const reader = `entries_${entryName(map)}${map.record ? 'Record' : ''}`;
      this.entryReaders.set(reader, map);
      return [single(n, tag(n, WireType.LengthDelimited), `${reader}(r, ${this.ctx.rt('readEnd')}(r), ${target}, ${at});`)];
    }
    const cases = [single(n, tag(n, valueWireType(type)), `${target} = ${this.readSingular(type, target, at)};`)];
    if (shape === 'nullable-oneof') cases.push(single(field.nullNumber!, tag(field.nullNumber!, WireType.Varint), `r.int32();\n${target} = null;`));
    return cases;
  }

  /**
   * A repeated field: one element per tag, or (numbers, bools and enums) packed, which protobuf
   * readers accept both ways. A Set refuses an element twice; a typed array is read in one piece
   * (runtime/codec/typed-arrays.ts).
   */
  private readRepeatedCase(type: ArrayRef, n: number, target: string, at: Depth): FieldCase {
    const { element } = type;
    const packedTag = tag(n, WireType.LengthDelimited);
    const oneTag = tag(n, valueWireType(element));
    if (type.typed) {
      return {
        number: n,
        reads: [
          { tag: packedTag, read: `${target} = ${this.ctx.rt('readTyped')}(r, ${target}, ${type.typed});` },
          { tag: oneTag, read: `${target} = ${this.ctx.rt('readTypedOne')}(r, ${target}, ${type.typed});` },
        ],
      };
    }
    const add = (value: string) => (type.set ? `${this.ctx.rt('addUnique')}(${target}, ${value});` : `${target}.push(${value});`);
    const one = { tag: oneTag, read: add(this.readValue(element, at)) };
    if (!isPackable(element)) return { number: n, reads: [one] };
    const method = element.kind === 'scalar' && !type.set ? packedMethods[element.scalar] : undefined;
    const packed = method
      ? `r.${method}(${target});`
      : `{\nconst e = ${this.ctx.rt('readEnd')}(r);\nwhile (r.pos < e) ${add(this.readValue(element, at))}\n}`;
    return { number: n, reads: [{ tag: packedTag, read: packed }, one] };
  }

  /**
   * The field loop of a decoder. It switches on the field number (dense, so the engine jumps
   * straight to the case; a switch on whole tags, eight apart, is a chain of comparisons), then
   * checks the wire type: a known number with a wire type its type never uses is refused (bytes
   * of an incompatible schema must fail, not decode into something plausible), an unknown number
   * is skipped, or kept on `keepOn` (an entity being decoded) to be written back.
   */
  private decodeLoop(cases: FieldCase[], keepOn?: string): string {
    const unknown = keepOn ? `${this.ctx.rt('keepUnknown')}(r, tag, ${keepOn});` : `${this.ctx.rt('skipField')}(r, tag);`;
    if (cases.length === 0) {
      const loop = keepOn ? `while (r.pos < end) {\nconst tag = r.uint32();\n${unknown}\n}` : `while (r.pos < end) ${this.ctx.rt('skipField')}(r, r.uint32());`;
      return `${loop}\nif (r.pos !== end) ${this.ctx.rt('overrun')}(r, end);`;
    }
    const wrong = `${this.ctx.rt('wrongWireType')}(tag);`;
    const clauses = [...cases]
      .sort((a, b) => a.number - b.number)
      .map(({ number, reads }) => {
        const tests = reads.map((r, i) => `${i === 0 ? '' : 'else '}if (tag === ${r.tag}) ${r.read}`);
        const body = reads.length === 1 ? `if (tag !== ${reads[0]!.tag}) ${wrong}\n${reads[0]!.read}` : `${tests.join('\n')}\nelse ${wrong}`;
        return `case ${number}:\n${body}\nbreak;`;
      });
    return `while (r.pos < end) {
const tag = r.uint32();
switch (tag >>> 3) {
${clauses.join('\n')}
default: ${unknown}
}
}
if (r.pos !== end) ${this.ctx.rt('overrun')}(r, end);`;
  }

  /**
   * A function reading one Map/Record entry (key = 1, value = 2) into the target; `d` is the
   * depth of its key and value (an entry is not a level). A missing key or value is its type's
   * default, as protobuf says: a scalar's zero, an empty message; an enum's 0 is never a value,
   * so an entry without an enum key or value is refused.
   */
  private entryReader(name: string, type: MapRef): string {
    const keyType = this.ctx.types.of(type.key);
    const valueType = this.ctx.types.of(type.value);
    const keyInit = type.key.kind === 'scalar' ? scalarDefaults[type.key.scalar] : 'undefined';
    const valueInit = type.value.kind === 'scalar' ? scalarDefaults[type.value.scalar] : 'undefined';
    const missing = (t: TypeRef, v: string) => (t.kind === 'scalar' ? '' : `if (${v} === undefined) ${v} = ${this.defaultValue(t, 'd')};\n`);
    const target = type.record ? `Record<string, ${valueType}>` : `Map<${keyType}, ${valueType}>`;
    const store = type.record
      ? `${this.ctx.rt('setEntry')}(target, k as string, x as ${valueType});`
      : `target.set(k as ${keyType}, x as ${valueType});`;
    const body = `let k: ${keyType} | undefined = ${keyInit};
let x: ${valueType} | undefined = ${valueInit};
${this.decodeLoop([single(1, tag(1, valueWireType(type.key)), `k = ${this.readSingular(type.key, 'k', 'd')};`), single(2, tag(2, valueWireType(type.value)), `x = ${this.readSingular(type.value, 'x', 'd')};`)])}
${missing(type.key, 'k')}${missing(type.value, 'x')}${store}`;
    // Entries of scalars never read the depth: '_d' keeps projects with noUnusedParameters compiling.
    const depth = /\bd\b/.test(body) ? 'd' : '_d';
    return `function ${name}(r: ${this.ctx.rtType('Reader')}, end: number, target: ${target}, ${depth}: number): void {
${body}
}`;
  }
}

/** A field number read with one wire type. */
function single(number: number, tag: number, read: string): FieldCase {
  return { number, reads: [{ tag, read }] };
}
