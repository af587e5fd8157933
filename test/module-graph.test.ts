/**
 * How runtime/ is put together: no module depends on itself through value imports (type-only
 * imports vanish at compile time and may go both ways), and runtime/ never imports cli/.
 * Reads the import statements of the sources as text: every runtime file is plain ESM.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

const runtimeDir = join(repoRoot, 'runtime');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The relative modules a file imports for their values (not `import type`, not all-`type` specifier lists). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const statements = text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)';/gms);
  const targets: string[] = [];
  for (const [, , typeOnly, clause, specifier] of statements) {
    if (typeOnly || !specifier!.startsWith('.')) continue;
    const names = /\{([^}]*)\}/.exec(clause!)?.[1];
    const defaultOrNamespace = clause!.replace(/\{[^}]*\}/, '').replace(/,/g, '').trim();
    const allTypes = names !== undefined && defaultOrNamespace === '' && names.split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '));
    if (allTypes) continue;
    targets.push(resolve(dirname(file), specifier!.replace(/\.js$/, '.ts')));
  }
  // Side-effect imports (`import './x.js';`) are value imports too.
  for (const [, specifier] of text.matchAll(/^import\s+'([^']+)';/gm)) if (specifier!.startsWith('.')) targets.push(resolve(dirname(file), specifier!.replace(/\.js$/, '.ts')));
  return targets;
}

describe('module graph of runtime/', () => {
  const files = sourceFiles(runtimeDir);
  const graph = new Map(files.map((f) => [f, valueImports(f)]));

  it('has no value-level import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'visiting');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'visiting') cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative(repoRoot, f)).join(' -> '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it('reads every import it should (the graph is not empty by a broken pattern)', () => {
    const broker = graph.get(join(runtimeDir, 'broker/broker.ts'))!.map((f) => relative(runtimeDir, f));
    expect(broker).toEqual(expect.arrayContaining(['broker/router.ts', 'broker/access.ts', 'broker/local-directory.ts']));
  });

  it('never imports cli/', () => {
    const offenders = files.filter((f) => /from '(\.\.\/)+cli\//.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(repoRoot, f))).toEqual([]);
  });
});
