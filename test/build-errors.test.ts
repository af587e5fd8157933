/**
 * Contracts the generator cannot map give located, typed diagnostics (file:line:col, the
 * element path, the type), all of a run at once, and `p2pgen build` exits 1 without writing
 * anything and without a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContractDiagnosticsError, DiagnosticCode, formatDiagnostic, type Diagnostic } from '../cli/diagnostics.js';
import { generate } from '../cli/generate.js';
import { writeContracts } from './support/contracts-dir.js';
import { repoRoot, tempDir } from './support/paths.js';

const header = `import { entity, rpc } from 'p2pgen';\nimport { Observable } from 'rxjs';\n`;

async function diagnosticsOf(contractsDir: string): Promise<Diagnostic[]> {
  try {
    await generate({ contractsDir, outDir: join(contractsDir, '..', 'never-written') });
  } catch (error) {
    if (error instanceof ContractDiagnosticsError) return error.diagnostics;
    throw error;
  }
  throw new Error('expected the build to fail');
}

interface Case {
  name: string;
  source: string;
  code: DiagnosticCode;
  /** line:column in contract.ts */
  at: string;
  text: string;
  type?: string;
}

const cases: Case[] = [
  {
    name: 'a parameter typed any',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: any): void {}\n}\n`,
    code: DiagnosticCode.AnyOrUnknown,
    at: '4:8',
    text: "Bad.take(value): 'any' cannot be mapped to the wire",
    type: 'any',
  },
  {
    name: 'a parameter typed unknown',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: unknown): void {}\n}\n`,
    code: DiagnosticCode.AnyOrUnknown,
    at: '4:8',
    text: "Bad.take(value): 'unknown' cannot be mapped to the wire",
    type: 'unknown',
  },
  {
    name: 'a field of function type',
    source: `export interface Options {\n  name: string;\n  onDone: () => void;\n}\n@rpc.controller('/bad')\nexport class BadFn {\n  @rpc.action()\n  take(value: Options): void {}\n}\n`,
    code: DiagnosticCode.FunctionType,
    at: '3:3',
    text: 'BadFn.take(value).onDone: function types cannot cross the wire',
    type: '() => void',
  },
  {
    name: 'a generic action (unresolved generic)',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take<T>(value: T): void {}\n}\n`,
    code: DiagnosticCode.UnresolvedGeneric,
    at: '4:3',
    text: "Bad.take: generic action 'take<T>' cannot be mapped",
  },
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
  {
    name: 'a type that does not resolve',
    source: `@rpc.controller('/bad')\nexport class Bad {\n  @rpc.action()\n  take(value: Missing): void {}\n}\n`,
    code: DiagnosticCode.UnresolvedType,
    at: '4:8',
    text: 'Bad.take(value): the type cannot be resolved',
  },
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
];

describe('p2pgen build: contracts it cannot map', () => {
  for (const c of cases) {
    it(`reports ${c.name} with file:line:col, path and type`, async () => {
      const dir = writeContracts('bad', { 'contract.ts': header + c.source });
      const diagnostics = await diagnosticsOf(dir);
      const [line, column] = c.at.split(':').map(Number);
      const match = diagnostics.find((d) => d.code === c.code);
      expect(match, `diagnostics: ${diagnostics.map(formatDiagnostic).join('\n')}`).toBeDefined();
      expect(match!.file).toBe(relative(process.cwd(), join(dir, 'contract.ts')));
      // +2: the two import lines of `header`
      expect([match!.line, match!.column]).toEqual([line! + 2, column]);
      expect(formatDiagnostic(match!)).toContain(c.text);
      if (c.type) expect(match!.typeText).toBe(c.type);
    });
  }

  it('reports a contracts folder that does not exist', async () => {
    const diagnostics = await diagnosticsOf(join(tempDir('missing'), 'nope'));
    expect(diagnostics).toMatchObject([{ code: DiagnosticCode.FolderNotFound }]);
    expect(diagnostics[0]!.message).toContain('contracts folder not found');
  });

  it('reports an empty folder', async () => {
    const diagnostics = await diagnosticsOf(tempDir('empty'));
    expect(diagnostics).toMatchObject([{ code: DiagnosticCode.NoContracts }]);
  });

  it('reports a folder of .ts files without controllers', async () => {
    const dir = writeContracts('no-controllers', { 'types.ts': 'export interface A { x: string }\n' });
    expect(await diagnosticsOf(dir)).toMatchObject([{ code: DiagnosticCode.NoContracts }]);
  });

  it('reports a syntax error with its location', async () => {
    const dir = writeContracts('syntax', { 'broken.ts': `${header}export class Broken {\n  method( {\n}\n` });
    const diagnostics = await diagnosticsOf(dir);
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.every((d) => d.code === DiagnosticCode.SyntaxError)).toBe(true);
    // tsc reports the missing ')' where the file ends.
    expect(diagnostics[0]).toMatchObject({ file: relative(process.cwd(), join(dir, 'broken.ts')), line: 6, column: 1 });
    expect(diagnostics[0]!.message).toBe("')' expected.");
  });

  it('reports two controllers with one path, naming both places', async () => {
    const dir = writeContracts('dup-path', {
      'a.ts': `${header}@rpc.controller('/same')\nexport class A {\n  @rpc.action()\n  x(): void {}\n}\n`,
      'b.ts': `${header}@rpc.controller('/same')\nexport class B {\n  @rpc.action()\n  y(): void {}\n}\n`,
    });
    const diagnostics = await diagnosticsOf(dir);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ code: DiagnosticCode.DuplicateControllerPath, line: 4, column: 14 });
    expect(diagnostics[0]!.message).toContain("controller path '/same' is already used by the controller at a.ts:4:14");
  });

  it('reports two entities with one name', async () => {
    const dir = writeContracts('dup-entity', {
      'a.ts': `${header}@entity.name('item')\nexport class A {\n  x = '';\n}\n@entity.name('item')\nexport class B {\n  y = 0;\n}\n@rpc.controller('/items')\nexport class Items {\n  @rpc.action()\n  put(a: A, b: B): void {}\n}\n`,
    });
    const diagnostics = await diagnosticsOf(dir);
    expect(diagnostics).toMatchObject([{ code: DiagnosticCode.DuplicateEntityName, elementPath: 'Items.put(b)' }]);
    expect(diagnostics[0]!.message).toContain("two different types are named 'Item' on the wire");
  });

  it('reports every error of a run at once, sorted by place', async () => {
    const dir = writeContracts('many', {
      'contract.ts': `${header}@rpc.controller('/many')\nexport class Many {\n  @rpc.action()\n  a(x: any): void {}\n  @rpc.action()\n  b(f: () => void): void {}\n  @rpc.action()\n  c<T>(t: T): void {}\n}\n`,
    });
    const diagnostics = await diagnosticsOf(dir);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([
      [DiagnosticCode.AnyOrUnknown, 6],
      [DiagnosticCode.FunctionType, 8],
      [DiagnosticCode.UnresolvedGeneric, 10],
    ]);
  });
});

describe('p2pgen build (CLI) on bad contracts', () => {
  it('prints every diagnostic with a code frame, writes nothing and exits 1 without a stack trace', () => {
    const dir = writeContracts('cli-bad', {
      'contract.ts': `${header}export interface Options {\n  onDone: () => void;\n}\n@rpc.controller('/bad')\nexport class BadFn {\n  @rpc.action()\n  take(value: Options, extra: unknown): void {}\n}\n`,
    });
    const out = join(dir, '..', `${dir.split('/').pop()}-out`);
    const result = spawnSync(process.execPath, [join(repoRoot, 'bin/p2pgen.js'), 'build', dir, '--out', out], { encoding: 'utf8', cwd: repoRoot });
    expect(result.status).toBe(1);
    const file = relative(repoRoot, join(dir, 'contract.ts'));
    expect(result.stderr).toContain(`${file}:4:3 - error P2P1007: BadFn.take(value).onDone: function types cannot cross the wire (type: () => void)`);
    expect(result.stderr).toContain(`${file}:9:24 - error P2P1006: BadFn.take(extra): 'unknown' cannot be mapped to the wire`);
    expect(result.stderr).toContain('4 |   onDone: () => void;');
    expect(result.stderr).toContain('p2pgen: 2 errors; nothing was written');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, 'p2pgen.lock.json'))).toBe(false);
  });

  it('exits 2 with usage help on bad usage', () => {
    const result = spawnSync(process.execPath, [join(repoRoot, 'bin/p2pgen.js'), 'build'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('Not enough non-option arguments');
  });
});
