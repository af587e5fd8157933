/**
 * Emits `<out>/index.ts`: for every message a generated encoder, decoder and validator on
 * protobufjs's Writer/Reader; for every action a one-line descriptor; for every controller a
 * proxy class with one real method per action; and the registration of the set with the
 * runtime. Request and response codecs are shared between actions of the same wire shape, so
 * the file grows with the number of distinct shapes, not of actions. Prettier only normalises
 * the layout afterwards.
 */
import type {
  ActionModel,
  ContractModel,
  ControllerModel,
  EnumModel,
  FieldModel,
  MessageModel,
  ScalarKind,
  TypeRef,
  UnionModel,
  UnionVariant,
} from '../model/contract-model.js';
import { compare } from '../diagnostics.js';
import { collectWrappers, entryName, fieldShape, isPackable, tag, valueWireType, WireType, wrapperName } from './wire-shape.js';
import { wireTable } from '../check/wire-table.js';

export interface TsEmitOptions {
  /** Comment lines for the top of the file. */
  header: string[];
  /** Import path of each contract file, relative to the output folder (`../contracts/chat.js`). */
  importPath(file: string): string;
  /** e.g. 'p2pgen 0.1.0'. */
  generator: string;
}

type ArrayRef = Extract<TypeRef, { kind: 'array' }>;
type MapRef = Extract<TypeRef, { kind: 'map' }>;

const scalarTsTypes: Record<ScalarKind, string> = {
  string: 'string',
  bool: 'boolean',
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  int64: 'bigint',
  bytes: 'Uint8Array',
};

const scalarDefaults: Record<ScalarKind, string> = {
  string: "''",
  bool: 'false',
  double: '0',
  float: '0',
  int32: '0',
  uint32: '0',
  int64: '0n',
  bytes: 'new Uint8Array(0)',
};

/** protobufjs Writer/Reader methods for packed repeated numbers. */
const packedMethods: Partial<Record<ScalarKind, string>> = {
  double: 'doubles',
  float: 'floats',
  int32: 'int32s',
  uint32: 'uint32s',
  bool: 'bools',
};

const scalarChecks: Record<ScalarKind, string> = {
  string: 'checkString',
  bool: 'checkBool',
  double: 'checkNumber',
  float: 'checkNumber',
  int32: 'checkInt32',
  uint32: 'checkUint32',
  int64: 'checkInt64',
  bytes: 'checkBytes',
};

const str = (value: unknown) => JSON.stringify(value);
const isIdentifier = (name: string) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name);
/** `o.name` or `o["odd-name"]`. */
const member = (object: string, name: string) => (isIdentifier(name) ? `${object}.${name}` : `${object}[${str(name)}]`);
/** A key in an object literal or type. */
const key = (name: string) => (isIdentifier(name) ? name : str(name));

/** Tracks what the generated file imports, so no import clashes with a name it declares. */
class Imports {
  private readonly runtime = new Set<string>();
  private readonly runtimeTypes = new Set<string>();
  private readonly files = new Map<string, Map<string, { local: string; typeOnly: boolean }>>();
  private readonly taken: Set<string>;

  constructor(declared: Iterable<string>) {
    this.taken = new Set(declared);
  }

  /** A value from 'p2pgen/internal'. */
  rt(name: string): string {
    this.runtime.add(name);
    return name;
  }

  /** A type from 'p2pgen/internal'. */
  rtType(name: string): string {
    this.runtimeTypes.add(name);
    return name;
  }

  /** Imports `exported` from a contract file (aliased on a clash); value imports win over type-only ones. */
  contract(file: string, exported: string, typeOnly: boolean): string {
    let names = this.files.get(file);
    if (!names) this.files.set(file, (names = new Map()));
    const existing = names.get(exported);
    if (existing) {
      if (!typeOnly) existing.typeOnly = false;
      return existing.local;
    }
    let local = exported;
    for (let i = 1; this.taken.has(local); i++) local = `${exported}_${i}`;
    this.taken.add(local);
    names.set(exported, { local, typeOnly });
    return local;
  }

  render(importPath: (file: string) => string, usesObservable: boolean): string {
    const lines: string[] = [];
    if (usesObservable) lines.push(`import type { Observable } from 'rxjs';`);
    const runtime = [
      ...this.runtime,
      ...[...this.runtimeTypes].filter((n) => !this.runtime.has(n)).map((n) => `type ${n}`),
    ].sort((a, b) => compare(a.replace(/^type /, ''), b.replace(/^type /, '')));
    lines.push(`import { ${runtime.join(', ')} } from 'p2pgen/internal';`);
    for (const file of [...this.files.keys()].sort(compare)) {
      const names = [...this.files.get(file)!].sort(([a], [b]) => compare(a, b));
      const allTypes = names.every(([, n]) => n.typeOnly);
      const specifiers = names.map(([exported, n]) => {
        const alias = exported === n.local ? exported : `${exported} as ${n.local}`;
        return n.typeOnly && !allTypes ? `type ${alias}` : alias;
      });
      lines.push(`import ${allTypes ? 'type ' : ''}{ ${specifiers.join(', ')} } from ${str(importPath(file))};`);
    }
    return lines.join('\n');
  }
}

/**
 * The file as top-level chunks (the header and imports first): each chunk is complete on its
 * own, so chunks can be formatted independently and joined with a blank line.
 */
export function emitTypeScriptChunks(model: ContractModel, options: TsEmitOptions): string[] {
  return new TsEmitter(model, options).emit();
}


