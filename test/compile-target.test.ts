/**
 * `p2pgen build` warns when the project's tsconfig.json targets esnext: tsc then leaves the
 * contracts' decorators in its output and Node dies at the first one, long after the build said
 * all was well. The test compiles the project with tsc and runs it with node, as the user would,
 * to show that the warning is about a real failure and that its fix works.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from './support/paths.js';

const contract = `import { rpc } from 'p2pgen';

@rpc.controller('/clock')
export class Clock {
  @rpc.action()
  now(): Date {
    return new Date();
  }
}

console.log('contracts loaded');
`;

function project(compilerOptions: Record<string, unknown>): string {
  const dir = tempDir('target');
  mkdirSync(join(dir, 'contracts'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  writeFileSync(join(dir, 'contracts/clock.ts'), contract);
  const tsconfig = { compilerOptions: { ...compilerOptions, module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: true, outDir: 'dist', rootDir: '.', types: [] }, include: ['contracts'] };
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  return dir;
}

function build(dir: string) {
  return spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'build', 'contracts', '--out', 'generated'], { cwd: dir, encoding: 'utf8' });
}

/** tsc as the project's build runs it, then node on the compiled contract. */
function compileAndRun(dir: string) {
  const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
  expect(tsc.status, tsc.stdout).toBe(0);
  return spawnSync(process.execPath, [join(dir, 'dist/contracts/clock.js')], { cwd: dir, encoding: 'utf8' });
}

describe('p2pgen build and the compile target', () => {
  it('warns about "target": "esnext", pointing at the setting, with the fix; the output indeed dies in Node', () => {
    const dir = project({ target: 'esnext' });
    const result = build(dir);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(
      'p2pgen: tsconfig.json:3:5 - warning: "target": "esnext" leaves the contracts\' decorators in tsc\'s output, and Node cannot run them yet: ' +
        'the first one stops it with "SyntaxError: Invalid or unexpected token". Set "target": "ES2022" in tsconfig.json (as p2pgen init does)',
    );
    const ran = compileAndRun(dir);
    expect(ran.status).not.toBe(0);
    expect(ran.stderr).toContain('SyntaxError: Invalid or unexpected token');
  });

  it('says nothing for ES2022 (and the output runs), nor for experimentalDecorators, which tsc lowers at any target', () => {
    const es2022 = project({ target: 'ES2022' });
    const built = build(es2022);
    expect(built.status).toBe(0);
    expect(built.stderr).toBe('');
    const ran = compileAndRun(es2022);
    expect(ran.stderr).toBe('');
    expect(ran.stdout).toBe('contracts loaded\n');

    const legacy = project({ target: 'esnext', experimentalDecorators: true });
    expect(build(legacy).stderr).toBe('');
  });
});
