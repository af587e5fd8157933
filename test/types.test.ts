/**
 * Types that catch mistakes, checked by the compiler itself: a user project (inside the
 * repository, so 'p2pgen' resolves through the package's exports to dist/, as from
 * node_modules) with generated code, files that must compile, and files whose mistakes must
 * fail with the expected diagnostics (code and message). Also: the generated code compiles
 * under `strict` plus `noPropertyAccessFromIndexSignature`, `noUncheckedIndexedAccess`,
 * `exactOptionalPropertyTypes` and `erasableSyntaxOnly` (a control file shows each flag is on).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from './support/paths.js';

const cli = join(repoRoot, 'bin/p2pgen.js');
const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');

/** The issue's own example: a coordinator and a worker, easy to mix up. */
const team = `import { rpc, type int32 } from 'p2pgen';

@rpc.controller('/coordinator')
export class CoordinatorController {
  @rpc.action()
  assign(task: string, priority: int32): boolean {
    return task.length > priority;
  }

  @rpc.action()
  status(): string[] {
    return [];
  }

  /** Not an action: no peer can call it. */
  helper(): string {
    return 'local';
  }
}

@rpc.controller('/worker')
export class WorkerController {
  @rpc.action()
  doWork(task: string): string {
    return task;
  }
}
`;

/** What must compile, with the types it must give. */
const ok = `import './generated-team/index.js';
import { RpcWebSocketClient, type ContractPaths, type RemoteController } from 'p2pgen';
import { CoordinatorController, WorkerController } from './team/team.js';

const client = new RpcWebSocketClient('ws://127.0.0.1:1');
const peer = client.peer('other');

// Without a type argument: the contract generated code declares at the path.
const coordinator = peer.controller('/coordinator');
export const assigned: Promise<boolean> = coordinator.assign('build', 1);
export const status: Promise<string[]> = coordinator.status();
const worker = peer.controller('/worker', { timeoutMs: 100 });
export const done: Promise<string> = worker.doWork('x');

// With the right type argument: the same, only the actions.
const typed = peer.controller<CoordinatorController>('/coordinator');
export const same: Promise<boolean> = typed.assign('build', 1);
export const view: RemoteController<Pick<CoordinatorController, 'status'>> = peer.controller<Pick<CoordinatorController, 'status'>>('/coordinator');
export const declared: ContractPaths['/worker'] = new WorkerController();

// A contract no generated code declares (a hand-written interface): any path, checked at run time.
interface Handwritten {
  hello(name: string): string;
}
export const hello: Promise<string> = peer.controller<Handwritten>('/handwritten').hello('ann');
const dynamicPath: string = '/handwritten';
export const dynamic = peer.controller<Handwritten>(dynamicPath);

client.registerController('/coordinator', new CoordinatorController());
client.registerController('/worker', { doWork: (task: string) => task.toUpperCase() });
client.registerController('/worker', { doWork: async (task) => task });
client.registerController('/undeclared', { anything: () => 1 });
client.registerController(dynamicPath, new WorkerController());
`;