/** The wire shape of a request or response, for sharing codecs between actions. */
function shapeKey(fields: FieldModel[]): string {
  return str(fields.map((f) => [f.number, f.type, f.optional, f.nullable, f.nullNumber ?? 0]));
}

class TsEmitter {
  private readonly messages: Map<string, MessageModel>;
  private readonly enums: Map<string, EnumModel>;
  private readonly imports: Imports;
  /** TS type name of each message/union/enum. */
  private readonly tsNames = new Map<string, string>();
  /** The class (value) of a generic class message, whose type name has arguments. */
  private readonly classNames = new Map<string, string>();
  /** Regular expressions of Pattern constraints, compiled once at module level. */
  private readonly patterns: string[] = [];
  /** Map types whose entries are read by a generated `entries_*` function. */
  private readonly entryReaders = new Map<string, MapRef>();
  /** Request/response shape -> name of the shared codec. */
  private readonly sharedCodecs = new Map<string, string>();
  private usesObservable = false;

  constructor(
    private readonly model: ContractModel,
    private readonly options: TsEmitOptions,
  ) {
    this.messages = new Map(model.messages.map((m) => [m.name, m]));
    this.enums = new Map(model.enums.map((e) => [e.name, e]));
    this.imports = new Imports([
      ...model.messages.filter((m) => m.origin.kind === 'anonymous').map((m) => m.name),
      ...model.unions.filter((u) => !u.tsName).map((u) => u.name),
      ...model.enums.filter((e) => e.origin.kind === 'literals').map((e) => e.name),
      ...model.controllers.flatMap((c) => [`${c.className}Proxy`, `${c.className}Actions`]),
      'contracts',
      'codecs',
      'Observable',
    ]);
  }

  emit(): string[] {
    this.assignTypeNames();
    const entities = this.model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response');
    const sections = [
      this.section('Types', [...this.typeDeclarations()]),
      this.section('Enums', this.model.enums.map((e) => this.enumFunctions(e))),
      this.section('Messages', entities.map((m) => this.messageFunctions(m))),
      this.section('Unions', this.model.unions.map((u) => this.unionFunctions(u))),
      this.section('Wrappers', [...collectWrappers(this.model)].filter(([n]) => !n.endsWith('Entry')).map(([n, t]) => this.wrapperFunctions(n, t))),
      this.section('Requests and responses', this.actionCodecs()),
      this.section('Actions', this.model.controllers.map((c) => this.actionDescriptors(c))),
      this.section('Proxies', this.model.controllers.map((c) => this.proxyClass(c))),
      this.section('Registration', [this.registration()]),
    ];
    // Entry readers are discovered while emitting the sections above.
    sections.splice(5, 0, this.section('Map entries', [...this.entryReaders].map(([n, t]) => this.entryReader(n, t))));
    const head = [
      ...this.options.header.map((h) => `// ${h}`),
      '/* eslint-disable */',
      this.imports.render(this.options.importPath, this.usesObservable),
      this.patterns.map((p, i) => `const pattern${i} = new RegExp(${str(p)});`).join('\n'),
      [...this.knownSets].map(([set, name]) => `const ${name}: ReadonlySet<number> = ${set};`).join('\n'),
    ].filter((s) => s !== '');
    return [head.join('\n'), ...sections.flat()];
  }

  /** A section's chunks, the first one headed by the section's title. */
  private section(title: string, parts: string[]): string[] {
    const content = parts.filter((p) => p !== '');
    if (content.length === 0) return [];
    content[0] = `// ---- ${title} ----\n\n${content[0]}`;
    return content;
  }

  // ---- names and types -------------------------------------------------------------------

  private assignTypeNames(): void {
    for (const m of this.model.messages) {
      if (m.origin.kind === 'class') this.tsNames.set(m.name, this.imports.contract(m.origin.file, m.origin.tsName, false));
      else if (m.origin.kind === 'interface') this.tsNames.set(m.name, this.imports.contract(m.origin.file, m.origin.tsName, true));
      else this.tsNames.set(m.name, m.name);
    }
    for (const u of this.model.unions) {
      this.tsNames.set(u.name, u.tsName && u.file ? this.imports.contract(u.file, u.tsName, true) : u.name);
    }
    for (const e of this.model.enums) {
      this.tsNames.set(e.name, e.origin.kind === 'enum' ? this.imports.contract(e.origin.file, e.origin.tsName, false) : e.name);
    }
    // Instantiated generic classes: `Box<Item>` (arguments named once every name is known).
    for (const m of this.model.messages) {
      if (m.origin.kind === 'class' && m.origin.typeArguments) {
        this.classNames.set(m.name, this.tsNames.get(m.name)!);
        this.tsNames.set(m.name, `${this.tsNames.get(m.name)}<${m.origin.typeArguments.map((a) => this.tsType(a)).join(', ')}>`);
      }
    }
  }

  private tsType(type: TypeRef): string {
    switch (type.kind) {
      case 'scalar':
        return scalarTsTypes[type.scalar];
      case 'date':
        return 'Date';
      case 'enum':
      case 'message':
      case 'union':
        return this.tsNames.get(type.name)!;
      case 'array':
        return `Array<${this.tsType(type.element)}>`;
      case 'map':
        return type.record ? `Record<string, ${this.tsType(type.value)}>` : `Map<${this.tsType(type.key)}, ${this.tsType(type.value)}>`;
      case 'nullable':
        return `${this.tsType(type.inner)} | null`;
      case 'literal':
        return str(type.value);
    }
  }

  private fieldTsType(field: FieldModel): string {
    return `${this.tsType(field.type)}${field.nullable ? ' | null' : ''}${field.optional ? ' | undefined' : ''}`;
  }

