/**
 * The version pairs of test/version-pairs.test.ts: each row is one evolution of a small
 * contract (every check rule, every compatible evolution, the silent cases), written as the
 * row's v1 and v2 source. Every row has its own controller (`/r07`) and types (`R07Item`), so
 * all rows build together: one contracts folder per version.
 */
import type { LockFile } from '../../cli/model/lock-file.js';

export interface PairRow {
  id: string;
  /** What changes, as the table in docs/checks.md says it. */
  change: string;
  v1: string;
  v2: string;
  /** Edits the lock v2 is built with (a rename kept, a lock lost), as a user might. */
  editLock?: (lock: LockFile, p: string) => void;
  /** Arguments the writer also sends beyond random ones (values one side refuses), by version. */
  probes?: { v1?: unknown[][]; v2?: unknown[][] };
  /** Why buf's verdict differs from p2pgen's, per category (the test fails if they differ without one, or agree with one). */
  buf?: { WIRE?: string; WIRE_JSON?: string };
}

const body = '{ throw new Error("not called"); }';
const action = (signature: string) => `  @rpc.action() ${signature} ${body}`;
const echo = (type: string) => action(`echo(x: ${type}): ${type}`);
const controller = (p: string, actions: string[], path = `/${p.toLowerCase()}`) => `@rpc.controller('${path}')\nexport class ${p}Api {\n${actions.join('\n')}\n}\n`;
const item = (p: string, fields: string) => `export interface ${p}Item {\n${fields}\n}\n`;

/** A row whose versions differ in one action's signature. */
function signature(id: string, change: string, v1: string, v2: string, extra: Partial<PairRow> = {}, types = ''): PairRow {
  const p = id.toUpperCase();
  const t = types.replaceAll('%', p);
  return { id, change, v1: t + controller(p, [action(v1.replaceAll('%', p))]), v2: t + controller(p, [action(v2.replaceAll('%', p))]), ...extra };
}

/** A row whose entity (echoed both ways) differs between the versions. */
function entity(id: string, change: string, v1Fields: string, v2Fields: string, extra: Partial<PairRow> = {}, types = ''): PairRow {
  const p = id.toUpperCase();
  const t = (v: string) => types.replaceAll('%', p) + item(p, v.replaceAll('%', p)) + controller(p, [echo(`${p}Item`)]);
  return { id, change, v1: t(v1Fields), v2: t(v2Fields), ...extra };
}

/** A row whose types (other than the entity) differ; `%` is the row's prefix. */
function types(id: string, change: string, v1Types: string, v2Types: string, actions: string[], extra: Partial<PairRow> = {}): PairRow {
  const p = id.toUpperCase();
  const t = (v: string) => v.replaceAll('%', p) + controller(p, actions.map((a) => action(a.replaceAll('%', p))));
  return { id, change, v1: t(v1Types), v2: t(v2Types), ...extra };
}

const base = "  id: string;\n  count: int32;\n  note?: string;";
const longText = 'x'.repeat(45);
const renamedNumbers = { WIRE_JSON: 'a name changed, numbers kept: WIRE_JSON compares names, p2pgen binary frames never carry them' };

