/**
 * Emits `<out>/index.ts`: for every message a generated encoder, decoder and validator on
 * protobufjs's Writer/Reader, for every action a descriptor (routing keys, fingerprint, codecs),
 * for every controller a proxy class with one real method per action, and the registration of
 * the whole set with the runtime. The output is plain, readable TypeScript; prettier only
 * normalises its layout.
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
import { routingKey } from '../naming.js';
import {
  collectWrappers,
  fieldShape,
  isPackable,
  tag,
  valueWireType,
  WireType,
  wrapperName,
} from './wire-shape.js';

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

const packedWriters: Partial<Record<ScalarKind, string>> = {
  double: 'doubles',
  float: 'floats',
  int32: 'int32s',
  uint32: 'uint32s',
  bool: 'bools',
};

const str = (value: unknown) => JSON.stringify(value);
const isIdentifier = (name: string) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name);
/** `o.name` or `o["odd-name"]`. */
const member = (object: string, name: string) => (isIdentifier(name) ? `${object}.${name}` : `${object}[${str(name)}]`);
/** A key in an object literal or type. */
const key = (name: string) => (isIdentifier(name) ? name : str(name));
/** Local variable for a decoded field. */
const local = (field: FieldModel) => `_${field.protoName}`;

/** Tracks the names imported into the generated file so none clashes with a generated one. */
class Imports {
  private readonly runtime = new Set<string>();
  private readonly runtimeTypes = new Set<string>();
  private readonly files = new Map<string, Map<string, { local: string; typeOnly: boolean }>>();
  private readonly taken = new Set<string>();

  constructor(reserved: Iterable<string>) {
    for (const name of reserved) this.taken.add(name);
  }

  rt(name: string): string {
    this.runtime.add(name);
    return name;
  }

  rtType(name: string): string {
    this.runtimeTypes.add(name);
    return name;
  }

  /** Imports `exported` from a contract file; value imports win over type-only ones. */
  contract(file: string, exported: string, typeOnly: boolean): string {
    let names = this.files.get(file);
    if (!names) this.files.set(file, (names = new Map()));
    const existing = names.get(exported);
    if (existing) {
      if (!typeOnly) existing.typeOnly = false;
      return existing.local;
    }
    let localName = exported;
    for (let i = 1; this.taken.has(localName); i++) localName = `${exported}_${i}`;
    this.taken.add(localName);
    names.set(exported, { local: localName, typeOnly });
    return localName;
  }

