/**
 * `p2pgen check` from the command line: drift of generated files and the lock, breaking
 * changes against a git ref (a temporary repository with two commits), against another peer's
 * manifest and against a lock, the output formats, rule selection, and exit codes 0/1/2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from './support/paths.js';

const cli = join(repoRoot, 'cli/bin/p2pgen.js');

function p2pgen(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
}

const v1 = `import { entity, rpc } from 'p2pgen';

@entity.name('note')
export class Note {
  constructor(
    public title: string,
    public body: string,
  ) {}
}

@rpc.controller('/notes')
export class Notes {
  @rpc.action()
  add(note: Note): void {}

  @rpc.action()
  list(): Note[] {
    return [];
  }
}
`;
const compatible = v1.replace('    public body: string,\n', '    public body: string,\n    public tags?: string[],\n');
const breaking = v1.replace('  add(note: Note): void {}', '  add(note: Note, folder: string): void {}');
const renamed = v1.replace("@entity.name('note')\nexport class Note {", "@entity.name('memo')\nexport class Memo {").replace(/\bNote\b/g, 'Memo');

/** An entity several actions reach (in a request, a list response, an optional response). */
const counted = `import { entity, rpc, type int32 } from 'p2pgen';

@entity.name('note')
export class Note {
  constructor(
    public title: string,
    public count: int32,
    public tags: string[],
    public state: 'open' | 'closed',
  ) {}
}

@rpc.controller('/notes')
export class Notes {
  @rpc.action()
  add(note: Note): void {}

  @rpc.action()
  list(): Note[] {
    return [];
  }

  @rpc.action()
  get(id: int32): Note | undefined {
    return undefined;
  }
}
`;

/** A project folder inside the repository (so 'p2pgen' and 'rxjs' resolve) with its own git repository. */
function project(source: string): string {
  const dir = tempDir('check-project');
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  execFileSync('git', ['config', 'user.email', 'test@example.invalid'], { cwd: dir });
  execFileSync('git', ['config', 'user.name', 'test'], { cwd: dir });
  writeFileSync(join(dir, 'notes.ts'), source);
  return dir;
}

function commit(dir: string, message: string): void {
  execFileSync('git', ['add', '-A'], { cwd: dir });
  execFileSync('git', ['commit', '-q', '-m', message], { cwd: dir });
}

describe('p2pgen check: drift', () => {
  it('fails naming a hand-edited generated file (with a diff), passes after a rebuild', () => {
    const dir = project(v1);
    expect(p2pgen(dir, 'build', '.', '--out', 'generated').status).toBe(0);
    expect(p2pgen(dir, 'check', '.', '--out', 'generated')).toMatchObject({ status: 0, stdout: expect.stringContaining('no drift') });

    appendFileSync(join(dir, 'generated/index.ts'), '\nexport const handEdited = true;\n');
    const drifted = p2pgen(dir, 'check', '.', '--out', 'generated');
    expect(drifted.status).toBe(1);
    expect(drifted.stdout).toContain('drift: generated/index.ts differs from what p2pgen build writes');
    expect(drifted.stdout).toContain('-export const handEdited = true;');

    expect(p2pgen(dir, 'build', '.', '--out', 'generated').status).toBe(0);
    expect(p2pgen(dir, 'check', '.', '--out', 'generated').status).toBe(0);
  });

  it('a contract changed without a rebuild: the generated files and the lock are stale', () => {
    const dir = project(v1);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    writeFileSync(join(dir, 'notes.ts'), compatible);
    const result = p2pgen(dir, 'check', '.', '--out', 'generated');
    expect(result.status).toBe(1);
    for (const file of ['generated/index.ts', 'generated/contracts.proto', 'generated/manifest.json', 'p2pgen.lock.json']) {
      expect(result.stdout).toContain(`drift: ${file}`);
    }
  });

  it('without the output folder only the lock is checked', () => {
    const dir = project(v1);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    const result = p2pgen(dir, 'check', '.', '--out', 'elsewhere');
    expect(result).toMatchObject({ status: 0, stdout: expect.stringContaining('elsewhere does not exist; only the lock was checked') });
  });
});

