/**
 * The breaking-change rules, table-driven: pairs of contract versions with the rules each
 * evolution trips (every rule at least once) and evolutions that must pass.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../cli/generate.js';
import { compareModels, RULES, type RuleName } from '../cli/check/rules.js';
import type { LockFile } from '../cli/model/lock-file.js';
import { writeContracts } from './support/contracts-dir.js';

const imports = `import { entity, rpc, type float32, type int32, type MaxLength } from 'p2pgen';\nimport { Observable } from 'rxjs';\n`;

/** A small contract with the parts each case changes. */
function contract(parts: { entity?: string; actions?: string; extra?: string; path?: string; className?: string } = {}): string {
  return `${imports}
export type Status = 'open' | 'closed';

@entity.name('item')
export class ${parts.className ?? 'Item'} {
${parts.entity ?? `  id: string = '';\n  count: int32 = 0;\n  status: Status = 'open';\n  note?: string;`}
}

@rpc.controller('${parts.path ?? '/items'}')
export class Items {
${parts.actions ?? `  @rpc.action()\n  put(item: Item, reason: string & MaxLength<50>): void {}\n\n  @rpc.action()\n  get(id: string): Item {\n    return new Item();\n  }\n\n  @rpc.action()\n  watch(id: string): Observable<Item> {\n    return new Observable();\n  }`}
}
${parts.extra ?? ''}`;
}

const base = contract();
/** The contract with one more field in the entity (v1 and v2 of the cases below differ in it). */
const withField = (field: string) => contract({ entity: `  id: string = '';\n  count: int32 = 0;\n  status: Status = 'open';\n  note?: string;\n  ${field}` });
const actions = (put: string, get = `  @rpc.action()\n  get(id: string): Item {\n    return new Item();\n  }`, watch = `  @rpc.action()\n  watch(id: string): Observable<Item> {\n    return new Observable();\n  }`) => [put, get, watch].join('\n\n');
const put = (params: string) => `  @rpc.action()\n  put(${params}): void {}`;

/** Builds v1, then v2 with v1's lock (as the same repository evolving), and compares. */
async function evolve(v1: string, v2: string, editLock?: (lock: LockFile) => LockFile): Promise<RuleName[]> {
  const dir = writeContracts('evolve', { 'items.ts': v1 });
  const first = buildModel(dir, undefined);
  writeFileSync(join(dir, 'items.ts'), v2);
  const second = buildModel(dir, editLock ? editLock(structuredClone(first.lock)) : first.lock);
  return [...new Set(compareModels(first.model, second.model).filter((f) => f.breaking).map((f) => f.rule))].sort();
}

const wire = (rules: RuleName[]) => rules.filter((r) => RULES[r].category === 'wire');

interface Case {
  name: string;
  v2: string;
  v1?: string;
  editLock?: (lock: LockFile) => LockFile;
  /** Every rule tripped (wire and source). */
  rules: RuleName[];
}

