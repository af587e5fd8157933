/**
 * The contract reader on inline sources in an in-memory project: decorators are p2pgen's by
 * what they resolve to (renamed and namespace imports count, a same-named decorator from
 * another module does not), and what the reader makes of types, including the diagnostics of
 * contracts it cannot map (file:line:col, the element path, the type).
 */
import { describe, expect, it } from 'vitest';
import { DiagnosticCode, formatDiagnostic } from '../cli/diagnostics.js';
import { readInMemory } from './support/in-memory-contracts.js';

const chat = (imports: string, rpc: string, entity: string) => `${imports}
@${entity}.name('chat-message')
export class ChatMessage {
  constructor(public from: string, public text: string) {}
}
@${rpc}.controller('/chat')
export class ChatController {
  @${rpc}.action()
  send(message: ChatMessage): void {}
  helper(): void {}
}
`;

describe('decorators are resolved by symbol', () => {
  const forms = [
    { name: 'named imports', source: chat("import { entity, rpc } from 'p2pgen';", 'rpc', 'entity') },
    { name: 'renamed imports', source: chat("import { entity as e, rpc as r } from 'p2pgen';", 'r', 'e') },
    { name: 'a namespace import', source: chat("import * as p from 'p2pgen';", 'p.rpc', 'p.entity') },
  ];
  for (const form of forms) {
    it(`finds controllers, actions and entity names through ${form.name}`, () => {
      const { model, diagnostics } = readInMemory({ 'chat.ts': form.source });
      expect(diagnostics).toEqual([]);
      expect(model.controllers.map((c) => [c.path, c.className, c.actions.map((a) => a.name)])).toEqual([['/chat', 'ChatController', ['send']]]);
      expect(model.messages.find((m) => m.origin.kind === 'class')).toMatchObject({ name: 'ChatMessage', origin: { tsName: 'ChatMessage' } });
    });
  }

  it('does not take a same-named decorator from another module for p2pgen\'s', () => {
    const own = `export const rpc = { controller: (path: string) => (target: unknown) => {}, action: () => (target: unknown) => {} };
export const entity = { name: (name: string) => (target: unknown) => {} };\n`;
    const { model, diagnostics } = readInMemory({
      'decorators.ts': own,
      'other.ts': chat("import { entity, rpc } from './decorators.js';", 'rpc', 'entity'),
      'real.ts': `import { rpc } from 'p2pgen';\nimport { rpc as theirs } from './decorators.js';
@rpc.controller('/real')
export class RealController {
  @rpc.action()
  ping(): void {}
  @theirs.action()
  notAnAction(): void {}
}
`,
    });
    expect(diagnostics).toEqual([]);
    expect(model.controllers.map((c) => [c.path, c.actions.map((a) => a.name)])).toEqual([['/real', ['ping']]]);
  });

  it('reports a folder with no controller of p2pgen\'s', () => {
    const { diagnostics } = readInMemory({ 'decorators.ts': "export const rpc = { controller: (p: string) => (t: unknown) => {} };\n@rpc.controller('/x')\nexport class X {}\n" });
    expect(diagnostics).toMatchObject([{ code: DiagnosticCode.NoContracts }]);
  });
});