export const rows: PairRow[] = [
  // Controllers and actions.
  {
    id: 'r01',
    change: "controller path changed ('/r01' to '/r01b')",
    v1: controller('R01', [action('get(id: string): string')]),
    v2: controller('R01', [action('get(id: string): string')], '/r01b'),
    buf: { WIRE: 'services are not in WIRE; peers route by path, so old callers find no controller', WIRE_JSON: 'services are not in WIRE_JSON' },
  },
  {
    id: 'r02',
    change: 'controller deleted',
    v1: controller('R02', [action('get(id: string): string')]),
    v2: '',
    buf: { WIRE: 'services are not in WIRE', WIRE_JSON: 'services are not in WIRE_JSON' },
  },
  {
    id: 'r03',
    change: 'controller added',
    v1: '',
    v2: controller('R03', [action('get(id: string): string')]),
  },
  {
    id: 'r04',
    change: 'action deleted',
    v1: controller('R04', [action('get(id: string): string'), action('ping(): string')]),
    v2: controller('R04', [action('ping(): string')]),
    buf: { WIRE: 'rpcs are not in WIRE', WIRE_JSON: 'rpcs are not in WIRE_JSON' },
  },
  {
    id: 'r05',
    change: 'action added',
    v1: controller('R05', [action('ping(): string')]),
    v2: controller('R05', [action('ping(): string'), action('get(id: string): string')]),
  },
  signature('r06', 'unary action became a stream', 'get(id: string): string', 'get(id: string): Observable<string>'),
  signature('r07', 'stream became unary', 'watch(id: string): Observable<string>', 'watch(id: string): string'),

  // Parameters.
  signature('r08', 'required parameter added', 'put(id: string): void', 'put(id: string, urgent: boolean): void', { buf: { WIRE: 'a field added is compatible for protobuf: old callers omit it and it reads as false', WIRE_JSON: 'a field added is compatible for protobuf' } }),
  signature('r09', 'optional parameter added', 'put(id: string): void', 'put(id: string, urgent?: boolean): void'),
  signature('r10', 'required parameter deleted', 'put(id: string, urgent: boolean): void', 'put(id: string): void', { buf: { WIRE: 'number and name stay reserved by the lock; protobuf reads the missing field as false', WIRE_JSON: 'number and name stay reserved by the lock' } }),
  signature('r11', 'parameters reordered', 'put(id: string, n: int32): void', 'put(n: int32, id: string): void'),
  signature('r12', 'optional parameter made required', 'put(label?: string): void', 'put(label: string): void', { buf: { WIRE: "optional to implicit presence is wire-compatible for protobuf; p2pgen refuses: an absent label would read as ''", WIRE_JSON: 'buf allows it; p2pgen refuses, see WIRE' } }),
  signature('r13', 'SILENT: required parameter made optional', 'put(label: string): void', 'put(label?: string): void', { buf: { WIRE: "implicit to explicit presence is wire-compatible for protobuf; old callees would read an absent label as ''", WIRE_JSON: 'buf allows it; p2pgen refuses, see WIRE' } }),
  signature('r14', 'SILENT: required parameter made nullable', 'put(label: string): void', 'put(label: string | null): void', { buf: { WIRE: "null travels as absence: old callees would read it as ''", WIRE_JSON: 'buf allows it; p2pgen refuses, see WIRE' } }),
  signature('r15', 'nullable parameter made optional and nullable', 'put(label: string | null): void', 'put(label?: string | null): void'),
  signature('r16', 'optional parameter made optional and nullable', 'put(label?: string): void', 'put(label?: string | null): void'),

  // Numbers.
  signature('r17', 'parameter widened int32 to bigint', 'put(n: int32): void', 'put(n: bigint): void', { buf: { WIRE: 'int32 and int64 share the varint encoding, which protobuf truncates; p2pgen refuses new callers of old callees' } }),
  signature('r18', 'result widened int32 to bigint', 'get(): int32', 'get(): bigint', { buf: { WIRE: 'int32 and int64 share the varint encoding, which protobuf truncates; p2pgen refuses old callers of new callees' } }),
  signature('r19', 'parameter narrowed bigint to int32', 'put(n: bigint): void', 'put(n: int32): void', { buf: { WIRE: 'int64 and int32 share the varint encoding, which protobuf truncates' } }),
  signature('r20', 'int32 became uint32', 'put(n: int32): void', 'put(n: uint32): void', { buf: { WIRE: 'varint types are wire-compatible for protobuf; -1 would read as 4294967295', WIRE_JSON: 'buf allows it; p2pgen refuses, see WIRE' } }),
  signature('r21', 'number (double) became float32', 'put(n: number): void', 'put(n: float32): void'),
  signature('r22', 'parameter type changed string to int32', 'put(id: string): void', 'put(id: int32): void'),

  // Constraints.
  signature('r23', 'constraint tightened (MaxLength 50 to 20)', 'put(reason: string & MaxLength<50>): void', 'put(reason: string & MaxLength<20>): void', { probes: { v1: [[longText]] }, buf: { WIRE: 'constraints are not in the .proto', WIRE_JSON: 'constraints are not in the .proto' } }),
  signature('r24', 'constraint loosened (MaxLength 20 to 50)', 'put(reason: string & MaxLength<20>): void', 'put(reason: string & MaxLength<50>): void', { probes: { v2: [[longText]] } }),
  signature('r25', 'constraint added (Minimum 0)', 'put(n: number): void', 'put(n: number & Minimum<0>): void', { probes: { v1: [[-1]] }, buf: { WIRE: 'constraints are not in the .proto', WIRE_JSON: 'constraints are not in the .proto' } }),

  // Entity fields (the entity is echoed: written and read by both sides in one call).
  entity('r26', 'optional field added', base, `${base}\n  tags?: string[];`),
  entity('r27', 'required field added', base, `${base}\n  owner: string;`, { buf: { WIRE: 'a field added is compatible for protobuf: it reads as empty', WIRE_JSON: 'a field added is compatible for protobuf' } }),
  entity('r28', 'required list field added', base, `${base}\n  tags: string[];`),
  entity('r29', 'optional field deleted', base, "  id: string;\n  count: int32;"),
  entity('r30', 'required field deleted', base, "  id: string;\n  note?: string;", { buf: { WIRE: 'number and name stay reserved by the lock; protobuf reads the missing field as 0', WIRE_JSON: 'number and name stay reserved by the lock' } }),
  entity('r31', 'field deleted, number dropped from the lock by hand', base, "  id: string;\n  count: int32;", {
    editLock: (lock, p) => {
      delete lock.messages[`${p}Item`]!.numbers.note;
    },
  }),
  entity('r32', 'fields renumbered (lock lost)', base, "  count: int32;\n  note?: string;", {
    editLock: (lock, p) => {
      delete lock.messages[`${p}Item`];
    },
  }),
  entity('r33', 'field type changed (int32 to string)', base, "  id: string;\n  count: string;\n  note?: string;"),
  entity('r34', 'SILENT: required field made optional', base, "  id?: string;\n  count: int32;\n  note?: string;", { buf: { WIRE: "implicit to explicit presence is wire-compatible for protobuf; old readers would take '' for an absent id", WIRE_JSON: 'buf allows it; p2pgen refuses, see WIRE' } }),
  entity('r35', 'SILENT: required field made nullable', base, "  id: string | null;\n  count: int32;\n  note?: string;", { buf: { WIRE: "null travels as absence: old readers would take ''", WIRE_JSON: 'buf allows it; p2pgen refuses, see WIRE' } }),
  entity('r36', 'optional field made required', base, "  id: string;\n  count: int32;\n  note: string;", { buf: { WIRE: "explicit to implicit presence is wire-compatible for protobuf; an absent note would read as ''", WIRE_JSON: 'buf allows it; p2pgen refuses, see WIRE' } }),
  entity('r37', 'fields reordered in source', base, "  note?: string;\n  count: int32;\n  id: string;"),
  entity('r38', 'field renamed, number kept (lock edited)', base, "  key: string;\n  count: int32;\n  note?: string;", {
    editLock: (lock, p) => {
      const numbers = lock.messages[`${p}Item`]!.numbers;
      numbers.key = numbers.id!;
      delete numbers.id;
    },
    buf: renamedNumbers,
  }),
  entity('r39', 'message field made optional', "  at: R39Point;", "  at?: R39Point;", {}, 'export interface %Point {\n  x: number;\n}\n'),
  entity('r40', 'list element type changed (string[] to int32[])', '  tags: string[];', '  tags: int32[];'),
  entity('r41', 'map value type changed', '  scores: Map<string, int32>;', '  scores: Map<string, string>;'),
  entity('r42', 'comments changed', base, "  /** The id. */\n  id: string;\n  count: int32; // how many\n  note?: string;"),

  // Enums and literal unions.
  entity('r43', 'SILENT: member inserted into a numeric TS enum', '  level: R43Level;', '  level: R43Level;', {
    v1: 'export enum R43Level { Low, High }\n' + item('R43', '  level: R43Level;') + controller('R43', [echo('R43Item')]),
    v2: 'export enum R43Level { Low, Mid, High }\n' + item('R43', '  level: R43Level;') + controller('R43', [echo('R43Item')]),
  }),
  entity('r44', 'TS enum member appended', '', '', {
    v1: 'export enum R44Level { Low, High }\n' + item('R44', '  level: R44Level;') + controller('R44', [echo('R44Item')]),
    v2: 'export enum R44Level { Low, High, Top }\n' + item('R44', '  level: R44Level;') + controller('R44', [echo('R44Item')]),
  }),
  entity('r45', 'TS enum member deleted', '', '', {
    v1: 'export enum R45Level { Low, Mid, High }\n' + item('R45', '  level: R45Level;') + controller('R45', [echo('R45Item')]),
    v2: 'export enum R45Level { Low, High }\n' + item('R45', '  level: R45Level;') + controller('R45', [echo('R45Item')]),
    buf: { WIRE: 'the number stays reserved by the lock', WIRE_JSON: 'number and name stay reserved by the lock' },
  }),
  types('r46', 'literal-union member added', "export type %Status = 'open' | 'closed';\n", "export type %Status = 'open' | 'closed' | 'archived';\n", ['echo(x: %Status): %Status']),
  types('r47', 'literal-union member deleted', "export type %Status = 'open' | 'closed' | 'archived';\n", "export type %Status = 'open' | 'closed';\n", ['echo(x: %Status): %Status'], {
    buf: { WIRE: 'the number stays reserved by the lock', WIRE_JSON: 'number and name stay reserved by the lock' },
  }),

  // Unions of objects, and renamed entities.
  types(
    'r48',
    'union member added',
    "export type %Shape = { kind: 'circle'; r: number } | { kind: 'square'; side: number };\n",
    "export type %Shape = { kind: 'circle'; r: number } | { kind: 'square'; side: number } | { kind: 'dot' };\n",
    ['echo(x: %Shape): %Shape'],
  ),
  types(
    'r49',
    'entity renamed, same structure (lock kept)',
    'export interface %Tag {\n  label: string;\n}\n',
    'export interface %Label {\n  label: string;\n}\n',
    ['echo(x: %Tag): %Tag'],
    {
      editLock: (lock, p) => {
        lock.messages[`${p}Label`] = lock.messages[`${p}Tag`]!;
      },
      buf: { WIRE: 'same structure renamed: bytes identical; buf compares messages by name', WIRE_JSON: 'same structure renamed: JSON identical too; buf compares messages by name' },
    },
  ),
  types('r50', 'entity renamed, another structure', 'export interface %Tag {\n  label: string;\n}\n', 'export interface %Label {\n  label: int32;\n}\n', ['echo(x: %Tag): %Tag']),
];

// Rows built by `types` name one action for both versions; renamed types need per-version actions.
for (const row of rows) {
  if (row.id === 'r49' || row.id === 'r50') row.v2 = row.v2.replaceAll(`${row.id.toUpperCase()}Tag`, `${row.id.toUpperCase()}Label`);
}

export const header = `import { rpc, type float32, type int32, type MaxLength, type Minimum, type uint32 } from 'p2pgen';\nimport { Observable } from 'rxjs';\n\n`;