  /** `[message: ChatMessage, limit?: number]`: an action's arguments as a labelled tuple. */
  private argsType(params: FieldModel[]): string {
    return `[${params.map((p) => `${key(p.name)}${p.optional ? '?' : ''}: ${this.tsType(p.type)}${p.nullable ? ' | null' : ''}`).join(', ')}]`;
  }

  private resultType(response: MessageModel): string {
    return response.fields[0] ? this.fieldTsType(response.fields[0]) : 'undefined';
  }

  /** Declarations for anonymous messages, literal enums and unnamed unions. */
  private *typeDeclarations(): Iterable<string> {
    for (const e of this.model.enums) {
      if (e.origin.kind === 'literals') yield `export type ${e.name} = ${e.values.map((v) => str(v.value)).join(' | ')};`;
    }
    for (const m of this.model.messages) {
      if (m.origin.kind !== 'anonymous') continue;
      const fields = m.fields.map((f) => `  ${key(f.name)}${f.optional ? '?' : ''}: ${this.tsType(f.type)}${f.nullable ? ' | null' : ''};`);
      yield `export interface ${m.name} {\n${fields.join('\n')}\n}`;
    }
    for (const u of this.model.unions) {
      if (!u.tsName) yield `export type ${u.name} = ${u.variants.map((v) => this.tsType(v.type)).join(' | ')};`;
    }
  }

  // ---- enums -----------------------------------------------------------------------------

  private enumValueExpr(e: EnumModel, value: EnumModel['values'][number]): string {
    return e.origin.kind === 'enum' ? member(this.tsNames.get(e.name)!, value.member!) : str(value.value);
  }

  private enumFunctions(e: EnumModel): string {
    const type = this.tsNames.get(e.name)!;
    const toWire = e.values.map((v) => `case ${this.enumValueExpr(e, v)}: return ${v.number};`).join('\n');
    const fromWire = e.values.map((v) => `case ${v.number}: return ${this.enumValueExpr(e, v)};`).join('\n');
    return `// ${e.name}: a member's wire number, 0 for anything else
function encode_${e.name}(value: ${type}): number {
  switch (value) {
${toWire}
default: return 0;
  }
}
function decode_${e.name}(n: number): ${type} {
  switch (n) {
${fromWire}
default: return ${this.imports.rt('unknownEnumValue')}(${str(e.name)}, n);
  }
}`;
  }

  // ---- encoding --------------------------------------------------------------------------

  /** A statement writing one value of `type` as field `n`, unconditionally (explicit presence). */
  private writeValue(type: TypeRef, n: number, v: string): string {
    const t = tag(n, valueWireType(type));
    switch (type.kind) {
      case 'scalar':
        if (type.scalar === 'int64') return `${this.imports.rt('writeInt64')}(w.uint32(${t}), ${v});`;
        return `w.uint32(${t}).${type.scalar}(${v});`;
      case 'enum':
        return `w.uint32(${t}).int32(encode_${type.name}(${v}));`;
      case 'date':
        return `${this.imports.rt('writeTimestamp')}(w.uint32(${t}), ${v});`;
      case 'message':
      case 'union':
        return `encode_${type.name}(w.uint32(${t}).fork(), ${v}).ldelim();`;
      case 'array':
      case 'map':
      case 'nullable':
        return `encode_${wrapperName(type)}(w.uint32(${t}).fork(), ${v}).ldelim();`;
      case 'literal':
        return '';
    }
  }

  /** Statements writing a repeated field (numbers, bools and enums packed). */
  private writeRepeated(type: ArrayRef, n: number, v: string): string {
    const element = type.element;
    if (!isPackable(element)) return `for (const x of ${v}) ${this.writeValue(element, n, 'x')}`;
    const packed = tag(n, WireType.LengthDelimited);
    const method = element.kind === 'scalar' ? packedMethods[element.scalar] : undefined;
    if (method) return `if (${v}.length !== 0) w.uint32(${packed}).${method}(${v});`;
    const write = element.kind === 'enum' ? `w.int32(encode_${element.name}(x))` : `${this.imports.rt('writeInt64')}(w, x)`;
    return `if (${v}.length !== 0) {\n  w.uint32(${packed}).fork();\n  for (const x of ${v}) ${write};\n  w.ldelim();\n}`;
  }

  /** Statements writing a map (`map<K, V>` and a list of entries are the same bytes). */
  private writeMap(type: MapRef, n: number, v: string): string {
    const entry = `w.uint32(${tag(n, WireType.LengthDelimited)}).fork();\n${this.writeValue(type.key, 1, 'k')}\n${this.writeValue(type.value, 2, 'x')}\nw.ldelim();`;
    return type.record
      ? `for (const k of Object.keys(${v})) {\nconst x = ${v}[k]!;\n${entry}\n}`
      : `for (const [k, x] of ${v}) {\n${entry}\n}`;
  }

  /** Statements writing one field, following its shape and presence. */
  private writeField(field: FieldModel, v: string): string {
    const { type } = field;
    if (type.kind === 'literal') return '';
    switch (fieldShape(field).kind) {
      case 'plain':
        if (field.optional || field.nullable) return `if (${v} != null) ${this.writeValue(type, field.number, v)}`;
        // Required values are always written, defaults too: absent then means absent, so a
        // reader that makes the field optional later still sees the value.
        return this.writeValue(type, field.number, v);
      case 'optional':
      case 'wrapped':
        return `if (${v} != null) ${this.writeValue(type, field.number, v)}`;
      case 'repeated':
        return this.writeRepeated(type as ArrayRef, field.number, v);
      case 'map':
        return this.writeMap(type as MapRef, field.number, v);
      case 'nullable-oneof':
        return `if (${v} === null) w.uint32(${tag(field.nullNumber!, WireType.Varint)}).int32(0);\nelse if (${v} !== undefined) ${this.writeValue(type, field.number, v)}`;
    }
  }