  render(importPath: (file: string) => string, usesObservable: boolean): string {
    const lines: string[] = [];
    const runtimeNames = [
      ...[...this.runtime].map((n) => n),
      ...[...this.runtimeTypes].filter((n) => !this.runtime.has(n)).map((n) => `type ${n}`),
    ].sort((a, b) => compare(a.replace(/^type /, ''), b.replace(/^type /, '')));
    if (usesObservable) lines.push(`import type { Observable } from 'rxjs';`);
    lines.push(`import { ${runtimeNames.join(', ')} } from 'p2pgen/internal';`);
    for (const file of [...this.files.keys()].sort(compare)) {
      const names = [...this.files.get(file)!.entries()].sort(([a], [b]) => compare(a, b));
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

export function emitTypeScript(model: ContractModel, options: TsEmitOptions): string {
  return new TsEmitter(model, options).emit();
}

class TsEmitter {
  private readonly messages: Map<string, MessageModel>;
  private readonly unions: Map<string, UnionModel>;
  private readonly enums: Map<string, EnumModel>;
  private readonly wrappers: Map<string, TypeRef>;
  private readonly imports: Imports;
  /** TS type name of each message/union/enum in the generated file. */
  private readonly tsNames = new Map<string, string>();
  private readonly patterns: string[] = [];
  private usesObservable = false;

  constructor(
    private readonly model: ContractModel,
    private readonly options: TsEmitOptions,
  ) {
    this.messages = new Map(model.messages.map((m) => [m.name, m]));
    this.unions = new Map(model.unions.map((u) => [u.name, u]));
    this.enums = new Map(model.enums.map((e) => [e.name, e]));
    this.wrappers = collectWrappers(model);
    // Names this file declares itself; imports are aliased around them.
    const generatedNames = [
      ...model.messages.filter((m) => m.origin.kind === 'anonymous').map((m) => m.name),
      ...model.unions.filter((u) => !u.tsName).map((u) => u.name),
      ...model.enums.filter((e) => e.origin.kind === 'literals').map((e) => e.name),
      ...model.controllers.map((c) => `${c.className}Proxy`),
      'contracts',
      'codecs',
      'Observable',
    ];
    this.imports = new Imports(generatedNames);
  }

  emit(): string {
    const body: string[] = [];
    this.assignTypeNames();
    body.push(this.section('Types', [...this.typeDeclarations()]));
    body.push(this.section('Enums', this.model.enums.map((e) => this.enumFunctions(e))));
    body.push(
      this.section('Messages', [
        ...this.model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response').map((m) => this.messageFunctions(m)),
        ...this.model.unions.map((u) => this.unionFunctions(u)),
        ...[...this.wrappers].filter(([name]) => !name.endsWith('Entry')).map(([name, type]) => this.wrapperFunctions(name, type)),
      ]),
    );
    body.push(this.section('Actions', this.model.controllers.flatMap((c) => c.actions.map((a) => this.actionCode(c, a)))));
    body.push(this.section('Proxies', this.model.controllers.map((c) => this.proxyClass(c))));
    body.push(this.registration());
    const patterns = this.patterns.map((p, i) => `const pattern${i} = new RegExp(${str(p)});`).join('\n');
    const head = [
      ...this.options.header.map((h) => `// ${h}`),
      '/* eslint-disable */',
      this.imports.render(this.options.importPath, this.usesObservable),
      patterns,
    ]
      .filter((s) => s !== '')
      .join('\n');
    return `${head}\n\n${body.filter((s) => s !== '').join('\n\n')}\n`;
  }

  private section(title: string, parts: string[]): string {
    const content = parts.filter((p) => p !== '');
    return content.length === 0 ? '' : `// ---- ${title} ----\n\n${content.join('\n\n')}`;
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
  }

  /** The TypeScript type of a value of `type`. */
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

  /** The type of a field's local while decoding: its type, plus undefined until a required value arrives. */
  private localType(field: FieldModel): string {
    const absentIsUndefined = this.initialValue(field) === 'undefined' && !field.optional;
    return `${this.fieldTsType(field)}${absentIsUndefined ? ' | undefined' : ''}`;
  }

  /** Generated declarations for anonymous messages, literal enums and unnamed unions. */
  private *typeDeclarations(): Iterable<string> {
    for (const e of this.model.enums) {
      if (e.origin.kind === 'literals') {
        yield `export type ${e.name} = ${e.values.map((v) => str(v.value)).join(' | ')};`;
      }
    }
    for (const m of this.model.messages) {
      if (m.origin.kind !== 'anonymous') continue;
      const fields = m.fields.map((f) => `  ${key(f.name)}${f.optional ? '?' : ''}: ${this.tsType(f.type)}${f.nullable ? ' | null' : ''};`);
      yield `export interface ${m.name} {\n${fields.join('\n')}\n}`;
    }
    for (const u of this.model.unions) {
      if (u.tsName) continue;
      yield `export type ${u.name} = ${u.variants.map((v) => this.tsType(v.type)).join(' | ')};`;
    }
  }

  // ---- enums -----------------------------------------------------------------------------

  private enumValueExpr(e: EnumModel, value: EnumModel['values'][number]): string {
    return e.origin.kind === 'enum' ? member(this.tsNames.get(e.name)!, value.member!) : str(value.value);
  }

  private enumFunctions(e: EnumModel): string {
    const type = this.tsNames.get(e.name)!;
    const toWire = e.values.map((v) => `    case ${this.enumValueExpr(e, v)}: return ${v.number};`).join('\n');
    const fromWire = e.values.map((v) => `    case ${v.number}: return ${this.enumValueExpr(e, v)};`).join('\n');
    return [
      `/** ${e.name}: value -> wire number (0 for a value that is not a member). */`,
      `function encode_${e.name}(value: ${type}): number {\n  switch (value) {\n${toWire}\n    default: return 0;\n  }\n}`,
      `function decode_${e.name}(n: number): ${type} | undefined {\n  switch (n) {\n${fromWire}\n    default: return undefined;\n  }\n}`,
    ].join('\n');
  }

  // ---- writing ---------------------------------------------------------------------------

  /** Statements writing one value of a singular-or-wrapped `type` as field `n`, always (explicit presence). */
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

  /** Statements writing `type` as a repeated field `n` (packed where protobuf packs). */
  private writeRepeated(type: ArrayRef, n: number, v: string): string {
    const element = type.element;
    if (isPackable(element)) {
      const packed = tag(n, WireType.LengthDelimited);
      if (element.kind === 'scalar' && packedWriters[element.scalar]) {
        return `if (${v}.length !== 0) w.uint32(${packed}).${packedWriters[element.scalar]}(${v});`;
      }
      const write = element.kind === 'enum' ? `w.int32(encode_${element.name}(x))` : `${this.imports.rt('writeInt64')}(w, x)`;
      return `if (${v}.length !== 0) {\n  w.uint32(${packed}).fork();\n  for (const x of ${v}) ${write};\n  w.ldelim();\n}`;
    }
    return `for (const x of ${v}) {\n  ${this.writeValue(element, n, 'x')}\n}`;
  }

  /** Statements writing `type` as a map field `n` (map<K,V> or repeated entries: the same bytes). */
  private writeMap(type: MapRef, n: number, v: string): string {
    const entry = `w.uint32(${tag(n, WireType.LengthDelimited)}).fork();\n    ${this.writeValue(type.key, 1, 'k')}\n    ${this.writeValue(type.value, 2, 'x')}\n    w.ldelim();`;
    if (type.record) return `for (const k of Object.keys(${v})) {\n    const x = ${v}[k]!;\n    ${entry}\n  }`;
    return `for (const [k, x] of ${v}) {\n    ${entry}\n  }`;
  }

  /** Statements writing one field of a message, following its shape. */
  private writeField(field: FieldModel, v: string): string {
    const { type } = field;
    if (type.kind === 'literal') return '';
    switch (fieldShape(field).kind) {
      case 'plain':
        if (field.optional || field.nullable) return `if (${v} !== undefined && ${v} !== null) ${this.writeValue(type, field.number, v)}`;
        if (type.kind === 'scalar') return `if (${defaultCheck(type.scalar, v)}) ${this.writeValue(type, field.number, v)}`;
        return this.writeValue(type, field.number, v);
      case 'optional':
      case 'wrapped':
        return `if (${v} !== undefined && ${v} !== null) ${this.writeValue(type, field.number, v)}`;
      case 'repeated':
        return this.writeRepeated(type as ArrayRef, field.number, v);
      case 'map':
        return this.writeMap(type as MapRef, field.number, v);
      case 'nullable-oneof':
        return `if (${v} === null) w.uint32(${tag(field.nullNumber!, WireType.Varint)}).int32(0);\nelse if (${v} !== undefined) ${this.writeValue(type, field.number, v)}`;
    }
  }

  // ---- reading ---------------------------------------------------------------------------

  /** An expression reading one value of a singular-or-wrapped `type`. */
  private readValue(type: TypeRef): string {
    switch (type.kind) {
      case 'scalar':
        if (type.scalar === 'int64') return `${this.imports.rt('readInt64')}(r)`;
        if (type.scalar === 'bytes') return `${this.imports.rt('readBytes')}(r)`;
        return `r.${type.scalar}()`;
      case 'enum':
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

  /** The initial value of a field's local while decoding (what "absent" means). */
  private initialValue(field: FieldModel): string {
    const { type } = field;
    const shape = fieldShape(field).kind;
    if (shape === 'repeated') return '[]';
    if (shape === 'map') return (type as MapRef).record ? '{}' : 'new Map()';
    if (shape === 'plain' && type.kind === 'scalar') return scalarDefaults[type.scalar];
    if (field.nullable && !field.optional) return 'null';
    return 'undefined';
  }

  /** `case` clauses reading field `n` of `type` with its shape into `target`. */
  private readCases(field: FieldModel, target: string): string {
    const { type, number: n } = field;
    const shape = fieldShape(field).kind;
    if (shape === 'repeated') return this.readRepeatedCases((type as ArrayRef).element, n, `${target}.push`);
    if (shape === 'map') return this.readMapCase(type as MapRef, n, target);
    const cases = [`case ${tag(n, valueWireType(type))}:\n  ${target} = ${this.readValue(type)};\n  break;`];
    if (shape === 'nullable-oneof') cases.push(`case ${tag(field.nullNumber!, WireType.Varint)}:\n  r.int32();\n  ${target} = null;\n  break;`);
    return cases.join('\n');
  }

  private readRepeatedCases(element: TypeRef, n: number, push: string): string {
    const one = `case ${tag(n, valueWireType(element))}:\n  ${push}(${this.readValue(element)});\n  break;`;
    if (!isPackable(element)) return one;
    const packed = `case ${tag(n, WireType.LengthDelimited)}: {\n  const e = ${this.imports.rt('readEnd')}(r);\n  while (r.pos < e) ${push}(${this.readValue(element)});\n  break;\n}`;
    return `${packed}\n${one}`;
  }

  private readMapCase(type: MapRef, n: number, target: string): string {
    const keyInit = type.key.kind === 'scalar' ? scalarDefaults[type.key.scalar] : 'undefined';
    const valueInit = type.value.kind === 'scalar' ? scalarDefaults[type.value.scalar] : type.value.kind === 'nullable' ? 'null' : 'undefined';
    const keyType = this.tsType(type.key);
    const valueType = this.tsType(type.value);
    const set = type.record
      ? `${this.imports.rt('setEntry')}(${target}, k as string, x as ${valueType})`
      : `${target}.set(k as ${keyType}, x as ${valueType})`;
    return `case ${tag(n, WireType.LengthDelimited)}: {
  const e = ${this.imports.rt('readEnd')}(r);
  let k: ${keyType} | undefined = ${keyInit};
  let x: ${valueType} | undefined = ${valueInit};
  while (r.pos < e) {
    const t = r.uint32();
    switch (t) {
      case ${tag(1, valueWireType(type.key))}: k = ${this.readValue(type.key)}; break;
      case ${tag(2, valueWireType(type.value))}: x = ${this.readValue(type.value)}; break;
      default: ${this.imports.rt('skipField')}(r, t);
    }
  }
  ${set};
  break;
}`;
  }

  /** The decode loop over fields; `known` is the set of field numbers for wrong-wire-type detection. */
  private decodeLoop(cases: string, knownName: string): string {
    return `while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
${cases}
      default:
        ${this.imports.rt('skipUnknown')}(r, tag, ${knownName});
    }
  }
  if (r.pos !== end) ${this.imports.rt('overrun')}(r, end);`;
  }

  private knownFields(name: string, numbers: number[]): string {
    return `const fields_${name}: ReadonlySet<number> = new Set([${numbers.sort((a, b) => a - b).join(', ')}]);`;
  }

  // ---- validating ------------------------------------------------------------------------

  /** Statements checking the value `v` (an identifier) against `type`; `p` is the path expression. */
  private check(type: TypeRef, v: string, p: string, depth: number): string {
    const expected = (what: string) => `${this.imports.rt('expected')}(issues, ${p}, ${str(what)}, ${v});`;
    const fail = (message: string) => `${this.imports.rt('fail')}(issues, ${p}, ${str(message)});`;
    switch (type.kind) {
      case 'scalar': {
        const c = type.constraints ?? {};
        const rules: string[] = [];
        if (type.scalar === 'string') {
          rules.push(`if (!${this.imports.rt('isWellFormed')}(${v})) ${fail('must be well-formed Unicode (it has a lone surrogate)')}`);
          if (c.minLength !== undefined) rules.push(`if (${v}.length < ${c.minLength}) ${fail(`must be at least ${c.minLength} characters long`)}`);
          if (c.maxLength !== undefined) rules.push(`if (${v}.length > ${c.maxLength}) ${fail(`must be at most ${c.maxLength} characters long`)}`);
          if (c.pattern !== undefined) rules.push(`if (!${this.pattern(c.pattern)}.test(${v})) ${fail(`must match /${c.pattern}/`)}`);
          if (c.email) rules.push(`if (!${this.imports.rt('EMAIL_PATTERN')}.test(${v})) ${fail('must be an e-mail address')}`);
        } else {
          if (c.minimum !== undefined) rules.push(`if (!(${v} >= ${c.minimum})) ${fail(`must be at least ${c.minimum}`)}`);
          if (c.maximum !== undefined) rules.push(`if (!(${v} <= ${c.maximum})) ${fail(`must be at most ${c.maximum}`)}`);
          if (c.positive) rules.push(`if (!(${v} > 0)) ${fail('must be positive')}`);
        }
        const test = scalarTest(type.scalar, v, this.imports);
        const base = `if (${test.invalid}) ${expected(test.what)}`;
        return rules.length === 0 ? base : `${base}\nelse {\n${rules.join('\n')}\n}`;
      }
      case 'date':
        return `if (!(${v} instanceof Date) || Number.isNaN(${v}.getTime())) ${expected('a valid Date')}`;
      case 'literal':
        return `if (${v} !== ${str(type.value)}) ${expected(str(type.value))}`;
      case 'enum': {
        const e = this.enums.get(type.name)!;
        const names = e.values.map((x) => (e.origin.kind === 'enum' ? `${e.name}.${x.member}` : str(x.value))).join(', ');
        return `if (encode_${type.name}(${v} as ${this.tsNames.get(type.name)}) === 0) ${expected(`one of ${names}`)}`;
      }
      case 'message':
      case 'union':
        return `validate_${type.name}(${v}, ${p}, issues);`;
      case 'nullable':
        return `if (${v} !== null) {\n${this.check(type.inner, v, p, depth)}\n}`;
      case 'array': {
        const c = type.constraints ?? {};
        const i = `i${depth}`;
        const e = `e${depth}`;
        const rules: string[] = [];
        if (c.minLength !== undefined) rules.push(`if (${v}.length < ${c.minLength}) ${fail(`must have at least ${c.minLength} items`)}`);
        if (c.maxLength !== undefined) rules.push(`if (${v}.length > ${c.maxLength}) ${fail(`must have at most ${c.maxLength} items`)}`);
        const elementPath = `${this.imports.rt('elementPath')}(${p}, ${i})`;
        return `if (!Array.isArray(${v})) ${expected('an array')}
else {
${rules.join('\n')}
  for (let ${i} = 0; ${i} < ${v}.length; ${i}++) {
    const ${e}: unknown = ${v}[${i}];
    ${this.check(type.element, e, elementPath, depth + 1)}
  }
}`;
      }
      case 'map': {
        const k = `k${depth}`;
        const e = `e${depth}`;
        const entryPath = `${this.imports.rt('elementPath')}(${p}, ${k})`;
        if (type.record) {
          return `if (!${this.imports.rt('isPlainRecord')}(${v})) ${expected('an object')}
else for (const ${k} of Object.keys(${v})) {
  const ${e}: unknown = ${v}[${k}];
  ${this.check(type.value, e, entryPath, depth + 1)}
}`;
        }
        return `if (!(${v} instanceof Map)) ${expected('a Map')}
else for (const [${k}, ${e}] of ${v} as Map<unknown, unknown>) {
  ${this.check(type.key, k, `${entryPath} + '<key>'`, depth + 1)}
  ${this.check(type.value, e, entryPath, depth + 1)}
}`;
      }
    }
  }

  private pattern(source: string): string {
    let index = this.patterns.indexOf(source);
    if (index < 0) index = this.patterns.push(source) - 1;
    return `pattern${index}`;
  }

  /** Statements checking one field `v` (already read into a local) with its presence rules. */
  private checkField(field: FieldModel, v: string, p: string): string {
    const inner = this.check(field.type, v, p, 0);
    const expectedNull = `${this.imports.rt('expected')}(issues, ${p}, ${str(`${describeType(field.type)} or undefined`)}, ${v});`;
    if (field.optional && field.nullable) return `if (${v} !== undefined && ${v} !== null) {\n${inner}\n}`;
    if (field.optional) return `if (${v} === null) ${expectedNull}\nelse if (${v} !== undefined) {\n${inner}\n}`;
    if (field.nullable) return `if (${v} !== null) {\n${inner}\n}`;
    return inner;
  }

  // ---- messages --------------------------------------------------------------------------

  private messageFunctions(m: MessageModel): string {
    const type = this.tsNames.get(m.name)!;
    const wireFields = m.fields.filter((f) => f.type.kind !== 'literal');
    const encode = `function encode_${m.name}(w: Writer, m: ${type}): Writer {
${wireFields.map((f) => this.writeField(f, member('m', f.name)).replace(/^/gm, '  ')).join('\n')}
  return w;
}`;
    const locals = wireFields.map((f) => `  let ${local(f)}: ${this.localType(f)} = ${this.initialValue(f)};`);
    const cases = wireFields.map((f) => this.readCases(f, local(f))).join('\n');
    const build = this.construct(m, type);
    const decode = `function decode_${m.name}(r: Reader, end: number): ${type} {
${locals.join('\n')}
  ${this.decodeLoop(cases, `fields_${m.name}`)}
${build}
}`;
    const validate = `function validate_${m.name}(v: unknown, path: string, issues: ValidationIssue[]): void {
  if (typeof v !== 'object' || v === null) {
    ${this.imports.rt('expected')}(issues, path, ${str(`a ${type} object`)}, v);
    return;
  }
  const o = v as Record<string, unknown>;
${m.fields.map((f) => `  {\n    const x = ${member('o', f.name)};\n${this.checkField(f, 'x', `path + ${str('.' + f.name)}`).replace(/^/gm, '    ')}\n  }`).join('\n')}
}`;
    this.imports.rtType('Writer');
    this.imports.rtType('Reader');
    this.imports.rtType('ValidationIssue');
    return [`// ${m.name}`, this.knownFields(m.name, knownNumbers(wireFields)), encode, decode, validate].join('\n');
  }

  /** Builds the decoded value: an instance of the contract class, or a plain object. */
  private construct(m: MessageModel, type: string): string {
    const valueOf = (f: FieldModel) => {
      if (f.type.kind === 'literal') return str(f.type.value);
      const needsAssert = !f.optional && !f.nullable && fieldShape(f).kind === 'plain' && f.type.kind !== 'scalar';
      return `${local(f)}${needsAssert ? '!' : ''}`;
    };
    if (m.origin.kind === 'class') {
      const assignments = m.fields.map((f) => `  ${member('m', f.name)} = ${valueOf(f)};`);
      return `  const m = Object.create(${type}.prototype) as ${type};\n${assignments.join('\n')}\n  return m;`;
    }
    const required = m.fields.filter((f) => !f.optional);
    const optional = m.fields.filter((f) => f.optional);
    const literal = `{ ${required.map((f) => `${key(f.name)}: ${valueOf(f)}`).join(', ')} }`;
    if (optional.length === 0) return `  return ${literal} as ${type};`;
    const sets = optional.map((f) => `  if (${local(f)} !== undefined) ${member('m', f.name)} = ${local(f)};`);
    return `  const m = ${literal} as ${type};\n${sets.join('\n')}\n  return m;`;
  }

  // ---- unions ----------------------------------------------------------------------------

  private unionFunctions(u: UnionModel): string {
    const type = this.tsNames.get(u.name)!;
    const discriminated = u.variants.every((v) => v.match.kind === 'discriminant');
    let encodeBody: string;
    let validateBody: string;
    if (discriminated) {
      const property = (u.variants[0]!.match as { property: string }).property;
      const cases = u.variants.map((v) => `    case ${str((v.match as { value: unknown }).value)}:\n      ${this.writeValue(v.type, v.number, 'v')}\n      break;`);
      encodeBody = `  switch (${member('v', property)}) {\n${cases.join('\n')}\n  }`;
      const checks = u.variants.map((v) => `    case ${str((v.match as { value: unknown }).value)}:\n      ${this.check(v.type, 'v', 'path', 0)}\n      return;`);
      const values = u.variants.map((v) => str((v.match as { value: unknown }).value)).join(' or ');
      validateBody = `  if (typeof v !== 'object' || v === null) {
    ${this.imports.rt('expected')}(issues, path, ${str(`a ${type}`)}, v);
    return;
  }
  const d = ${member('(v as Record<string, unknown>)', property)};
  switch (d) {
${checks.join('\n')}
  }
  ${this.imports.rt('expected')}(issues, path + ${str('.' + property)}, ${str(values)}, d);`;
    } else {
      const ordered = [...u.variants].sort((a, b) => matchOrder(a) - matchOrder(b));
      encodeBody = ordered
        .map((v, i) => `  ${i === 0 ? '' : 'else '}if (${matchTest(v, 'v')}) {\n    ${this.writeValue(v.type, v.number, 'v')}\n  }`)
        .join('\n');
      validateBody =
        ordered.map((v) => `  if (${matchTest(v, 'v')}) {\n    ${this.check(v.type, 'v', 'path', 0)}\n    return;\n  }`).join('\n') +
        `\n  ${this.imports.rt('expected')}(issues, path, ${str(ordered.map((v) => describeType(v.type)).join(' or '))}, v);`;
    }
    const cases = u.variants.map((v) => `case ${tag(v.number, valueWireType(v.type))}:\n  value = ${this.readValue(v.type)};\n  break;`);
    return [
      `// ${u.name}: one of ${u.variants.map((v) => v.protoName).join(', ')}`,
      this.knownFields(u.name, u.variants.map((v) => v.number)),
      `function encode_${u.name}(w: Writer, v: ${type}): Writer {\n${encodeBody}\n  return w;\n}`,
      `function decode_${u.name}(r: Reader, end: number): ${type} {\n  let value: ${type} | undefined;\n  ${this.decodeLoop(cases.join('\n'), `fields_${u.name}`)}\n  return value!;\n}`,
      `function validate_${u.name}(v: unknown, path: string, issues: ValidationIssue[]): void {\n${validateBody}\n}`,
    ].join('\n');
  }

  // ---- wrappers --------------------------------------------------------------------------

  /** Encoder/decoder of a structural wrapper: the wrapped value is field 1. */
  private wrapperFunctions(name: string, type: TypeRef): string {
    const tsType = this.tsType(type);
    const valueField: FieldModel = { name: 'value', protoName: 'value', number: 1, type, optional: false, nullable: false };
    let encodeBody: string;
    let decodeLocal: string;
    let cases: string;
    if (type.kind === 'nullable') {
      encodeBody = `  if (v !== null) ${this.writeValue(type.inner, 1, 'v')}`;
      decodeLocal = `let value: ${tsType} = null;`;
      cases = `case ${tag(1, valueWireType(type.inner))}:\n  value = ${this.readValue(type.inner)};\n  break;`;
    } else {
      const inner: FieldModel = { ...valueField, type };
      encodeBody = `  ${this.writeField(inner, 'v')}`;
      decodeLocal = `let value: ${tsType} = ${this.initialValue(inner)};`;
      cases = this.readCases(inner, 'value');
    }
    return [
      `// ${name}`,
      this.knownFields(name, [1]),
      `function encode_${name}(w: Writer, v: ${tsType}): Writer {\n${encodeBody}\n  return w;\n}`,
      `function decode_${name}(r: Reader, end: number): ${tsType} {\n  ${decodeLocal}\n  ${this.decodeLoop(cases, `fields_${name}`)}\n  return value;\n}`,
    ].join('\n');
  }

  // ---- actions ---------------------------------------------------------------------------

  private actionCode(controller: ControllerModel, action: ActionModel): string {
    const request = this.messages.get(action.request)!;
    const response = this.messages.get(action.response)!;
    const id = `${controller.className}_${action.name}`;
    const params = request.fields;
    const argsType = `[${params.map((p) => `${p.name}${p.optional ? '?' : ''}: ${this.tsType(p.type)}${p.nullable ? ' | null' : ''}`).join(', ')}]`;
    const result = response.fields[0];
    const resultType = result ? this.fieldTsType(result) : 'undefined';
    const controllerType = this.imports.contract(controller.file, controller.className, true);

    const encodeRequest = `(w: Writer, a: ${id}_Args): Writer => {
${params.map((p, i) => this.writeField(p, `a[${i}]`)).filter((s) => s).join('\n')}
    return w;
  }`;
    const requestLocals = params.filter((p) => p.type.kind !== 'literal').map((p) => `let ${local(p)}: ${this.localType(p)} = ${this.initialValue(p)};`);
    const decodeRequest = `(r: Reader, end: number): ${id}_Args => {
    ${requestLocals.join('\n')}
    ${this.decodeLoop(params.filter((p) => p.type.kind !== 'literal').map((p) => this.readCases(p, local(p))).join('\n'), `fields_${request.name}`)}
    return [${params.map((p) => (p.type.kind === 'literal' ? str(p.type.value) : `${local(p)}${!p.optional && !p.nullable && fieldShape(p).kind === 'plain' && p.type.kind !== 'scalar' ? '!' : ''}`)).join(', ')}];
  }`;
    const validateRequest = `(a: ${id}_Args, issues: ValidationIssue[]): void => {
${params
  .map((p, i) => `{\n  const x: unknown = a[${i}];\n${this.checkField(p, 'x', str(`${action.name}(${p.name})`))}\n}`)
  .join('\n')}
  }`;
    const resultPath = str(`${action.name}:return`);
    const encodeResponse = result
      ? `(w: Writer, value: ${resultType}): Writer => {\n${this.writeField(result, 'value')}\n  return w;\n}`
      : `(w: Writer): Writer => w`;
    const decodeResponse = result
      ? `(r: Reader, end: number): ${resultType} => {
    let ${local(result)}: ${this.localType(result)} = ${this.initialValue(result)};
    ${this.decodeLoop(this.readCases(result, local(result)), `fields_${response.name}`)}
    return ${local(result)}${!result.optional && !result.nullable && fieldShape(result).kind === 'plain' && result.type.kind !== 'scalar' ? '!' : ''};
  }`
      : `(r: Reader, end: number): undefined => {\n  while (r.pos < end) ${this.imports.rt('skipField')}(r, r.uint32());\n  return undefined;\n}`;
    const validateResponse = result
      ? `(value: unknown, issues: ValidationIssue[]): void => {\n  const x = value;\n${this.checkField(result, 'x', resultPath)}\n}`
      : `(value: unknown, issues: ValidationIssue[]): void => {\n  if (value !== undefined) ${this.imports.rt('expected')}(issues, ${resultPath}, 'undefined (the action returns void)', value);\n}`;
    const [hi, lo] = [parseInt(action.fingerprint.slice(0, 8), 16), parseInt(action.fingerprint.slice(8, 16), 16)];
    this.imports.rtType('ActionDescriptor');
    if (action.kind === 'stream') this.usesObservable = true;
    return `// ${controller.path} ${action.name}
type ${id}_Args = ${argsType};
${this.knownFields(request.name, knownNumbers(params))}
${result ? this.knownFields(response.name, knownNumbers([result])) : `const fields_${response.name}: ReadonlySet<number> = new Set();`}
const ${id}: ActionDescriptor<${id}_Args, ${resultType}> = {
  controller: ${str(controller.path)},
  name: ${str(action.name)},
  kind: ${str(action.kind)},
  controllerKey: ${routingKey(controller.path)},
  actionKey: ${routingKey(action.name)},
  fingerprint: ${str(action.fingerprint)},
  fingerprintHi: 0x${hi.toString(16).padStart(8, '0')},
  fingerprintLo: 0x${lo.toString(16).padStart(8, '0')},
  encodeRequest: ${encodeRequest},
  decodeRequest: ${decodeRequest},
  validateRequest: ${validateRequest},
  encodeResponse: ${encodeResponse},
  decodeResponse: ${decodeResponse},
  validateResponse: ${validateResponse},
  invoke: (target: ${controllerType}, a: ${id}_Args) => target.${action.name}(...(a as unknown as Parameters<${controllerType}[${str(action.name)}]>)),
};`;
  }

  // ---- proxies and registration ------------------------------------------------------------

  private proxyClass(controller: ControllerModel): string {
    const controllerType = this.imports.contract(controller.file, controller.className, true);
    const names = controller.actions.map((a) => str(a.name)).join(' | ');
    this.imports.rtType('PeerChannel');
    this.imports.rtType('RemoteController');
    const methods = controller.actions.map((action) => {
      const request = this.messages.get(action.request)!;
      const response = this.messages.get(action.response)!;
      const params = request.fields.map((p) => `${p.name}${p.optional ? '?' : ''}: ${this.tsType(p.type)}${p.nullable ? ' | null' : ''}`);
      const args = `[${request.fields.map((p) => p.name).join(', ')}]`;
      const id = `${controller.className}_${action.name}`;
      const result = response.fields[0] ? this.fieldTsType(response.fields[0]) : 'undefined';
      if (action.kind === 'stream') {
        return `  ${action.name}(${params.join(', ')}): Promise<Observable<${result}>> {\n    return this.channel.stream(${id}, ${args});\n  }`;
      }
      return `  ${action.name}(${params.join(', ')}): Promise<${result}> {\n    return this.channel.call(${id}, ${args});\n  }`;
    });
    return `/** Calls ${controller.className} (${controller.path}) on another peer. */
export class ${controller.className}Proxy implements Pick<RemoteController<${controllerType}>, ${names || 'never'}> {
  constructor(private readonly channel: PeerChannel) {}

${methods.join('\n\n')}
}`;
  }

  private registration(): string {
    this.imports.rt('registerContracts');
    this.imports.rt('messageCodec');
    this.imports.rtType('ContractSet');
    const controllers = this.model.controllers.map(
      (c) => `    {
      path: ${str(c.path)},
      name: ${str(c.className)},
      controllerKey: ${routingKey(c.path)},
      actions: [${c.actions.map((a) => `${c.className}_${a.name}`).join(', ')}],
      createProxy: (channel: PeerChannel) => new ${c.className}Proxy(channel),
    },`,
    );
    const codecNames = [
      ...this.model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response').map((m) => m.name),
      ...this.model.unions.map((u) => u.name),
    ].sort(compare);
    const codecs = codecNames.map((name) => `  ${name}: messageCodec<${this.tsNames.get(name)}>(${str(name)}, encode_${name}, decode_${name}, validate_${name}),`);
    return `// ---- Registration ----

/** Every controller of these contracts; importing this file registers them with the runtime. */
export const contracts: ContractSet = {
  generator: ${str(this.options.generator)},
  controllers: [
${controllers.join('\n')}
  ],
};
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

/** The condition under which an implicit-presence scalar is written (proto3 omits defaults; -0 is kept). */
function defaultCheck(scalar: ScalarKind, v: string): string {
  switch (scalar) {
    case 'string':
    case 'bytes':
      return `${v}.length !== 0`;
    case 'bool':
      return v;
    case 'int64':
      return `${v} !== 0n`;
    case 'double':
    case 'float':
      return `${v} !== 0 || 1 / ${v} < 0`;
    default:
      return `${v} !== 0`;
  }
}

function scalarTest(scalar: ScalarKind, v: string, imports: Imports): { invalid: string; what: string } {
  switch (scalar) {
    case 'string':
      return { invalid: `typeof ${v} !== 'string'`, what: 'a string' };
    case 'bool':
      return { invalid: `typeof ${v} !== 'boolean'`, what: 'a boolean' };
    case 'double':
      return { invalid: `typeof ${v} !== 'number'`, what: 'a number' };
    case 'float':
      return { invalid: `typeof ${v} !== 'number'`, what: 'a number (float32)' };
    case 'int32':
      return { invalid: `typeof ${v} !== 'number' || (${v} | 0) !== ${v}`, what: 'an int32 (integer from -2147483648 to 2147483647)' };
    case 'uint32':
      return { invalid: `typeof ${v} !== 'number' || ${v} >>> 0 !== ${v}`, what: 'a uint32 (integer from 0 to 4294967295)' };
    case 'int64':
      return {
        invalid: `typeof ${v} !== 'bigint' || ${v} < ${imports.rt('INT64_MIN')} || ${v} > ${imports.rt('INT64_MAX')}`,
        what: 'a bigint within int64',
      };
    case 'bytes':
      return { invalid: `!(${v} instanceof Uint8Array)`, what: 'a Uint8Array' };
  }
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
      return `a ${type.name}`;
    case 'nullable':
      return `${describeType(type.inner)} or null`;
    case 'literal':
      return str(type.value);
  }
}

/** Order in which primitive-union variants are tested: specific object kinds before plain objects. */
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