/** Each mistake on its own line, with the diagnostic it must give. */
const mistakes: { code: string; expect: { code: number; message: RegExp } }[] = [
  {
    code: `peer.controller<WorkerController>('/coordinator');`,
    expect: { code: 2345, message: /^Argument of type '"\/coordinator"' is not assignable to parameter of type '"\/worker"'/ },
  },
  {
    code: `peer.controller<CoordinatorController>('/worker');`,
    expect: { code: 2345, message: /^Argument of type '"\/worker"' is not assignable to parameter of type '"\/coordinator"'/ },
  },
  {
    code: `peer.controller('/nowhere');`,
    expect: { code: 2769, message: /Argument of type '"\/nowhere"' is not assignable to parameter of type 'DeclaredPath \| PathNotDeclaredByGeneratedCode'/ },
  },
  {
    code: `peer.controller('/coordinator').helper();`,
    expect: { code: 2339, message: /^Property 'helper' does not exist on type 'RemoteController<Pick<CoordinatorController, ("assign" \| "status"|"status" \| "assign")>>'/ },
  },
  {
    code: `peer.controller<CoordinatorController>('/coordinator').helper();`,
    expect: { code: 2339, message: /^Property 'helper' does not exist on type 'RemoteController<Pick<CoordinatorController, ("assign" \| "status"|"status" \| "assign")>>'/ },
  },
  {
    code: `peer.controller('/coordinator').assign('build', '1');`,
    expect: { code: 2345, message: /^Argument of type 'string' is not assignable to parameter of type 'int32'/ },
  },
  {
    code: `const wrongResult: Promise<string> = peer.controller('/coordinator').assign('build', 1);`,
    expect: { code: 2322, message: /Type 'Promise<boolean>' is not assignable to type 'Promise<string>'/ },
  },
  {
    code: `client.registerController('/coordinator', new WorkerController());`,
    expect: { code: 2345, message: /^Argument of type 'WorkerController' is not assignable to parameter of type 'Implementation<Pick<CoordinatorController, ("assign" \| "status"|"status" \| "assign")>>'/ },
  },
  {
    code: `client.registerController('/worker', {});`,
    expect: { code: 2345, message: /Property 'doWork' is missing in type '\{\}' but required in type 'Implementation<Pick<WorkerController, "doWork">>'/ },
  },
  {
    code: `client.registerController('/worker', { doWork: (task: number) => task });`,
    expect: { code: 2322, message: /^Type '\(task: number\) => number' is not assignable to type '\(task: string\) => string \| PromiseLike<string>'/ },
  },
  {
    code: `client.registerController('/worker', { doWork: (task: string) => task, doWrok: () => '' });`,
    expect: { code: 2561, message: /^Object literal may only specify known properties, but 'doWrok' does not exist in type 'Implementation<Pick<WorkerController, "doWork">>'. Did you mean to write 'doWork'\?/ },
  },
];

const mistakesFile = `import './generated-team/index.js';
import { RpcWebSocketClient } from 'p2pgen';
import { CoordinatorController, WorkerController } from './team/team.js';

const client = new RpcWebSocketClient('ws://127.0.0.1:1');
const peer = client.peer('other');
${mistakes.map((m) => m.code).join('\n')}
`;
const firstMistakeLine = 7;

/** One violation per flag, so the run shows each flag is on. */
const controls: Record<string, { code: string; expect: number }> = {
  noPropertyAccessFromIndexSignature: { code: `export const indexed = ({} as Record<string, number>).count;`, expect: 4111 },
  noUncheckedIndexedAccess: { code: `export const first: number = [1][0];`, expect: 2322 },
  exactOptionalPropertyTypes: { code: `export const optional: { a?: number } = { a: undefined };`, expect: 2375 },
  erasableSyntaxOnly: { code: `export enum NotErasable { A }`, expect: 1294 },
};
const flags = Object.keys(controls);

interface Diagnostic {
  file: string;
  line: number;
  code: number;
  message: string;
}

/** `tsc --pretty false` output as diagnostics (a message's continuation lines joined to it). */
function parse(output: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split('\n')) {
    const m = /^(.+?)\((\d+),\d+\): error TS(\d+): (.*)$/.exec(line);
    if (m) diagnostics.push({ file: m[1]!, line: Number(m[2]), code: Number(m[3]), message: m[4]! });
    else if (line.trim() !== '' && diagnostics.length > 0) diagnostics.at(-1)!.message += `\n${line.trim()}`;
  }
  return diagnostics;
}

function typeCheck(project: string, compilerOptions: Record<string, unknown>, include: string[]): Diagnostic[] {
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: [], lib: ['es2022', 'dom'], ...compilerOptions }, include }),
  );
  const result = spawnSync(process.execPath, [tsc, '-p', '.', '--pretty', 'false'], { cwd: project, encoding: 'utf8' });
  return parse(result.stdout + result.stderr);
}

