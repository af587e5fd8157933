/**
 * The lock against every change of form of an enum-like type, and against every key of the
 * lock file itself. An enum-like type is a TS enum (numbered implicitly, by strings, by numbers),
 * a literal union (strings, numbers, both, one literal) or a plain `string` / `number`; a
 * contract goes through random sequences of these forms, each version built from the lock the
 * one before wrote and checked against it, as `p2pgen build` and `p2pgen check` do. Neither may
 * crash: each version builds (or stops with located diagnostics), no number is ever handed to
 * another key, and the check's findings are those of a type whose values were renumbered. Then
 * random edits of a lock file: each is refused with a located P2P1022 diagnostic, or builds.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareLocks, compareModels } from '../cli/check/rules.js';
import { ContractDiagnosticsError, DiagnosticCode, formatDiagnostic } from '../cli/diagnostics.js';
import { emitProto } from '../cli/emit/proto-emitter.js';
import { emitTypeScriptChunks } from '../cli/emit/ts-emitter.js';
import { formatJson, numberModel } from '../cli/generate.js';
import type { ContractModel } from '../cli/model/contract-model.js';
import { LOCK_FILE_NAME, parseLock, type AnyLockFile, type LockFile } from '../cli/model/lock-file.js';
import { writeContracts } from './support/contracts-dir.js';
import { readInMemory } from './support/in-memory-contracts.js';
import { repoRoot } from './support/paths.js';

type Form =
  | { kind: 'enum'; members: { name: string; value?: string | number }[] }
  | { kind: 'literals'; values: (string | number)[] }
  | { kind: 'string' }
  | { kind: 'number' };

const NAMES = ['Red', 'Green', 'Blue', 'Crimson', 'Navy'];
const names = fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 });
const valuesOf = (members: string[], kind: 'implicit' | 'strings' | 'numbers', start: number) =>
  members.map((name, i) => ({ name, ...(kind === 'strings' ? { value: name.toLowerCase() } : kind === 'numbers' ? { value: start + i * 2 } : {}) }));

const form: fc.Arbitrary<Form> = fc.oneof(
  fc.record({ members: names, kind: fc.constantFrom('implicit', 'strings', 'numbers' as const), start: fc.integer({ min: -2, max: 3 }) }).map(
    ({ members, kind, start }): Form => ({ kind: 'enum', members: valuesOf(members, kind, start) }),
  ),
  fc
    .uniqueArray(fc.oneof(fc.constantFrom(...NAMES.map((n) => n.toLowerCase())), fc.integer({ min: -1, max: 4 })), { minLength: 1, maxLength: 4 })
    .map((values): Form => ({ kind: 'literals', values })),
  fc.constant<Form>({ kind: 'string' }),
  fc.constant<Form>({ kind: 'number' }),
);

function declaration(f: Form): string {
  switch (f.kind) {
    case 'enum':
      return `export enum Color {\n${f.members.map((m) => `  ${m.name}${m.value === undefined ? '' : ` = ${JSON.stringify(m.value)}`},`).join('\n')}\n}`;
    case 'literals':
      return `export type Color = ${f.values.map((v) => JSON.stringify(v)).join(' | ')};`;
    case 'string':
    case 'number':
      return `export type Color = ${f.kind};`;
  }
}

/** One version of the contract: Color as a parameter, a result, a field, a list, an optional field and a map key. */
function contract(f: Form): Record<string, string> {
  return {
    'paint.ts': `import { rpc } from 'p2pgen';
${declaration(f)}
export interface Paint {
  color: Color;
  colors: Color[];
  maybe?: Color;
  byColor: Map<Color, string>;
}
@rpc.controller('/paint')
export class PaintController {
  @rpc.action()
  paint(color: Color, paint: Paint): Color {
    return color;
  }
}
`,
  };
}

interface Built {
  model: ContractModel;
  lock: LockFile;
}