  // ---- decoding --------------------------------------------------------------------------

  /** An expression reading one value of `type`. */
  private readValue(type: TypeRef): string {
    switch (type.kind) {
      case 'scalar':
        if (type.scalar === 'int64') return `${this.imports.rt('readInt64')}(r)`;
        if (type.scalar === 'bytes') return `${this.imports.rt('readBytes')}(r)`;
        if (type.scalar === 'string') return `${this.imports.rt('readString')}(r)`;
        return `r.${type.scalar}()`;
      case 'enum':
        // An unknown number is refused (runtime/codec/protobuf.ts unknownEnumValue).
        return `decode_${type.name}(r.int32())`;
      case 'date':
        return `${this.imports.rt('readTimestamp')}(r)`;
      case 'message':
      case 'union':
        return `decode_${type.name}(r, ${this.imports.rt('readEnd')}(r))`;
      case 'array':
      case 'map':
      case 'nullable':
        return `decode_${wrapperName(type)}(r, ${this.imports.rt('readEnd')}(r))`;
      case 'literal':
        return str(type.value);
    }
  }

  /** Reads a singular field's value into `target`: a message-typed one may come once (runtime `once`). */
  private readSingular(type: TypeRef, target: string): string {
    return valueWireType(type) === WireType.LengthDelimited && type.kind !== 'scalar' ? `${this.imports.rt('once')}(${target}, ${this.readValue(type)})` : this.readValue(type);
  }

  /**
   * What a field holds before its bytes arrive: proto3 defaults for scalars, empty lists and
   * maps, null for a null-only field, undefined otherwise (a missing required message is then
   * refused by the validator). `undefined` when the field is simply left unset.
   */
  private initialValue(field: FieldModel): string | undefined {
    const { type } = field;
    const shape = fieldShape(field).kind;
    if (type.kind === 'literal') return str(type.value);
    if (shape === 'repeated') return '[]';
    if (shape === 'map') return (type as MapRef).record ? '{}' : 'new Map()';
    if (shape === 'plain' && type.kind === 'scalar' && !field.optional && !field.nullable) return scalarDefaults[type.scalar];
    if (field.nullable && !field.optional) return 'null';
    return undefined;
  }

  /** `case` clauses reading a field into `target` (an assignable expression). */
  private readCases(field: FieldModel, target: string): string {
    const { type, number: n } = field;
    const shape = fieldShape(field).kind;
    if (shape === 'repeated') return this.readRepeatedCases((type as ArrayRef).element, n, target);
    if (shape === 'map') {
      const map = type as MapRef;
      const reader = `entries_${entryName(map)}${map.record ? 'Record' : ''}`;
      this.entryReaders.set(reader, map);
      return `case ${tag(n, WireType.LengthDelimited)}: ${reader}(r, ${this.imports.rt('readEnd')}(r), ${target}); break;`;
    }
    let cases = `case ${tag(n, valueWireType(type))}: ${target} = ${this.readSingular(type, target)}; break;`;
    if (shape === 'nullable-oneof') cases += `\ncase ${tag(field.nullNumber!, WireType.Varint)}: r.int32(); ${target} = null; break;`;
    return cases;
  }

  private readRepeatedCases(element: TypeRef, n: number, target: string): string {
    const one = `case ${tag(n, valueWireType(element))}: ${target}.push(${this.readValue(element)}); break;`;
    if (!isPackable(element)) return one;
    const method = element.kind === 'scalar' ? packedMethods[element.scalar] : undefined;
    const packed = method
      ? `case ${tag(n, WireType.LengthDelimited)}: r.${method}(${target}); break;`
      : `case ${tag(n, WireType.LengthDelimited)}: {\nconst e = ${this.imports.rt('readEnd')}(r);\nwhile (r.pos < e) ${target}.push(${this.readValue(element)});\nbreak;\n}`;
    return `${packed}\n${one}`;
  }

  /** The field loop of a decoder: known tags read, unknown ones skipped, wrong wire types refused. */
  private decodeLoop(cases: string, known: number[]): string {
    const knownSet = known.length === 0 ? 'noFields' : `new Set([${[...known].sort((a, b) => a - b).join(', ')}])`;
    this.imports.rt('skipUnknown');
    return `while (r.pos < end) {
const tag = r.uint32();
switch (tag) {
${cases}
default: skipUnknown(r, tag, ${this.knownConst(knownSet)});
}
}
if (r.pos !== end) ${this.imports.rt('overrun')}(r, end);`;
  }

  private readonly knownSets = new Map<string, string>();

  /** Field-number sets are module constants, shared between decoders with the same fields. */
  private knownConst(expression: string): string {
    if (expression === 'noFields') return this.imports.rt('noFields');
    let name = this.knownSets.get(expression);
    if (!name) this.knownSets.set(expression, (name = `known${this.knownSets.size}`));
    return name;
  }