describe('types', () => {
  const controller = (signature: string, extra = '') => ({
    'contract.ts': `import { rpc, type int32, type MaxLength } from 'p2pgen';\n${extra}\n@rpc.controller('/t')\nexport class T {\n  @rpc.action()\n  ${signature} {\n    return undefined!;\n  }\n}\n`,
  });

  it('maps the built-ins, lists, maps, presence and constraints of a signature', () => {
    const { model, diagnostics } = readInMemory(controller('put(when: Date, data: Uint8Array, tags: (string | null)[], byId: Map<string, int32>, note?: string & MaxLength<5>): bigint'));
    expect(diagnostics).toEqual([]);
    const request = model.messages.find((m) => m.name === 'TPutRequest')!;
    expect(request.fields.map((f) => [f.name, f.type, f.optional, f.nullable])).toEqual([
      ['when', { kind: 'date' }, false, false],
      ['data', { kind: 'scalar', scalar: 'bytes' }, false, false],
      ['tags', { kind: 'array', element: { kind: 'nullable', inner: { kind: 'scalar', scalar: 'string' } } }, false, false],
      ['byId', { kind: 'map', key: { kind: 'scalar', scalar: 'string' }, value: { kind: 'scalar', scalar: 'int32' }, record: false }, false, false],
      ['note', { kind: 'scalar', scalar: 'string', constraints: { maxLength: 5 } }, true, false],
    ]);
    expect(model.messages.find((m) => m.name === 'TPutResponse')!.fields[0]!.type).toEqual({ kind: 'scalar', scalar: 'int64' });
  });

  it('maps tuples (a message of their elements, received as an array), Sets and typed arrays', () => {
    const { model, diagnostics } = readInMemory(
      controller('put(pair: Pair, point: [number, int32 | null], tags: ReadonlySet<string>, samples: Float32Array, ids: BigInt64Array, heights: Int16Array): [Pair, Pair]', 'export type Pair = [string, int32];'),
    );
    expect(diagnostics).toEqual([]);
    const request = model.messages.find((m) => m.name === 'TPutRequest')!;
    expect(request.fields.map((f) => [f.name, f.type])).toEqual([
      ['pair', { kind: 'message', name: 'Pair' }],
      ['point', { kind: 'message', name: 'TPutPoint' }],
      ['tags', { kind: 'array', element: { kind: 'scalar', scalar: 'string' }, set: true }],
      ['samples', { kind: 'array', element: { kind: 'scalar', scalar: 'float' }, typed: 'Float32Array' }],
      ['ids', { kind: 'array', element: { kind: 'scalar', scalar: 'sfixed64' }, typed: 'BigInt64Array' }],
      ['heights', { kind: 'array', element: { kind: 'scalar', scalar: 'sint32' }, typed: 'Int16Array' }],
    ]);
    const pair = model.messages.find((m) => m.name === 'Pair')!;
    expect(pair.origin).toEqual({ kind: 'tuple', tsName: 'Pair', file: 'contract.ts' });
    expect(pair.fields.map((f) => [f.name, f.protoName, f.type, f.nullable])).toEqual([
      ['0', '_0', { kind: 'scalar', scalar: 'string' }, false],
      ['1', '_1', { kind: 'scalar', scalar: 'int32' }, false],
    ]);
    expect(model.messages.find((m) => m.name === 'TPutPoint')!.fields.map((f) => [f.name, f.nullable])).toEqual([
      ['0', false],
      ['1', true],
    ]);
    expect(model.messages.find((m) => m.name === 'TPutResult')).toMatchObject({ origin: { kind: 'tuple' }, fields: [{ type: { kind: 'message', name: 'Pair' } }, { type: { kind: 'message', name: 'Pair' } }] });
  });

  it('a one-member enum is that enum wherever it is written (its type is its member\'s)', () => {
    const { model, diagnostics } = readInMemory(controller('put(levels: Level[], byLevel: Map<Level, Level>): Level', 'export enum Level {\n  Only,\n}'));
    expect(diagnostics).toEqual([]);
    const level = { kind: 'enum', name: 'Level' };
    expect(model.messages.find((m) => m.name === 'TPutRequest')!.fields.map((f) => f.type)).toEqual([
      { kind: 'array', element: level },
      { kind: 'map', key: level, value: level, record: false },
    ]);
    expect(model.enums.map((e) => [e.name, e.values.map((v) => v.member)])).toEqual([['Level', ['Only']]]);
  });

  it('names unions and anonymous types after their alias, else their owner; equal anonymous shapes share one message', () => {
    const { model } = readInMemory(
      controller("a(shape: Shape, level: 'low' | 'high'): { ok: boolean }", "export type Shape = { kind: 'circle'; r: number } | { kind: 'square'; side: number };\n") as Record<string, string>,
    );
    expect(model.unions.map((u) => [u.name, u.tsName, u.variants.map((v) => v.protoName)])).toEqual([['Shape', 'Shape', ['circle', 'square']]]);
    expect(model.enums.map((e) => [e.name, e.values.map((v) => v.value)])).toEqual([['TALevel', ['low', 'high']]]);
    expect(model.messages.filter((m) => m.origin.kind === 'anonymous').map((m) => m.name).sort()).toEqual(['ShapeCircle', 'ShapeSquare', 'TAResult']);
  });
});