const breaking: Case[] = [
  { name: 'a controller path changed', v2: contract({ path: '/things' }), rules: ['controller-deleted'] },
  { name: 'a controller deleted', v2: contract({ path: '/things', extra: '' }), rules: ['controller-deleted'] },
  { name: 'an action deleted', v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<50>'), '') }), rules: ['action-deleted'] },
  { name: 'a required parameter added', v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<50>, urgent: boolean')) }), rules: ['parameter-added-required'] },
  { name: 'a required field added to an entity', v2: contract({ entity: `  id: string = '';\n  count: int32 = 0;\n  status: Status = 'open';\n  note?: string;\n  owner: string = '';` }), rules: ['field-added-required'] },
  { name: 'a required field deleted', v2: contract({ entity: `  id: string = '';\n  status: Status = 'open';\n  note?: string;` }), rules: ['required-field-deleted'] },
  { name: 'a field type changed', v2: contract({ entity: `  id: string = '';\n  count: string = '';\n  status: Status = 'open';\n  note?: string;` }), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'an optional parameter made required', v1: contract({ actions: actions(put('item: Item, reason?: string')) }), v2: contract({ actions: actions(put('item: Item, reason: string')) }), rules: ['field-type-changed', 'ts-type-changed'] },
  // The silent cases: the old reader would take '' (or 0) for the value the new writer left out.
  { name: 'a required parameter made optional', v2: contract({ actions: actions(put('item: Item, reason?: string & MaxLength<50>')) }), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'a required field made optional', v2: contract({ entity: `  id?: string;\n  count: int32 = 0;\n  status: Status = 'open';\n  note?: string;` }), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'a required field made nullable', v2: contract({ entity: `  id: string | null = null;\n  count: int32 = 0;\n  status: Status = 'open';\n  note?: string;` }), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'an optional field made required', v2: contract({ entity: `  id: string = '';\n  count: int32 = 0;\n  status: Status = 'open';\n  note: string = '';` }), rules: ['field-type-changed', 'ts-type-changed'] },
  // Old callees would cut a bigint to int32: new callers get CONTRACT_MISMATCH from them.
  { name: 'a widening int32 -> bigint', v1: contract({ actions: actions(put('item: Item, reason: int32')) }), v2: contract({ actions: actions(put('item: Item, reason: bigint')) }), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'a narrowing int64 -> int32', v1: contract({ actions: actions(put('item: Item, reason: bigint')) }), v2: contract({ actions: actions(put('item: Item, reason: int32')) }), rules: ['field-type-changed', 'ts-type-changed'] },
  {
    name: 'fields renumbered because the lock lost its entry (numbers reused)',
    v2: contract({ entity: `  id: string = '';\n  status: Status = 'open';\n  note?: string;` }),
    editLock: (lock) => {
      delete lock.messages.Item;
      return lock;
    },
    rules: ['field-number-reused', 'field-type-changed'],
  },
  {
    name: 'a field deleted and its number dropped from the lock by hand (not reserved)',
    v2: contract({ entity: `  id: string = '';\n  count: int32 = 0;\n  status: Status = 'open';` }),
    editLock: (lock) => {
      delete lock.messages.Item!.numbers.note;
      return lock;
    },
    rules: ['field-deleted-not-reserved'],
  },
  { name: 'unary became a stream', v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<50>'), `  @rpc.action()\n  get(id: string): Observable<Item> {\n    return new Observable();\n  }`) }), rules: ['stream-kind-changed'] },
  { name: 'a stream became unary', v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<50>'), undefined, `  @rpc.action()\n  watch(id: string): Item {\n    return new Item();\n  }`) }), rules: ['stream-kind-changed'] },
  {
    name: 'a literal-union member deleted',
    v1: contract().replace("export type Status = 'open' | 'closed';", "export type Status = 'open' | 'closed' | 'archived';"),
    v2: contract(),
    rules: ['enum-value-deleted'],
  },
  {
    name: 'a TS enum value deleted',
    v1: contract({ extra: 'export enum Level { Low, Mid, High }\n' }).replace('  note?: string;', '  note?: string;\n  level: Level = Level.Low;'),
    v2: contract({ extra: 'export enum Level { Low, High }\n' }).replace('  note?: string;', '  note?: string;\n  level: Level = Level.Low;'),
    rules: ['enum-value-deleted'],
  },
  { name: 'a constraint tightened on a parameter', v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<20>')) }), rules: ['constraint-tightened'] },
  {
    name: 'an entity renamed with another structure',
    v1: contract({ actions: actions(put('item: Item, reason: string & MaxLength<50>')), extra: `@entity.name('tag')\nexport class Tag {\n  label: string = '';\n}\n@rpc.controller('/tags')\nexport class Tags {\n  @rpc.action()\n  add(tag: Tag): void {}\n}\n` }),
    v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<50>')), extra: `@entity.name('label')\nexport class Label {\n  label: int32 = 0;\n}\n@rpc.controller('/tags')\nexport class Tags {\n  @rpc.action()\n  add(tag: Label): void {}\n}\n` }),
    rules: ['entity-removed', 'entity-renamed-incompatible', 'ts-type-changed'],
  },
  // Sets, typed arrays and tuples (wire-table.ts, runtime/contracts/compatibility.ts).
  { name: 'an array became a Set (its reader refuses an element twice)', v1: withField('tags: string[] = [];'), v2: withField('tags: Set<string> = new Set();'), rules: ['constraint-tightened', 'ts-type-changed'] },
  { name: 'a typed array of another kind', v1: withField('samples: Float32Array = new Float32Array(0);'), v2: withField('samples: Int32Array = new Int32Array(0);'), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'an int32[] became an Int32Array (varints to fixed-width)', v1: withField('ids: int32[] = [];'), v2: withField('ids: Int32Array = new Int32Array(0);'), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'an Int16Array narrowed to an Int8Array', v1: withField('levels: Int16Array = new Int16Array(0);'), v2: withField('levels: Int8Array = new Int8Array(0);'), rules: ['constraint-tightened', 'ts-type-changed'] },
  { name: 'a tuple element changed type', v1: withField("pair: [string, int32] = ['', 0];"), v2: withField("pair: [string, string] = ['', ''];"), rules: ['field-type-changed', 'ts-type-changed'] },
  { name: 'a tuple element added', v1: withField("pair: [string, int32] = ['', 0];"), v2: withField("pair: [string, int32, boolean] = ['', 0, false];"), rules: ['field-added-required'] },
];

const compatible: Case[] = [
  { name: 'a float32[] became a Float32Array (the same bytes)', v1: withField('samples: float32[] = [];'), v2: withField('samples: Float32Array = new Float32Array(0);'), rules: ['ts-type-changed'] },
  { name: 'a Set became an array', v1: withField('tags: Set<string> = new Set();'), v2: withField('tags: string[] = [];'), rules: ['ts-type-changed'] },
  { name: 'an Int8Array widened to an Int16Array', v1: withField('levels: Int8Array = new Int8Array(0);'), v2: withField('levels: Int16Array = new Int16Array(0);'), rules: ['ts-type-changed'] },
  { name: 'an optional field added', v2: contract({ entity: `  id: string = '';\n  count: int32 = 0;\n  status: Status = 'open';\n  note?: string;\n  tags?: string[];` }), rules: [] },
  { name: 'an optional parameter added', v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<50>, urgent?: boolean')) }), rules: [] },
  { name: 'an action added', v2: contract({ actions: `${actions(put('item: Item, reason: string & MaxLength<50>'))}\n\n  @rpc.action()\n  count(): int32 {\n    return 0;\n  }` }), rules: [] },
  { name: 'a controller added', v2: contract({ extra: `@rpc.controller('/more')\nexport class More {\n  @rpc.action()\n  ping(): string {\n    return 'pong';\n  }\n}\n` }), rules: [] },
  { name: 'a literal-union member added', v2: contract().replace("export type Status = 'open' | 'closed';", "export type Status = 'open' | 'closed' | 'archived';"), rules: [] },
  { name: 'fields reordered in source', v2: contract({ entity: `  note?: string;\n  status: Status = 'open';\n  count: int32 = 0;\n  id: string = '';` }), rules: [] },
  {
    name: 'an entity renamed with the same structure',
    v1: contract({ extra: `@entity.name('tag')\nexport class Tag {\n  label: string = '';\n}\n@rpc.controller('/tags')\nexport class Tags {\n  @rpc.action()\n  add(tag: Tag): void {}\n}\n` }),
    v2: contract({ extra: `@entity.name('label')\nexport class Label {\n  label: string = '';\n}\n@rpc.controller('/tags')\nexport class Tags {\n  @rpc.action()\n  add(tag: Label): void {}\n}\n` }),
    editLock: (lock) => {
      lock.messages.Label = lock.messages.Tag!;
      return lock;
    },
    rules: ['entity-removed', 'ts-type-changed'],
  },
  { name: 'a constraint loosened on a parameter', v2: contract({ actions: actions(put('item: Item, reason: string & MaxLength<80>')) }), rules: [] },
  { name: 'comments changed', v2: base.replace('export class Items {', '/** Items and what happens to them. */\nexport class Items {\n  // the actions').replace("  id: string = '';", "  /** The id. */\n  id: string = '';"), rules: [] },
  {
    name: 'a member inserted into a numeric TS enum (wire numbers follow member names)',
    v1: contract({ extra: 'export enum Level { Low, High }\n' }).replace('  note?: string;', '  note?: string;\n  level: Level = Level.Low;'),
    v2: contract({ extra: 'export enum Level { Low, Mid, High }\n' }).replace('  note?: string;', '  note?: string;\n  level: Level = Level.Low;'),
    rules: [],
  },
  { name: 'parameters reordered', v1: contract({ actions: actions(put('item: Item, reason: string')) }), v2: contract({ actions: actions(put('reason: string, item: Item')) }), rules: ['parameter-reordered'] },
];

describe('breaking changes', () => {
  for (const c of breaking) {
    it(`${c.name}: ${c.rules.join(', ')}`, async () => {
      expect(await evolve(c.v1 ?? base, c.v2, c.editLock)).toEqual([...c.rules].sort());
    });
  }

  it('covers every rule', () => {
    const tripped = new Set([...breaking, ...compatible].flatMap((c) => c.rules));
    expect(Object.keys(RULES).filter((r) => !tripped.has(r as RuleName))).toEqual(['field-renamed']);
  });
});

describe('compatible evolutions (no wire rule trips)', () => {
  for (const c of compatible) {
    it(c.name, async () => {
      const rules = await evolve(c.v1 ?? base, c.v2, c.editLock);
      expect(wire(rules)).toEqual([]);
      expect(rules).toEqual([...c.rules].sort());
    });
  }
});

describe('source rules', () => {
  it('field-renamed: a field keeps its number under a new name (the lock says so)', async () => {
    const v2 = contract({ entity: `  key: string = '';\n  count: int32 = 0;\n  status: Status = 'open';\n  note?: string;` });
    const rules = await evolve(base, v2, (lock) => {
      const numbers = lock.messages.Item!.numbers;
      numbers.key = numbers.id!;
      delete numbers.id;
      return lock;
    });
    expect(rules).toEqual(['field-renamed']);
  });
});