  /**
   * A function reading one Map/Record entry (key = 1, value = 2) into the target. A missing
   * key or value is its type's default, as protobuf says: a scalar's zero, an empty message;
   * an enum's 0 is never a value, so an entry without an enum key or value is refused.
   */
  private entryReader(name: string, type: MapRef): string {
    const keyType = this.tsType(type.key);
    const valueType = this.tsType(type.value);
    const keyInit = type.key.kind === 'scalar' ? scalarDefaults[type.key.scalar] : 'undefined';
    const valueInit = type.value.kind === 'scalar' ? scalarDefaults[type.value.scalar] : 'undefined';
    const missing = (t: TypeRef, v: string) => (t.kind === 'scalar' ? '' : `if (${v} === undefined) ${v} = ${this.defaultValue(t)};\n`);
    const target = type.record ? `Record<string, ${valueType}>` : `Map<${keyType}, ${valueType}>`;
    const store = type.record
      ? `${this.imports.rt('setEntry')}(target, k as string, x as ${valueType});`
      : `target.set(k as ${keyType}, x as ${valueType});`;
    return `function ${name}(r: Reader, end: number, target: ${target}): void {
let k: ${keyType} | undefined = ${keyInit};
let x: ${valueType} | undefined = ${valueInit};
${this.decodeLoop(`case ${tag(1, valueWireType(type.key))}: k = ${this.readSingular(type.key, 'k')}; break;\ncase ${tag(2, valueWireType(type.value))}: x = ${this.readSingular(type.value, 'x')}; break;`, [1, 2])}
${missing(type.key, 'k')}${missing(type.value, 'x')}${store}
}`;
  }

  /** protobuf's default of a non-scalar value: the decoding of an empty message (an enum's 0 is refused). */
  private defaultValue(type: TypeRef): string {
    switch (type.kind) {
      case 'enum':
        return `decode_${type.name}(0)`;
      case 'date':
        return 'new Date(0)';
      case 'message':
      case 'union':
        return `decode_${type.name}(r, r.pos)`;
      default:
        return `decode_${wrapperName(type)}(r, r.pos)`;
    }
  }

  // ---- validating ------------------------------------------------------------------------

  /**
   * Statements checking `v` (an expression without side effects) against `type`. An issue's
   * path is `at(path, key)`: `path` and `key` are expressions, built only on failure.
   */
  private check(type: TypeRef, v: string, path: string, key: string, depth: number): string {
    const here = `${path}, ${key}, issues`;
    switch (type.kind) {
      case 'scalar': {
        const call = `${this.imports.rt(scalarChecks[type.scalar])}(${v}, ${here})`;
        const rules = this.constraintRules(type, v, path, key);
        return rules.length === 0 ? `${call};` : `if (${call}) {\n${rules.join('\n')}\n}`;
      }
      case 'date':
        return `${this.imports.rt('checkDate')}(${v}, ${here});`;
      case 'literal':
        return `${this.imports.rt('checkLiteral')}(${v}, ${str(type.value)}, ${here});`;
      case 'enum': {
        const e = this.enums.get(type.name)!;
        const members = e.values.map((x) => (e.origin.kind === 'enum' ? `${this.tsNames.get(e.name)}.${x.member}` : str(x.value))).join(', ');
        return `${this.imports.rt('checkEnum')}(${v}, encode_${type.name}, ${str(members)}, ${here});`;
      }
      case 'message':
      case 'union':
        return `validate_${type.name}(${v}, ${here});`;
      case 'nullable':
        return `if (${v} !== null) {\n${this.check(type.inner, v, path, key, depth)}\n}`;
      case 'array': {
        const element = this.checkFunction(type.element);
        if (element && !type.constraints) return `${this.imports.rt('checkEach')}(${v}, ${element}, ${here});`;
        const x = `x${depth}`;
        const i = `i${depth}`;
        const p = `p${depth}`;
        const rules = this.constraintRules(type, x, path, key);
        return `{
const ${x} = ${v};
if (${this.imports.rt('checkArray')}(${x}, ${here})) {
${rules.join('\n')}
const ${p} = ${this.imports.rt('at')}(${path}, ${key});
for (let ${i} = 0; ${i} < ${x}.length; ${i}++) {
${this.check(type.element, `${x}[${i}]`, p, i, depth + 1)}
}
}
}`;
      }
      case 'map': {
        const x = `x${depth}`;
        const k = `k${depth}`;
        const p = `p${depth}`;
        const entry = `${this.imports.rt('entryPath')}(${p}, ${k})`;
        if (type.record) {
          return `{
const ${x} = ${v};
if (${this.imports.rt('checkRecord')}(${x}, ${here})) {
const ${p} = ${this.imports.rt('at')}(${path}, ${key});
for (const ${k} of Object.keys(${x})) {
${this.check(type.value, `${x}[${k}]`, entry, "''", depth + 1)}
}
}
}`;
        }
        const e = `e${depth}`;
        return `{
const ${x} = ${v};
if (${this.imports.rt('checkMap')}(${x}, ${here})) {
const ${p} = ${this.imports.rt('at')}(${path}, ${key});
for (const [${k}, ${e}] of ${x}) {
${this.check(type.key, k, entry, "'<key>'", depth + 1)}
${this.check(type.value, e, entry, "''", depth + 1)}
}
}
}`;
      }
    }
  }

  /** The function checking one value of `type`, when a single call does (no constraints, no nesting). */
  private checkFunction(type: TypeRef): string | undefined {
    switch (type.kind) {
      case 'scalar':
        return type.constraints ? undefined : this.imports.rt(scalarChecks[type.scalar]);
      case 'date':
        return this.imports.rt('checkDate');
      case 'message':
      case 'union':
        return `validate_${type.name}`;
      default:
        return undefined;
    }
  }