describe('p2pgen check --against', () => {
  it('a git ref: the files the contracts import from outside their folder are read as they were then', () => {
    const dir = project(v1);
    const money = (currency: string) => `import { entity } from 'p2pgen';

@entity.name('money')
export class Money {
  constructor(
    public amount: number,
    public currency: ${currency},
  ) {}
}
`;
    for (const folder of ['contracts', 'shared']) mkdirSync(join(dir, folder));
    writeFileSync(join(dir, 'shared', 'money.ts'), money('string'));
    writeFileSync(
      join(dir, 'contracts', 'notes.ts'),
      `import { Money } from '../shared/money.js';\n${v1.replace('public body: string,', 'public body: string,\n    public price: Money,')}`,
    );
    rmSync(join(dir, 'notes.ts'));
    expect(p2pgen(dir, 'build', 'contracts', '--out', 'generated').status).toBe(0);
    commit(dir, 'notes with a price');
    expect(p2pgen(dir, 'check', 'contracts', '--against', 'HEAD')).toMatchObject({ status: 0, stdout: expect.stringContaining('compatible with HEAD') });

    writeFileSync(join(dir, 'shared', 'money.ts'), money('number'));
    const result = p2pgen(dir, 'check', 'contracts', '--against', 'HEAD');
    expect(result.status).toBe(1);
    // Pointed at where the field is declared, outside the contracts folder.
    expect(result.stdout).toMatch(
      /^shared\/money\.ts:7 - breaking \(wire\) field-type-changed: Money\.currency: string is read as double \(in \/notes add, \/notes list: callers of either version get CONTRACT_MISMATCH; 4 findings\)$/m,
    );
    // The drift of the generated code is in hunks around each change, removed lines first, not one hunk from the first change to the last.
    expect(result.stdout).toMatch(/^ {2}-  w\.uint32\(18\)\.string\(m\.currency\);\n {2}\+  w\.uint32\(17\)\.double\(m\.currency\);$/m);
  });

  it('a git ref: compatible with the previous commit, and a breaking change in the working tree fails', () => {
    const dir = project(v1);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    commit(dir, 'version 1');
    writeFileSync(join(dir, 'notes.ts'), compatible);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    commit(dir, 'version 2: optional tags');

    expect(p2pgen(dir, 'check', '.', '--against', 'HEAD~1')).toMatchObject({ status: 0, stdout: expect.stringContaining('compatible with HEAD~1') });
    expect(p2pgen(dir, 'check', '.', '--against', 'main')).toMatchObject({ status: 0 });

    writeFileSync(join(dir, 'notes.ts'), breaking);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    const result = p2pgen(dir, 'check', '.', '--against', 'HEAD~1');
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/notes\.ts:\d+ - breaking \(wire\) parameter-added-required: \/notes add: request\.folder\(2\)/);
    expect(result.stdout).toContain('1 breaking change against HEAD~1');
  });

  it("another peer's manifest, and a lock", () => {
    const dir = project(v1);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    const peer = tempDir('other-peer');
    cpSync(join(dir, 'generated/manifest.json'), join(peer, 'manifest.json'));
    cpSync(join(dir, 'p2pgen.lock.json'), join(peer, 'p2pgen.lock.json'));
    writeFileSync(join(dir, 'notes.ts'), breaking);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    const against = p2pgen(dir, 'check', '.', '--against', join(peer, 'manifest.json'));
    expect(against.status).toBe(1);
    // Another peer's manifest is not this project's to move on: no hint to overwrite it.
    expect(against.stdout).not.toContain('make the current ones the baseline');
    // A lock knows only numbers: adding a parameter reuses none.
    expect(p2pgen(dir, 'check', '.', '--against', join(peer, 'p2pgen.lock.json')).status).toBe(0);
  });

  it('--format github prints annotations with file and line; --format json is machine-readable', () => {
    const dir = project(v1);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    commit(dir, 'version 1');
    writeFileSync(join(dir, 'notes.ts'), breaking);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    const github = p2pgen(dir, 'check', '.', '--against', 'HEAD', '--format', 'github');
    expect(github.status).toBe(1);
    expect(github.stdout).toMatch(/^::error file=notes\.ts,line=\d+,title=parameter-added-required::\/notes add: request\.folder\(2\): /m);
    const json = p2pgen(dir, 'check', '.', '--against', 'HEAD', '--format', 'json');
    const report = JSON.parse(json.stdout) as { ok: boolean; breaking: { rule: string; file: string; line: number }[] };
    expect(report.ok).toBe(false);
    expect(report.breaking).toEqual([expect.objectContaining({ rule: 'parameter-added-required', category: 'wire', file: 'notes.ts', line: expect.any(Number) })]);
  });

  it('--format github: one annotation per change, on the changed field\'s line, however many actions and rules it trips', () => {
    const dir = project(counted);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    commit(dir, 'version 1');
    writeFileSync(join(dir, 'notes.ts'), counted.replace('public count: int32', 'public count: bigint'));
    p2pgen(dir, 'build', '.', '--out', 'generated');
    const github = p2pgen(dir, 'check', '.', '--against', 'HEAD', '--format', 'github', '--rules', 'all');
    expect(github.status).toBe(1);
    const annotations = github.stdout.trimEnd().split('\n');
    // Note.count is reached by add (request), list and get (responses): three wire findings and a source one, one change.
    expect(annotations).toHaveLength(1);
    const countLine = counted.split('\n').findIndex((l) => l.includes('public count: int32')) + 1;
    expect(annotations[0]).toMatch(new RegExp(`^::error file=notes\\.ts,line=${countLine},title=field-type-changed%2C ts-type-changed::Note\\.count \\(4 findings\\):%0A`));
    for (const action of ['add', 'list', 'get']) expect(annotations[0]).toContain(`field-type-changed: /notes ${action}: `);
    expect(annotations[0]).toContain('ts-type-changed: Note.count: int32 became bigint');
    // The text report prints the change once, on the same line, with where it bites and what peers see.
    const text = p2pgen(dir, 'check', '.', '--against', 'HEAD', '--rules', 'all');
    expect(text.stdout).toContain('1 breaking change against HEAD (4 findings)');
    expect(text.stdout.split('\n').filter((l) => l.includes('breaking ('))).toEqual([
      `notes.ts:${countLine} - breaking (wire, source) field-type-changed, ts-type-changed: Note.count: int32 became bigint ` +
        '(in /notes add, /notes list, /notes get: callers of either version get CONTRACT_MISMATCH; 4 findings)',
    ]);
    // JSON keeps every finding, each with the subject that groups them and the field's place.
    const json = JSON.parse(p2pgen(dir, 'check', '.', '--against', 'HEAD', '--format', 'json', '--rules', 'all').stdout) as { breaking: { subject: string; line: number }[] };
    expect(json.breaking.map((f) => [f.subject, f.line])).toEqual(Array(4).fill(['Note.count', countLine]));
  });

  it('--rules source prints types as they are written in the contract', () => {
    const dir = project(counted);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    commit(dir, 'version 1');
    const v2 = counted
      .replace('public count: int32', 'public count: bigint')
      .replace('public tags: string[]', "public tags: Map<string, Date | null>")
      .replace("public state: 'open' | 'closed'", "public state?: 'open' | 'closed' | 'archived'")
      .replace('get(id: int32)', 'get(id: string)');
    writeFileSync(join(dir, 'notes.ts'), v2);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    const result = p2pgen(dir, 'check', '.', '--against', 'HEAD', '--rules', 'source');
    expect(result.status).toBe(1);
    const lines = result.stdout.split('\n').filter((l) => l.includes('breaking ('));
    expect(lines.map((l) => l.replace(/^notes\.ts:\d+ - /, ''))).toEqual([
      'breaking (source) ts-type-changed: Note.count: int32 became bigint',
      'breaking (source) ts-type-changed: Note.tags: string[] became Map<string, Date | null>',
      "breaking (source) ts-type-changed: Note.state: state: 'open' | 'closed' became state?: 'open' | 'closed' | 'archived'",
      'breaking (source) ts-type-changed: Notes.get(id): int32 became string',
    ]);
    expect(result.stdout).not.toContain('"kind"');
  });

  it('rules: wire by default, source rules with --rules or p2pgen.config.json', () => {
    const dir = project(v1);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    commit(dir, 'version 1');
    writeFileSync(join(dir, 'notes.ts'), renamed);
    // Same structure, same numbers (the lock follows the new name): wire-compatible.
    const lock = JSON.parse(readFileSync(join(dir, 'p2pgen.lock.json'), 'utf8'));
    lock.messages.Memo = lock.messages.Note;
    writeFileSync(join(dir, 'p2pgen.lock.json'), JSON.stringify(lock));
    p2pgen(dir, 'build', '.', '--out', 'generated');
    expect(p2pgen(dir, 'check', '.', '--against', 'HEAD').status).toBe(0);
    const all = p2pgen(dir, 'check', '.', '--against', 'HEAD', '--rules', 'all');
    expect(all.status).toBe(1);
    expect(all.stdout).toContain('breaking (source) entity-removed: Note');
    expect(p2pgen(dir, 'check', '.', '--against', 'HEAD', '--rules', 'all,-entity-removed,-ts-type-changed').status).toBe(0);
    writeFileSync(join(dir, 'p2pgen.config.json'), JSON.stringify({ check: { rules: ['wire', 'source'] } }));
    expect(p2pgen(dir, 'check', '.', '--against', 'HEAD').status).toBe(1);
  });

  it('bad usage exits 2: an unknown ref, an unknown rule, an unknown format', () => {
    const dir = project(v1);
    p2pgen(dir, 'build', '.', '--out', 'generated');
    commit(dir, 'version 1');
    expect(p2pgen(dir, 'check', '.', '--against', 'no-such-ref')).toMatchObject({ status: 2, stderr: expect.stringContaining('no such file or git ref') });
    expect(p2pgen(dir, 'check', '.', '--against', 'HEAD', '--rules', 'nope')).toMatchObject({ status: 2, stderr: expect.stringContaining("unknown rule or category 'nope'") });
    expect(p2pgen(dir, 'check', '.', '--format', 'xml').status).toBe(2);
    expect(p2pgen(dir, 'check', '.', '--against', 'missing.json')).toMatchObject({ status: 2, stderr: expect.stringContaining('no such file') });
  });
});

