/**
 * Contract files are code every peer runs, in a browser bundle too: the generated index.ts
 * imports them. With `{ "build": { "browser": true } }` in p2pgen.config.json, `p2pgen build`
 * refuses a contract that imports a Node module (directly or through a file of the project),
 * with file:line; without it such contracts build (for Node peers) and a bundler for browsers
 * fails on them, which the test shows with esbuild.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from './support/paths.js';

const cli = join(repoRoot, 'cli/bin/p2pgen.js');

/** A contract with an entity: the generated code imports the class, so its file is in every bundle of it. */
const notes = (imports: string) => `import { rpc } from 'p2pgen';
${imports}

export class Note {
  constructor(
    public text: string,
    public digest: string,
  ) {}
}

@rpc.controller('/notes')
export class Notes {
  @rpc.action()
  add(text: string): Note {
    return new Note(text, digest(text));
  }
}
`;

function project(files: Record<string, string>, browser?: boolean): string {
  const dir = tempDir('browser-contracts');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  if (browser !== undefined) writeFileSync(join(dir, 'contracts/p2pgen.config.json'), JSON.stringify({ build: { browser } }));
  return dir;
}

function p2pgenBuild(dir: string) {
  return spawnSync(process.execPath, [cli, 'build', 'contracts', '--out', 'generated'], { cwd: dir, encoding: 'utf8' });
}

const hashing = `import { createHash } from 'node:crypto';\nconst digest = (text: string) => createHash('sha256').update(text).digest('hex');`;

describe('contracts marked for browsers', () => {
  it('without the mark, a contract that imports node:crypto builds (Node peers run it), and a browser bundle of the generated code fails', async () => {
    const dir = project({ 'contracts/notes.ts': notes(hashing) });
    expect(p2pgenBuild(dir).status).toBe(0);
    const bundled = await build({ entryPoints: [join(dir, 'generated/index.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' }).then(
      () => 'bundled',
      (error: Error) => error.message,
    );
    expect(bundled).toContain('node:crypto');
  });

  it('with build.browser, the import is a build error with file:line and the fix; nothing is written', () => {
    const dir = project({ 'contracts/notes.ts': notes(hashing) }, true);
    const result = p2pgenBuild(dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "contracts/notes.ts:2:1 - error P2P1021: 'node:crypto' is a Node module, and these contracts are marked for browsers (build.browser in p2pgen.config.json): " +
        'contract files are part of every peer, in a browser bundle too (the generated index.ts imports their entity classes, a peer the controller it serves). ' +
        "Keep Node-only code out of contract files (give a controller what it needs through its constructor, from your peer's own code)",
    );
    expect(result.stderr).toContain("2 | import { createHash } from 'node:crypto';");
    expect(existsSync(join(dir, 'generated'))).toBe(false);
  });

  it('through a file of the project a contract imports (named where it is, with the way there), and import() too', () => {
    const dir = project(
      {
        'contracts/notes.ts': notes(`import { digest } from '../shared/digest.js';`),
        'shared/digest.ts': `import { readFileSync } from 'fs';\nexport const digest = (text: string) => text + String(readFileSync.length);\nexport const later = () => import('node:path');\n`,
      },
      true,
    );
    const result = p2pgenBuild(dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("shared/digest.ts:1:1 - error P2P1021: 'fs' is a Node module, and these contracts are marked for browsers (build.browser in p2pgen.config.json) (imported through contracts/notes.ts -> shared/digest.ts)");
    expect(result.stderr).toContain("shared/digest.ts:3:28 - error P2P1021: 'node:path' is a Node module");
  });

  it('with build.browser, type-only imports (erased) and packages build; build.browser must be a boolean', () => {
    const dir = project(
      { 'contracts/notes.ts': notes(`import type { Hash } from 'node:crypto';\nimport { type BinaryLike } from 'node:crypto';\nimport { map } from 'rxjs';\nconst digest = (text: string): string => text + String(map.length) + String(((x?: Hash | BinaryLike) => x)());`) },
      true,
    );
    const result = p2pgenBuild(dir);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    writeFileSync(join(dir, 'contracts/p2pgen.config.json'), JSON.stringify({ build: { browser: 'yes' } }));
    expect(p2pgenBuild(dir)).toMatchObject({ status: 2, stderr: expect.stringContaining('build.browser must be true or false') });
  });
});
