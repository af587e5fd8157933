/**
 * Contracts the generator cannot map, end to end: folders that hold none, syntax errors,
 * duplicates across files, every diagnostic of a run at once (sorted, with paths from the
 * working directory), and `p2pgen build` exiting 1 without writing anything and without a stack
 * trace. What the reader reports for each kind of type is tested in memory (reader.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContractDiagnosticsError, DiagnosticCode, type Diagnostic } from '../cli/diagnostics.js';
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

describe('p2pgen build: contracts it cannot map', () => {
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

  it('reports a class with @rpc.action() methods but no @rpc.controller (they would belong to no contract)', async () => {
    const dir = writeContracts('no-controller', {
      'chat.ts': `${header}@rpc.controller('/chat')\nexport class Chat {\n  @rpc.action()\n  send(text: string): void {}\n}\nexport class Forgotten {\n  @rpc.action()\n  ping(): void {}\n  @rpc.action()\n  echo(text: string): string { return text; }\n}\n`,
    });
    const diagnostics = await diagnosticsOf(dir);
    expect(diagnostics).toMatchObject([{ code: DiagnosticCode.ActionOutsideController, file: relative(process.cwd(), join(dir, 'chat.ts')), line: 8, column: 14, elementPath: 'Forgotten' }]);
    expect(diagnostics[0]!.message).toBe(
      "class Forgotten has @rpc.action() methods (ping, echo) but no @rpc.controller, so they belong to no contract: add @rpc.controller('/path') to the class (a controller's actions are the ones it declares itself; inherited ones are not read)",
    );
  });

  it('reports @rpc.action, @rpc.controller and @entity.name written without their call', async () => {
    const dir = writeContracts('uncalled', {
      'chat.ts': `${header}@entity.name\nexport class Note {\n  text = '';\n}\n@rpc.controller('/chat')\nexport class Chat {\n  @rpc.action\n  send(note: Note): void {}\n  @rpc.action()\n  read(): Note[] { return []; }\n}\n@rpc.controller\nexport class Other {\n  @rpc.action()\n  ping(): void {}\n}\n`,
    });
    const diagnostics = await diagnosticsOf(dir);
    expect(diagnostics.map((d) => [d.code, d.line, d.column, d.elementPath])).toEqual([
      [DiagnosticCode.DecoratorNotCalled, 3, 1, 'Note'],
      [DiagnosticCode.DecoratorNotCalled, 9, 3, 'Chat.send'],
      [DiagnosticCode.DecoratorNotCalled, 14, 1, 'Other'],
    ]);
    expect(diagnostics.map((d) => d.message)).toEqual([
      "@entity.name is a decorator factory: call it, @entity.name('chat-message'); without the call p2pgen does not see it and the runtime misuses it",
      '@rpc.action is a decorator factory: call it, @rpc.action(); without the call p2pgen does not see it and the runtime misuses it',
      "@rpc.controller is a decorator factory: call it, @rpc.controller('/chat'); without the call p2pgen does not see it and the runtime misuses it",
    ]);
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
    const result = spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'build', dir, '--out', out], { encoding: 'utf8', cwd: repoRoot });
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

  it('a forgotten @rpc.controller and a @rpc.action without () fail the build with file:line, not silently', () => {
    const dir = writeContracts('cli-dropped', {
      'greeter.ts': `${header}export class Greeter {\n  @rpc.action()\n  greet(name: string): string { return name; }\n}\n@rpc.controller('/clock')\nexport class Clock {\n  @rpc.action\n  now(): Date { return new Date(); }\n}\n`,
    });
    const out = join(dir, '..', `${dir.split('/').pop()}-out`);
    const result = spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'build', dir, '--out', out], { encoding: 'utf8', cwd: repoRoot });
    expect(result.status).toBe(1);
    const file = relative(repoRoot, join(dir, 'greeter.ts'));
    expect(result.stderr).toContain(`${file}:3:14 - error P2P1019: Greeter: class Greeter has @rpc.action() methods (greet) but no @rpc.controller`);
    expect(result.stderr).toContain(`${file}:9:3 - error P2P1020: Clock.now: @rpc.action is a decorator factory: call it, @rpc.action()`);
    expect(result.stderr).toContain('p2pgen: 2 errors; nothing was written');
    expect(existsSync(out)).toBe(false);
  });

  it('exits 2 with usage help on bad usage', () => {
    const result = spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'build'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('Not enough non-option arguments');
  });
});