describe('generated files without the p2pgen version', () => {
  it('--no-header-version or build.headerVersion in p2pgen.config.json leaves it out; check reads the same setting', () => {
    const dir = project(v1);
    expect(p2pgen(dir, 'build', '.', '--out', 'generated', '--no-header-version').status).toBe(0);
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    for (const file of ['index.ts', 'contracts.proto', 'manifest.json']) {
      const text = readFileSync(join(dir, 'generated', file), 'utf8');
      expect(text, file).not.toContain(version);
    }
    expect(readFileSync(join(dir, 'generated/index.ts'), 'utf8').split('\n')[0]).toMatch(/^\/\/ @generated by p2pgen from \S*notes\.ts\. DO NOT EDIT\.$/);

    // check regenerates with the same setting: the flag, or the config file.
    expect(p2pgen(dir, 'check', '.', '--out', 'generated').status).toBe(1);
    expect(p2pgen(dir, 'check', '.', '--out', 'generated', '--no-header-version').status).toBe(0);
    writeFileSync(join(dir, 'p2pgen.config.json'), JSON.stringify({ build: { headerVersion: false } }));
    expect(p2pgen(dir, 'check', '.', '--out', 'generated').status).toBe(0);
    expect(p2pgen(dir, 'build', '.', '--out', 'generated').stdout).toContain('unchanged');
    // The flag wins over the file.
    expect(p2pgen(dir, 'build', '.', '--out', 'generated', '--header-version').stdout).toContain('3 files written');

    writeFileSync(join(dir, 'p2pgen.config.json'), JSON.stringify({ build: { headerVersion: 'no' } }));
    for (const command of ['build', 'check']) {
      const result = p2pgen(dir, command, '.', '--out', 'generated');
      expect(result.status, command).toBe(2);
      expect(result.stderr, command).toContain('build.headerVersion must be true or false');
    }
  });
});