/** What `p2pgen build` does with the contracts and a lock, without the disk: a model and lock, or the diagnostics. */
function build(files: Record<string, string>, lock: AnyLockFile | undefined): Built | ContractDiagnosticsError {
  const read = readInMemory(files);
  try {
    const built = numberModel(read.model, read.diagnostics, lock);
    emitProto(built.model, { header: [] });
    emitTypeScriptChunks(built.model, { header: [], importPath: (file) => `./${file}`, sourcePath: (s) => `${s.file}:${s.line}`, generator: 'p2pgen' });
    return built;
  } catch (error) {
    if (error instanceof ContractDiagnosticsError) return error;
    throw error;
  }
}

/** Every number a table ever gave a key is that key's still, or reserved: never another key's. */
function expectNoNumberReused(before: LockFile, after: LockFile): void {
  for (const section of ['messages', 'unions', 'enums'] as const) {
    for (const [name, table] of Object.entries(before[section])) {
      const next = after[section][name]!;
      expect(next, `${section}.${name} is kept`).toBeDefined();
      for (const [key, n] of Object.entries(table.numbers)) {
        if (next.numbers[key] === n) continue;
        expect(next.numbers[key], `${section}.${name}: ${key} keeps ${n} or loses it`).toBeUndefined();
        expect(next.reserved, `${section}.${name}: ${n} (was ${key}) is reserved`).toContain(n);
        expect(Object.values(next.numbers), `${section}.${name}: ${n} (was ${key}) is nobody else's`).not.toContain(n);
      }
    }
  }
}

describe('an enum-like type changing form between versions', () => {
  it('builds and checks every sequence of forms without crashing, and never hands a number to another value', () => {
    fc.assert(
      fc.property(fc.array(form, { minLength: 2, maxLength: 4 }), (forms) => {
        let previous: Built | undefined;
        for (const f of forms) {
          const built = build(contract(f), previous?.lock);
          if (built instanceof ContractDiagnosticsError) {
            // Refused clearly: located diagnostics, never a crash.
            for (const d of built.diagnostics) expect(d.file, formatDiagnostic(d)).toBeDefined();
            continue;
          }
          if (previous) {
            expectNoNumberReused(previous.lock, built.lock);
            const findings = compareModels(previous.model, built.model);
            compareLocks(previous.lock, built.lock, built.model);
            // Values that changed number are reported (an enum value the reader lacks).
            const before = previous.model.enums.find((e) => e.name === 'Color');
            const after = built.model.enums.find((e) => e.name === 'Color');
            if (before && after && before.values.some((v) => !after.values.some((w) => w.number === v.number))) {
              expect(findings.map((x) => x.rule)).toContain('enum-value-deleted');
            }
          }
          previous = built;
        }
      }),
      { numRuns: 30 },
    );
  });

  it('a TS enum with string values becoming a literal union of them: its values are renumbered, the old numbers and names reserved', () => {
    const enumVersion = build(contract({ kind: 'enum', members: [{ name: 'Red', value: 'red' }, { name: 'Blue', value: 'blue' }] }), undefined) as Built;
    const literalVersion = build(contract({ kind: 'literals', values: ['red', 'blue'] }), enumVersion.lock) as Built;
    expect(enumVersion.lock.enums['Color']).toEqual({ numbers: { Blue: 2, Red: 1 }, reserved: [] });
    expect(literalVersion.lock.enums['Color']).toEqual({ numbers: { '"blue"': 4, '"red"': 3 }, reserved: [1, 2], reservedKeys: ['Blue', 'Red'] });
    const back = build(contract({ kind: 'enum', members: [{ name: 'Red', value: 'red' }, { name: 'Green', value: 'green' }] }), literalVersion.lock) as Built;
    // Red comes back under its name, with a new number; the literals' numbers stay reserved.
    expect(back.lock.enums['Color']).toEqual({ numbers: { Green: 6, Red: 5 }, reserved: [1, 2, 3, 4], reservedKeys: ['"blue"', '"red"', 'Blue'] });
    expect(back.model.enums[0]!.reservedNames).toEqual(['COLOR_BLUE']);
    expect(compareModels(enumVersion.model, literalVersion.model).filter((f) => f.rule === 'enum-value-deleted').length).toBeGreaterThan(0);
  });

  it('p2pgen build and p2pgen check of that change: exit 0 and 1 with the finding, never 70', () => {
    const dir = writeContracts('enum-to-literals', contract({ kind: 'enum', members: [{ name: 'Red', value: 'red' }, { name: 'Blue', value: 'blue' }] }));
    const out = join(dir, 'generated');
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), ...args], { cwd: repoRoot, encoding: 'utf8' });
    expect(cli('build', dir, '--out', out).status).toBe(0);
    cpSync(join(out, 'manifest.json'), join(dir, '..', `${dir.split('/').pop()}-baseline.json`));
    writeFileSync(join(dir, 'paint.ts'), contract({ kind: 'literals', values: ['red', 'blue'] })['paint.ts']!);
    const built = cli('build', dir, '--out', out);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    const checked = cli('check', dir, '--out', out, '--against', join(dir, '..', `${dir.split('/').pop()}-baseline.json`));
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toContain('enum-value-deleted');
    expect(checked.status).toBe(1);
  });
});