interface Case {
  name: string;
  source: string;
  code: DiagnosticCode;
  /** line:column in contract.ts (after the two import lines) */
  at: string;
  text: string;
  type?: string;
}

const header = `import { entity, rpc } from 'p2pgen';\nimport { Observable } from 'rxjs';\n`;

const cases: Case[] = [
  { name: 'a parameter typed any', source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: any): void {}\n}\n`, code: DiagnosticCode.AnyOrUnknown, at: '4:8', text: "Bad.take(value): 'any' cannot be mapped to the wire", type: 'any' },
  { name: 'a parameter typed unknown', source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: unknown): void {}\n}\n`, code: DiagnosticCode.AnyOrUnknown, at: '4:8', text: "Bad.take(value): 'unknown' cannot be mapped to the wire", type: 'unknown' },
  {
    name: 'a field of function type',
    source: `export interface Options {\n  name: string;\n  onDone: () => void;\n}\n@rpc.controller('/bad')\nexport class BadFn {\n  @rpc.action()\n  take(value: Options): void {}\n}\n`,
    code: DiagnosticCode.FunctionType,
    at: '3:3',
    text: 'BadFn.take(value).onDone: function types cannot cross the wire',
    type: '() => void',
  },
  { name: 'a generic action (unresolved generic)', source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take<T>(value: T): void {}\n}\n`, code: DiagnosticCode.UnresolvedGeneric, at: '4:3', text: "Bad.take: generic action 'take<T>' cannot be mapped" },
  {
    name: 'an unresolved generic inside an entity',
    source: `export interface Box<T> {\n  item: T;\n}\n@rpc.controller('/bad')\nexport class Bad<T> {\n  @rpc.action()\n  take(value: Box<T>): void {}\n}\n`,
    code: DiagnosticCode.UnresolvedGeneric,
    at: '2:3',
    text: "Bad.take(value).item: unresolved generic type 'T'",
    type: 'T',
  },
  {
    name: 'an overloaded action',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  take(value: string): void;\n  take(value: number): void;\n  @rpc.action()\n  take(value: string | number): void {}\n}\n`,
    code: DiagnosticCode.OverloadedAction,
    at: '6:3',
    text: 'Bad.take: overloaded actions cannot be mapped',
  },
  {
    name: 'an action name that is not a protobuf identifier',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  'send-message'(text: string): void {}\n}\n`,
    code: DiagnosticCode.InvalidActionName,
    at: '4:3',
    text: "Bad.send-message: action name 'send-message' is not a valid protobuf identifier",
  },
  {
    name: 'a symbol field',
    source: `export interface Tagged {\n  tag: symbol;\n}\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: Tagged): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '2:3',
    text: 'Bad.take(value).tag: symbols cannot cross the wire',
    type: 'symbol',
  },
  { name: 'a type that does not resolve', source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: Missing): void {}\n}\n`, code: DiagnosticCode.UnresolvedType, at: '4:8', text: 'Bad.take(value): the type cannot be resolved' },
  {
    name: 'a union of objects without a discriminant',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: { a: string } | { b: number }): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedUnion,
    at: '4:8',
    text: 'Bad.take(value): a union of object types needs a discriminant',
  },
  {
    name: 'an entity class that is not exported',
    source: `class Hidden {\n  x = 1;\n}\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: Hidden): void {}\n}\n`,
    code: DiagnosticCode.EntityNotExported,
    at: '7:8',
    text: "Bad.take(value): class 'Hidden' must be exported",
  },
  {
    name: 'a constraint on the wrong base type',
    source: `import type { MaxLength } from 'p2pgen';\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: number & MaxLength<3>): void {}\n}\n`,
    code: DiagnosticCode.InvalidConstraint,
    at: '5:8',
    text: 'Bad.take(value): MinLength/MaxLength applies to strings and arrays',
  },
  {
    name: 'a Pattern that is not a regular expression',
    source: `import type { Pattern } from 'p2pgen';\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: string & Pattern<'[a-'>): void {}\n}\n`,
    code: DiagnosticCode.InvalidConstraint,
    at: '5:8',
    text: 'Bad.take(value): Pattern is not a valid regular expression',
  },
  {
    name: 'a tuple with an optional element',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(): [string, number?] {\n    return [''];\n  }\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '4:3',
    text: 'Bad.take:return: optional and rest elements of a tuple have no fixed place on the wire',
    type: '[string, (number | undefined)?]',
  },
  {
    name: 'a tuple with a rest element',
    source: `export type Row = [string, ...number[]];\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(row: Row): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '5:8',
    text: 'Bad.take(row): optional and rest elements of a tuple have no fixed place on the wire',
  },
  {
    name: 'an Observable parameter',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(items: Observable<string>): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '4:8',
    text: 'Bad.take(items): an Observable can only be the result of an action',
  },
  {
    name: 'a typed array p2pgen does not map (a DataView is not one)',
    source: `export interface Bag {\n  view: DataView;\n}\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(bag: Bag): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '2:3',
    text: "Bad.take(bag).view: the built-in type 'DataView' cannot cross the wire",
  },
  {
    name: 'an optional constant (a single literal type is not on the wire: its absence could not be told from it)',
    source: `export type Red = 'red';\nexport interface Paint {\n  color?: Red;\n}\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(paint: Paint): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '3:3',
    text: 'Bad.take(paint).color: the constant "red" cannot be optional or null',
  },
  {
    name: 'a list of a constant',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(colors: 'red'[]): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '4:8',
    text: 'Bad.take(colors)[]: the constant "red" cannot be an element or a map value',
  },
  {
    name: 'a map keyed by a constant',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(byColor: Map<'red', string>): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedMapKey,
    at: '4:8',
    text: 'Bad.take(byColor): map keys must be',
  },
  {
    name: 'a getter in an interface (a plain object a peer receives cannot compute it)',
    source: `export interface Labelled {\n  id: string;\n  get label(): string;\n}\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: Labelled): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '3:3',
    text: "Bad.take(value).label: accessor 'label' of an interface or object type: a peer receives a plain object, which cannot compute it; declare a property ('readonly label: …') or use a class",
    type: 'string',
  },
  {
    name: 'a setter in an object type',
    source: `export type Settable = { id: string; set label(value: string) };\n@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: Settable): void {}\n}\n`,
    code: DiagnosticCode.UnsupportedType,
    at: '1:38',
    text: "Bad.take(value).label: accessor 'label' of an interface or object type",
  },
];

describe('contracts the reader cannot map', () => {
  for (const c of cases) {
    it(`reports ${c.name} with file:line:col, path and type`, () => {
      const { diagnostics } = readInMemory({ 'contract.ts': header + c.source });
      const [line, column] = c.at.split(':').map(Number);
      const match = diagnostics.find((d) => d.code === c.code);
      expect(match, `diagnostics: ${diagnostics.map(formatDiagnostic).join('\n')}`).toBeDefined();
      // +2: the two import lines of `header`
      expect([match!.file, match!.line, match!.column]).toEqual(['contract.ts', line! + 2, column]);
      expect(formatDiagnostic(match!)).toContain(c.text);
      if (c.type) expect(match!.typeText).toBe(c.type);
    });
  }
});