  /** Constraint checks on an already type-checked value. */
  private constraintRules(type: TypeRef, v: string, path: string, key: string): string[] {
    if (type.kind !== 'scalar' && type.kind !== 'array') return [];
    const c = type.constraints;
    if (!c) return [];
    const fail = (message: string) => `${this.imports.rt('fail')}(issues, ${path}, ${key}, ${str(message)});`;
    const rules: string[] = [];
    const unit = type.kind === 'array' ? 'items' : 'characters';
    if (c.minLength !== undefined) rules.push(`if (${v}.length < ${c.minLength}) ${fail(type.kind === 'array' ? `must have at least ${c.minLength} items` : `must be at least ${c.minLength} ${unit} long`)}`);
    if (c.maxLength !== undefined) rules.push(`if (${v}.length > ${c.maxLength}) ${fail(type.kind === 'array' ? `must have at most ${c.maxLength} items` : `must be at most ${c.maxLength} ${unit} long`)}`);
    if (c.pattern !== undefined) rules.push(`if (!${this.pattern(c.pattern)}.test(${v})) ${fail(`must match /${c.pattern}/`)}`);
    if (c.email) rules.push(`if (!${this.imports.rt('EMAIL_PATTERN')}.test(${v})) ${fail('must be an e-mail address')}`);
    // Negated comparisons, so NaN fails them.
    if (c.minimum !== undefined) rules.push(`if (!(${v} >= ${c.minimum})) ${fail(`must be at least ${c.minimum}`)}`);
    if (c.maximum !== undefined) rules.push(`if (!(${v} <= ${c.maximum})) ${fail(`must be at most ${c.maximum}`)}`);
    if (c.positive) rules.push(`if (!(${v} > 0)) ${fail('must be positive')}`);
    return rules;
  }

  private pattern(source: string): string {
    let index = this.patterns.indexOf(source);
    if (index < 0) index = this.patterns.push(source) - 1;
    return `pattern${index}`;
  }

  /** Checks one field with its presence rules: absent where optional, null where nullable. */
  private checkField(field: FieldModel, v: string, path: string, key: string): string {
    const inner = this.check(field.type, v, path, key, 0);
    if (field.optional && field.nullable) return `if (${v} != null) {\n${inner}\n}`;
    if (field.optional) {
      const what = `${describeType(field.type)} or undefined`;
      return `if (${v} !== undefined && ${this.imports.rt('notNull')}(${v}, ${path}, ${key}, ${str(what)}, issues)) {\n${inner}\n}`;
    }
    if (field.nullable) return `if (${v} !== null) {\n${inner}\n}`;
    return inner;
  }

  // ---- messages --------------------------------------------------------------------------

  private messageFunctions(m: MessageModel): string {
    const type = this.tsNames.get(m.name)!;
    const wire = m.fields.filter((f) => f.type.kind !== 'literal');
    this.imports.rtType('Writer');
    this.imports.rtType('Reader');
    this.imports.rtType('ValidationIssue');
    const encode = `function encode_${m.name}(w: Writer, m: ${type}): Writer {
${wire.map((f) => this.writeField(f, member('m', f.name))).join('\n')}
return w;
}`;
    const decode = `function decode_${m.name}(r: Reader, end: number): ${type} {
${this.newValue(m, type)}
${this.decodeLoop(wire.map((f) => this.readCases(f, member('m', f.name))).join('\n'), knownNumbers(wire))}
return m;
}`;
    const validate = `function validate_${m.name}(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): void {
if (!${this.imports.rt('checkObject')}(v, path, key, ${str(`${article(type)} object`)}, issues)) return;
const p = ${this.imports.rt('at')}(path, key);
${m.fields.map((f) => this.checkField(f, member('v', f.name), 'p', str(`.${f.name}`))).join('\n')}
}`;
    return [`// ${m.name}`, encode, decode, validate].join('\n');
  }

  /** `const m = …`: a contract-class instance (constructor not run) or a plain object, holding the defaults. */
  private newValue(m: MessageModel, type: string): string {
    const initial = m.fields.map((f) => [f, this.initialValue(f)] as const);
    if (m.origin.kind === 'class') {
      // Every field an own property, as after the constructor; required messages arrive or the validator refuses.
      const sets = initial.map(([f, value]) => `${member('m', f.name)} = ${value ?? (f.optional ? 'undefined' : 'undefined!')};`);
      return `const m = Object.create(${this.classNames.get(m.name) ?? type}.prototype) as ${type};\n${sets.join('\n')}`;
    }
    const present = initial.filter(([f, value]) => value !== undefined || !f.optional);
    return `const m = { ${present.map(([f, value]) => `${key(f.name)}: ${value ?? 'undefined!'}`).join(', ')} } as ${type};`;
  }

  // ---- unions ----------------------------------------------------------------------------