describe('every key of a lock file: builds, or is refused with a located diagnostic', () => {
  const files = contract({ kind: 'enum', members: [{ name: 'Red' }, { name: 'Blue' }] });
  const good = build(files, undefined) as Built;
  const goodText = formatJson(good.lock);

  /** Every path of a JSON value (objects by key, arrays by index). */
  const pathsOf = (value: unknown, at: (string | number)[] = []): (string | number)[][] => {
    if (Array.isArray(value)) return [at, ...value.flatMap((v, i) => pathsOf(v, [...at, i]))];
    if (typeof value === 'object' && value !== null) return [at, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...at, k]))];
    return [at];
  };
  const paths = pathsOf(JSON.parse(goodText)).filter((p) => p.length > 0);

  type Edit = { path: (string | number)[]; op: 'set'; value: unknown } | { path: (string | number)[]; op: 'delete' } | { path: (string | number)[]; op: 'rename'; to: string };
  const edit: fc.Arbitrary<Edit> = fc.oneof(
    fc.record({ path: fc.constantFrom(...paths), op: fc.constant('set' as const), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -3, max: 600_000_000 }), fc.constantFrom(0, 1, 2, 3, 19_500, 536_870_911, 536_870_912, 2.5, '1')) }),
    fc.record({ path: fc.constantFrom(...paths), op: fc.constant('delete' as const) }),
    fc.record({ path: fc.constantFrom(...paths), op: fc.constant('rename' as const), to: fc.constantFrom('x', 'Red', 'Blue', '"red"', 'value#null', 'numbers', 'reserved') }),
  );

  const apply = (lock: unknown, e: Edit): unknown => {
    const copy = structuredClone(lock) as Record<string | number, unknown>;
    let parent: Record<string | number, unknown> = copy;
    for (const segment of e.path.slice(0, -1)) {
      const next = parent[segment];
      // An earlier edit removed or replaced what this one would change.
      if (typeof next !== 'object' || next === null) return copy;
      parent = next as Record<string | number, unknown>;
    }
    const last = e.path[e.path.length - 1]!;
    if (e.op === 'set') parent[last] = e.value;
    else if (Array.isArray(parent)) parent.splice(last as number, 1);
    else if (e.op === 'delete') delete parent[last];
    else {
      const value = parent[last];
      delete parent[last];
      parent[e.to] = value;
    }
    return copy;
  };

  it('random edits of a lock: parsed and built, or refused with P2P1022 at a line of the file', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const text = formatJson(edits.reduce(apply, JSON.parse(goodText)));
        let lock: AnyLockFile;
        try {
          lock = parseLock(text, LOCK_FILE_NAME);
        } catch (error) {
          if (!(error instanceof ContractDiagnosticsError)) throw error;
          const lines = text.split('\n');
          for (const d of error.diagnostics) {
            expect(d.code).toBe(DiagnosticCode.InvalidLock);
            expect(d.file).toBe(LOCK_FILE_NAME);
            expect(d.sourceLine).toBe(lines[d.line! - 1]);
          }
          return;
        }
        const built = build(files, lock);
        if (built instanceof ContractDiagnosticsError) return;
        // Numbers protobuf accepts, one per field.
        for (const m of built.model.messages) {
          const numbers = m.fields.flatMap((f) => (f.type.kind === 'literal' ? [] : [f.number, ...(f.nullNumber ? [f.nullNumber] : [])]));
          expect(new Set(numbers).size).toBe(numbers.length);
          for (const n of numbers) expect(n >= 1 && n <= 536_870_911 && (n < 19_000 || n > 19_999), `${m.name}: ${n}`).toBe(true);
          for (const n of m.reserved) expect(numbers).not.toContain(n);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a lock of a newer p2pgen: a clear diagnostic from p2pgen build, exit 1, not an internal error', () => {
    const dir = writeContracts('newer-lock', files);
    writeFileSync(join(dir, LOCK_FILE_NAME), goodText.replace('"lockVersion": 2', '"lockVersion": 3'));
    const result = spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'build', dir, '--out', join(dir, 'generated')], { cwd: dir, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${LOCK_FILE_NAME}:2:3 - error P2P1022: lockVersion 3 was written by a newer p2pgen; this one (0.1.0) reads versions 1 to 2: upgrade @p2pgen/cli`);
    expect(result.stderr).not.toContain('internal error');
    const checked = spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'check', dir, '--out', join(dir, 'generated')], { cwd: dir, encoding: 'utf8' });
    expect(checked.status).toBe(1);
    expect(checked.stderr).toContain('error P2P1022: lockVersion 3 was written by a newer p2pgen');
  });

  it('names what is wrong where it is: a number given twice, a number protobuf refuses, a number both used and reserved', () => {
    const lock = JSON.parse(goodText) as LockFile;
    lock.messages['Paint']!.numbers['colors'] = lock.messages['Paint']!.numbers['color']!;
    lock.enums['Color']!.numbers['Blue'] = 0;
    lock.unions = { Shape: { numbers: { circle: 19_001 }, reserved: [] } };
    lock.messages['PaintControllerPaintRequest']!.reserved = [1];
    const text = formatJson(lock);
    let diagnostics: string[] = [];
    try {
      parseLock(text, 'contracts/p2pgen.lock.json');
    } catch (error) {
      diagnostics = (error as ContractDiagnosticsError).diagnostics.map(formatDiagnostic);
    }
    const lines = text.split('\n');
    const at = (needle: string, after = 0) => lines.findIndex((l, i) => i >= after && l.includes(needle)) + 1;
    const reservedOne = at('"reserved"', at('"PaintControllerPaintRequest"')) + 1;
    expect(diagnostics.map((d) => d.split('\n')[0])).toEqual([
      `contracts/p2pgen.lock.json:${at('"colors"')}:9 - error P2P1022: messages "Paint": number 1 is given to both "color" and "colors"`,
      `contracts/p2pgen.lock.json:${reservedOne}:9 - error P2P1022: messages "PaintControllerPaintRequest": number 1 is reserved and given to "color"`,
      `contracts/p2pgen.lock.json:${at('"circle"')}:9 - error P2P1022: unions "Shape": "circle" has number 19001; a number must be a whole number from 1 to 536870911, outside 19000-19999 (protobuf's own)`,
      `contracts/p2pgen.lock.json:${at('"Blue": 0')}:9 - error P2P1022: enums "Color": "Blue" has number 0; a number must be a whole number from 1 to 2147483647`,
    ]);
  });

  it('the lock of the example contracts still reads', () => {
    expect(() => parseLock(readFileSync(join(repoRoot, 'contracts', LOCK_FILE_NAME), 'utf8'), LOCK_FILE_NAME)).not.toThrow();
  });
});