describe('types that catch mistakes', () => {
  let diagnostics: Diagnostic[];
  let project: string;

  beforeAll(() => {
    project = tempDir('types');
    mkdirSync(join(project, 'team'));
    writeFileSync(join(project, 'team/team.ts'), team);
    cpSync(join(repoRoot, 'contracts'), join(project, 'contracts'), { recursive: true });
    cpSync(join(repoRoot, 'test/fixtures/all-types'), join(project, 'all-types'), { recursive: true });
    cpSync(join(repoRoot, 'test/fixtures/name-clashes'), join(project, 'name-clashes'), { recursive: true });
    for (const dir of ['team', 'contracts', 'all-types', 'name-clashes']) {
      execFileSync(process.execPath, [cli, 'build', dir, '--out', `generated-${dir}`], { cwd: project });
    }
    writeFileSync(join(project, 'ok.ts'), ok);
    writeFileSync(join(project, 'mistakes.ts'), mistakesFile);
    writeFileSync(join(project, 'controls.ts'), `${Object.values(controls).map((c) => c.code).join('\n')}\n`);
    diagnostics = typeCheck(
      project,
      { module: 'nodenext', moduleResolution: 'nodenext', ...Object.fromEntries(flags.map((flag) => [flag, true])) },
      ['ok.ts', 'mistakes.ts', 'controls.ts', 'generated-team', 'generated-contracts', 'generated-all-types', 'generated-name-clashes'],
    );
  }, 120_000);

  const inFile = (name: string) => diagnostics.filter((d) => d.file === name);

  it('correct uses compile, typed by the contract at the path', () => {
    expect(inFile('ok.ts')).toEqual([]);
  });

  for (const [i, mistake] of mistakes.entries()) {
    it(`refuses: ${mistake.code}`, () => {
      const found = inFile('mistakes.ts').filter((d) => d.line === firstMistakeLine + i);
      expect(found).toEqual([{ file: 'mistakes.ts', line: firstMistakeLine + i, code: mistake.expect.code, message: expect.stringMatching(mistake.expect.message) }]);
    });
  }

  it('gives no diagnostic but those', () => {
    expect(inFile('mistakes.ts').map((d) => d.line)).toEqual(mistakes.map((_, i) => firstMistakeLine + i));
  });

  it('generated code compiles under strict and every flag', () => {
    expect(diagnostics.filter((d) => d.file.startsWith('generated-'))).toEqual([]);
  });

  for (const [flag, control] of Object.entries(controls)) {
    it(`${flag} is on in that run (its control file fails with TS${control.expect})`, () => {
      const line = Object.keys(controls).indexOf(flag) + 1;
      expect(inFile('controls.ts').filter((d) => d.line === line).map((d) => d.code)).toEqual([control.expect]);
    });
  }

  it('contracts may use what erasableSyntaxOnly refuses (enums, parameter properties): only they are reported', () => {
    const others = diagnostics.filter((d) => !['ok.ts', 'mistakes.ts', 'controls.ts'].includes(d.file) && !d.file.startsWith('generated-'));
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter((d) => d.code !== 1294)).toEqual([]);
  });

  it("an editor completes controller(' with the declared paths, nothing else", () => {
    const file = join(project, 'complete.ts');
    const text = `import './generated-team/index.js';\nimport { RpcWebSocketClient } from 'p2pgen';\nnew RpcWebSocketClient('ws://127.0.0.1:1').peer('x').controller('');\n`;
    writeFileSync(file, text);
    const config = ts.getParsedCommandLineOfConfigFile(join(project, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
    const service = ts.createLanguageService({
      getScriptFileNames: () => [file, ...config.fileNames],
      getScriptVersion: () => '1',
      getScriptSnapshot: (f) => (ts.sys.fileExists(f) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(f)!) : undefined),
      getCurrentDirectory: () => project,
      getCompilationSettings: () => config.options,
      getDefaultLibFileName: ts.getDefaultLibFilePath,
      fileExists: ts.sys.fileExists,
      readFile: ts.sys.readFile,
      readDirectory: ts.sys.readDirectory,
    });
    const completions = service.getCompletionsAtPosition(file, text.indexOf("controller('") + "controller('".length, {});
    expect(completions?.entries.map((e) => e.name).sort()).toEqual(['/all-types', '/chat', '/clashes', '/collaboration', '/coordinator', '/discovery', '/file-sharing', '/worker']);
  }, 60_000);

  it('without generated code, a contract type argument types any path', () => {
    const project = tempDir('types-bare');
    writeFileSync(join(project, 'team.ts'), team);
    writeFileSync(
      join(project, 'bare.ts'),
      `import { RpcWebSocketClient } from 'p2pgen';
import type { CoordinatorController } from './team.js';

const client = new RpcWebSocketClient('ws://127.0.0.1:1');
export const assigned: Promise<boolean> = client.peer('other').controller<CoordinatorController>('/coordinator').assign('build', 1);
client.registerController('/coordinator', { anything: true });
client.peer('other').controller('/coordinator');
`,
    );
    expect(typeCheck(project, { module: 'nodenext', moduleResolution: 'nodenext' }, ['bare.ts'])).toEqual([
      { file: 'bare.ts', line: 7, code: 2769, message: expect.stringContaining(`is not assignable to parameter of type 'PathNotDeclaredByGeneratedCode'`) },
    ]);
  }, 60_000);
});