  private unionFunctions(u: UnionModel): string {
    const type = this.tsNames.get(u.name)!;
    const discriminated = u.variants.every((v) => v.match.kind === 'discriminant');
    let encodeBody: string;
    let validateBody: string;
    if (discriminated) {
      const property = (u.variants[0]!.match as { property: string }).property;
      const value = (v: UnionVariant) => str((v.match as { value: unknown }).value);
      encodeBody = `switch (${member('v', property)}) {\n${u.variants.map((v) => `case ${value(v)}: ${this.writeValue(v.type, v.number, 'v')} break;`).join('\n')}\n}`;
      validateBody = `if (!${this.imports.rt('checkObject')}(v, path, key, ${str(article(type))}, issues)) return;
switch (${member('v', property)}) {
${u.variants.map((v) => `case ${value(v)}: ${this.check(v.type, 'v', 'path', 'key', 0)} return;`).join('\n')}
}
${this.imports.rt('reject')}(${member('v', property)}, ${str(`one of ${u.variants.map((v) => str((v.match as { value: unknown }).value)).join(', ')}`)}, ${this.imports.rt('at')}(path, key), ${str(`.${property}`)}, issues);`;
    } else {
      const ordered = [...u.variants].sort((a, b) => matchOrder(a) - matchOrder(b));
      encodeBody = ordered.map((v, i) => `${i === 0 ? '' : 'else '}if (${matchTest(v, 'v')}) ${this.writeValue(v.type, v.number, 'v')}`).join('\n');
      validateBody = `${ordered.map((v) => `if (${matchTest(v, 'v')}) {\n${this.check(v.type, 'v', 'path', 'key', 0)}\nreturn;\n}`).join('\n')}
${this.imports.rt('reject')}(v, ${str(ordered.map((v) => describeType(v.type)).join(' or '))}, path, key, issues);`;
    }
    const cases = u.variants.map((v) => `case ${tag(v.number, valueWireType(v.type))}: value = ${this.imports.rt('once')}(value, ${this.readValue(v.type)}); break;`);
    return `// ${u.name}: one of ${u.variants.map((v) => v.protoName).join(', ')}
function encode_${u.name}(w: Writer, v: ${type}): Writer {
${encodeBody}
return w;
}
function decode_${u.name}(r: Reader, end: number): ${type} {
let value: ${type} | undefined;
${this.decodeLoop(cases.join('\n'), u.variants.map((v) => v.number))}
return value ?? ${this.imports.rt('noUnionMember')}(${str(u.name)});
}
function validate_${u.name}(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): void {
${validateBody}
}`;
  }

  // ---- wrappers --------------------------------------------------------------------------

  /** Codec of a structural wrapper message: the wrapped value is field 1. */
  private wrapperFunctions(name: string, type: TypeRef): string {
    const tsType = this.tsType(type);
    let encodeBody: string;
    let init: string;
    let cases: string;
    if (type.kind === 'nullable') {
      encodeBody = `if (v !== null) ${this.writeValue(type.inner, 1, 'v')}`;
      init = 'null';
      cases = `case ${tag(1, valueWireType(type.inner))}: value = ${this.readSingular(type.inner, 'value')}; break;`;
    } else {
      const inner: FieldModel = { name: 'value', protoName: 'value', number: 1, type, optional: false, nullable: false };
      encodeBody = this.writeField(inner, 'v');
      init = this.initialValue(inner)!;
      cases = this.readCases(inner, 'value');
    }
    return `// ${name}
function encode_${name}(w: Writer, v: ${tsType}): Writer {
${encodeBody}
return w;
}
function decode_${name}(r: Reader, end: number): ${tsType} {
let value: ${tsType} = ${init};
${this.decodeLoop(cases, [1])}
return value;
}`;
  }

  // ---- requests, responses and actions ------------------------------------------------------

  /** Codecs of request and response messages, one per distinct wire shape. */
  private actionCodecs(): string[] {
    const out: string[] = [];
    for (const controller of this.model.controllers) {
      for (const action of controller.actions) {
        const request = this.messages.get(action.request)!;
        const response = this.messages.get(action.response)!;
        const requestKey = `request ${shapeKey(request.fields)}`;
        if (!this.sharedCodecs.has(requestKey)) {
          this.sharedCodecs.set(requestKey, request.name);
          out.push(this.requestCodec(request));
        }
        const responseKey = `response ${shapeKey(response.fields)}`;
        if (!this.sharedCodecs.has(responseKey)) {
          this.sharedCodecs.set(responseKey, response.name);
          out.push(this.responseCodec(response));
        }
      }
    }
    return out;
  }

  private requestCodec(request: MessageModel): string {
    const params = request.fields;
    const args = this.argsType(params);
    const wire = params.filter((p) => p.type.kind !== 'literal');
    this.imports.rtType('RequestCodec');
    const initial = params.map((p) => this.initialValue(p) ?? 'undefined');
    return `// ${request.name}
const ${request.name}: RequestCodec<${args}> = {
encode(w, a) {
${params.map((p, i) => this.writeField(p, `a[${i}]`)).filter((s) => s !== '').join('\n')}
return w;
},
decode(r, end) {
const a = [${initial.join(', ')}] as unknown as ${args};
${this.decodeLoop(params.map((p, i) => (p.type.kind === 'literal' ? '' : this.readCases(p, `a[${i}]`))).filter((s) => s !== '').join('\n'), knownNumbers(wire))}
return a;
},
validate(a, issues, paths) {
${params.map((p, i) => this.checkField(p, `a[${i}]`, `paths[${i}]!`, "''")).join('\n')}
},
};`;
  }

  private responseCodec(response: MessageModel): string {
    const result = response.fields[0];
    const type = this.resultType(response);
    this.imports.rtType('ResponseCodec');
    if (!result) {
      return `// ${response.name}
const ${response.name}: ResponseCodec<undefined> = {
encode: (w) => w,
decode(r, end) {
${this.decodeLoop('', [])}
return undefined;
},
validate(value, issues, path) {
if (value !== undefined) ${this.imports.rt('reject')}(value, 'undefined (the action returns nothing)', path, '', issues);
},
};`;
    }
    const init = this.initialValue(result);
    return `// ${response.name}
const ${response.name}: ResponseCodec<${type}> = {
encode(w, value) {
${this.writeField(result, 'value')}
return w;
},
decode(r, end) {
let value: ${type} = ${init ?? 'undefined!'};
${this.decodeLoop(this.readCases(result, 'value'), knownNumbers([result]))}
return value;
},
validate(value, issues, path) {
${this.checkField(result, 'value', 'path', "''")}
},
};`;
  }

  private actionDescriptors(controller: ControllerModel): string {
    const lines = controller.actions.map((action) => {
      const request = this.messages.get(action.request)!;
      const response = this.messages.get(action.response)!;
      const requestCodec = this.sharedCodecs.get(`request ${shapeKey(request.fields)}`)!;
      const responseCodec = this.sharedCodecs.get(`response ${shapeKey(response.fields)}`)!;
      const params = str(request.fields.map((p) => p.name).join(', '));
      if (action.kind === 'stream') this.usesObservable = true;
      const factory = this.imports.rt(action.kind === 'stream' ? 'stream' : 'unary');
      return `${action.name}: ${factory}(${str(action.name)}, ${str(action.fingerprint)}, ${requestCodec}, ${responseCodec}, ${params}),`;
    });
    return `const ${controller.className}Actions = {\n${lines.join('\n')}\n};`;
  }

  private proxyClass(controller: ControllerModel): string {
    const controllerType = this.imports.contract(controller.file, controller.className, true);
    const names = controller.actions.map((a) => str(a.name)).join(' | ') || 'never';
    this.imports.rtType('PeerChannel');
    this.imports.rtType('RemoteController');
    const methods = controller.actions.map((action: ActionModel) => {
      const request = this.messages.get(action.request)!;
      const response = this.messages.get(action.response)!;
      const params = request.fields.map((p) => `${p.name}${p.optional ? '?' : ''}: ${this.tsType(p.type)}${p.nullable ? ' | null' : ''}`);
      const args = `[${request.fields.map((p) => p.name).join(', ')}]`;
      const descriptor = `${controller.className}Actions.${action.name}`;
      const result = this.resultType(response);
      return action.kind === 'stream'
        ? `${action.name}(${params.join(', ')}): Promise<Observable<${result}>> {\nreturn this.channel.stream(${descriptor}, ${args});\n}`
        : `${action.name}(${params.join(', ')}): Promise<${result}> {\nreturn this.channel.call(${descriptor}, ${args});\n}`;
    });
    return `/** Calls ${controller.className} (${controller.path}) on another peer. */
export class ${controller.className}Proxy implements Pick<RemoteController<${controllerType}>, ${names}> {
constructor(private readonly channel: PeerChannel) {}

${methods.join('\n\n')}
}`;
  }

  private registration(): string {
    this.imports.rt('registerContracts');
    this.imports.rt('messageCodec');
    this.imports.rtType('ContractSet');
    const controllers = this.model.controllers.map(
      (c) => `${this.imports.rt('controller')}(${str(c.path)}, ${str(c.className)}, ${str(c.fingerprint)}, ${c.className}Actions, (channel) => new ${c.className}Proxy(channel)),`,
    );
    const names = [
      ...this.model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response').map((m) => m.name),
      ...this.model.unions.map((u) => u.name),
    ].sort(compare);
    const codecs = names.map((n) => `${n}: messageCodec<${this.tsNames.get(n)}>(${str(n)}, encode_${n}, decode_${n}, validate_${n}),`);
    const wire = JSON.stringify(wireTable(this.model, { names: false }));
    return `/** Wire schemas of every action, compared only when a peer runs another version of a contract. */
const wireSchemas = ${str(wire)};

/** Every controller of these contracts; importing this file registers them with the runtime. */
export const contracts: ContractSet = ${this.imports.rt('defineContracts')}(${str(this.options.generator)}, wireSchemas, [
${controllers.join('\n')}
]);
registerContracts(contracts);

/** Encode, decode and validate each contract type directly. */
export const codecs = {
${codecs.join('\n')}
};`;
  }
}

// ---- free helpers ----------------------------------------------------------------------------

function knownNumbers(fields: FieldModel[]): number[] {
  return fields.filter((f) => f.type.kind !== 'literal').flatMap((f) => (f.nullNumber ? [f.number, f.nullNumber] : [f.number]));
}

/** 'a Point', 'an Entity'. */
function article(name: string): string {
  return `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name}`;
}

function describeType(type: TypeRef): string {
  switch (type.kind) {
    case 'scalar':
      return { string: 'a string', bool: 'a boolean', double: 'a number', float: 'a number', int32: 'an int32', uint32: 'a uint32', int64: 'a bigint', bytes: 'a Uint8Array' }[type.scalar];
    case 'date':
      return 'a Date';
    case 'array':
      return 'an array';
    case 'map':
      return type.record ? 'an object' : 'a Map';
    case 'message':
    case 'union':
    case 'enum':
      return article(type.name);
    case 'nullable':
      return `${describeType(type.inner)} or null`;
    case 'literal':
      return str(type.value);
  }
}

/** Order in which variants of a primitive union are tested: specific kinds before plain objects. */
function matchOrder(variant: UnionVariant): number {
  const m = variant.match;
  return m.kind === 'typeof' ? 0 : m.kind === 'instanceof' ? 1 : m.kind === 'array' ? 2 : 3;
}

function matchTest(variant: UnionVariant, v: string): string {
  const m = variant.match;
  switch (m.kind) {
    case 'typeof':
      return `typeof ${v} === ${str(m.type)}`;
    case 'instanceof':
      return `${v} instanceof ${m.ctor}`;
    case 'array':
      return `Array.isArray(${v})`;
    case 'object':
      return `typeof ${v} === 'object' && ${v} !== null`;
    case 'discriminant':
      return `${member(v, m.property)} === ${str(m.value)}`;
  }
}
