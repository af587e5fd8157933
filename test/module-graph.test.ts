/**
 * How runtime/ and cli/ are put together, read from the sources' imports (parsed by the
 * TypeScript parser: `import`, `export … from`, `import()`, `import('…').T`):
 *
 * - No module depends on itself, type imports included (`import type`, `import { type X }`,
 *   `export type … from`): a type-only circle still ties two files into one unit, to read and to
 *   change together.
 * - runtime/ never imports cli/; only p2pgen/otel (runtime/otel/) imports @opentelemetry/api,
 *   and no other module imports it, so the optional peer dependency loads only when used.
 * - cli/ is layered the way data flows through it, reader → model → emit | check → commands:
 *   the model (plain data, model/) imports none of the other stages; the reader (reader/, the
 *   only ts-morph user), the emitters (emit/) and the checker (check/) import the model and
 *   never each other (nothing downstream reaches back into ts-morph; emit and check are
 *   independent); the generator core (generate.ts) wires reader, model and emitters; the
 *   commands (commands/, config.ts, main.ts) may use all of it, and nothing imports them.
 *   diagnostics.ts, naming.ts and version.ts are shared by every stage and import none.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

const runtimeDir = join(repoRoot, 'runtime');
const cliDir = join(repoRoot, 'cli');

/** One import of a module by another: `type` when it brings in types only. */
interface Edge {
  to: string;
  type: boolean;
}
type Graph = Map<string, Edge[]>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      // Build output, dependencies, and cli/templates (a copy of templates/ made when packing, for `p2pgen init`).
      if (entry.isDirectory()) return ['dist', 'node_modules', 'templates'].includes(entry.name) ? [] : sourceFiles(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
    })
    .sort();
}

/** Every relative module `file` imports, whether for values or for types only. */
function importsOf(file: string, text = readFileSync(file, 'utf8')): Edge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: { specifier: string; type: boolean }[] = [];
  const add = (specifier: ts.Node | undefined, type: boolean) => {
    if (specifier && ts.isStringLiteralLike(specifier)) found.push({ specifier: specifier.text, type });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings : undefined;
      // `import type …`, or `import { type A, type B }` with no default import: types only. `import './x.js'` loads x.
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause : undefined;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const edges = new Map<string, boolean>();
  for (const { specifier, type } of found) {
    if (!specifier.startsWith('.')) continue;
    const to = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
    edges.set(to, (edges.get(to) ?? true) && type);
  }
  return [...edges].map(([to, type]) => ({ to, type })).sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
}

function graphOf(files: string[]): Graph {
  return new Map(files.map((f) => [f, importsOf(f)]));
}

const name = (file: string) => relative(repoRoot, file);

/**
 * Every circle of imports, one line each: `a.ts -> b.ts -> (type) a.ts`, `(type)` marking an
 * import of types only. One circle per import that closes one in a depth-first walk, so each
 * import that must go shows up.
 */
function cycles(graph: Graph): string[] {
  const found: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: { file: string; via?: Edge }[] = [];
  const visit = (file: string, via?: Edge) => {
    state.set(file, 'visiting');
    stack.push({ file, via });
    for (const edge of graph.get(file) ?? []) {
      if (state.get(edge.to) === 'visiting') {
        const circle = [...stack.slice(stack.findIndex((s) => s.file === edge.to)), { file: edge.to, via: edge }];
        found.push(circle.map((s, i) => (i === 0 ? name(s.file) : `${s.via!.type ? '(type) ' : ''}${name(s.file)}`)).join(' -> '));
      } else if (!state.has(edge.to)) visit(edge.to, edge);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

/** cli/'s layers and what each may import besides itself (see the top of this file). */
const cliLayers = {
  shared: { paths: ['diagnostics.ts', 'naming.ts', 'version.ts'], mayImport: [] },
  model: { paths: ['model/'], mayImport: ['shared'] },
  reader: { paths: ['reader/'], mayImport: ['shared', 'model'] },
  emit: { paths: ['emit/'], mayImport: ['shared', 'model'] },
  check: { paths: ['check/'], mayImport: ['shared', 'model'] },
  generator: { paths: ['generate.ts'], mayImport: ['shared', 'model', 'reader', 'emit'] },
  commands: { paths: ['commands/', 'config.ts', 'main.ts'], mayImport: ['shared', 'model', 'reader', 'emit', 'check', 'generator'] },
} satisfies Record<string, { paths: string[]; mayImport: string[] }>;
type CliLayer = keyof typeof cliLayers;

function layerOf(file: string): CliLayer | undefined {
  const path = relative(cliDir, file).split('\\').join('/');
  const layers = Object.keys(cliLayers) as CliLayer[];
  return layers.find((layer) => cliLayers[layer].paths.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p)));
}

/** Imports that go against cli/'s layers, one line each; files in no layer are reported too. */
function layerViolations(graph: Graph): string[] {
  const found: string[] = [];
  for (const [file, edges] of graph) {
    const from = layerOf(file);
    if (!from) {
      found.push(`${name(file)} is in no layer of cli/ (add it to cliLayers)`);
      continue;
    }
    for (const edge of edges) {
      const to = layerOf(edge.to);
      const allowed: readonly string[] = cliLayers[from].mayImport;
      if (to && to !== from && !allowed.includes(to)) found.push(`${name(file)} -> ${edge.type ? '(type) ' : ''}${name(edge.to)}: ${from} may not import ${to}`);
    }
  }
  return found;
}

describe('reading imports', () => {
  it('counts every kind, and tells imports of types only from the rest', () => {
    const text = [
      "import a from './a.js';",
      "import type { B } from './b.js';",
      "import { type C } from './c.js';",
      "import { type D, d } from './d.js';",
      "export type { E } from './e.js';",
      "export { f } from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "type I = import('./i.js').I;",
      "import type { J } from './j.js';",
      "import { j } from './j.js';",
      "import { k } from 'package';",
    ].join('\n');
    const edges = importsOf(join(cliDir, 'x.ts'), text).map((e) => `${relative(cliDir, e.to)}${e.type ? ' (type)' : ''}`);
    expect(edges).toEqual(['a.ts', 'b.ts (type)', 'c.ts (type)', 'd.ts', 'e.ts (type)', 'f.ts', 'g.ts', 'h.ts', 'i.ts (type)', 'j.ts']);
  });
});

describe('module graph of runtime/', () => {
  const graph = graphOf(sourceFiles(runtimeDir));

  it('has no import cycles, type imports included', () => {
    const found = cycles(graph);
    expect(found, `import cycles in runtime/, one per line:\n${found.join('\n')}`).toEqual([]);
  });

  it('reads every import it should (the graph is not empty by a broken pattern)', () => {
    const broker = graph.get(join(runtimeDir, 'broker/broker.ts'))!.map((e) => relative(runtimeDir, e.to));
    expect(broker).toEqual(expect.arrayContaining(['broker/router.ts', 'broker/access.ts', 'broker/local-directory.ts']));
  });

  it('never imports cli/', () => {
    const offenders = [...graph.keys()].filter((f) => /from '(\.\.\/)+cli\//.test(readFileSync(f, 'utf8')) || graph.get(f)!.some((e) => e.to.startsWith(cliDir)));
    expect(offenders.map(name)).toEqual([]);
  });

  it('loads @opentelemetry/api only in p2pgen/otel (an optional peer dependency), which nothing else imports', () => {
    const otelDir = join(runtimeDir, 'otel');
    const inOtel = (f: string) => f.startsWith(otelDir + '/');
    const importsOtelApi = (f: string) => /(from|import)\s*\(?\s*'@opentelemetry\//.test(readFileSync(f, 'utf8'));
    expect([...graph.keys()].filter((f) => !inOtel(f) && importsOtelApi(f)).map(name)).toEqual([]);
    expect([...graph.keys()].filter((f) => !inOtel(f) && graph.get(f)!.some((e) => inOtel(e.to))).map(name)).toEqual([]);
    expect(importsOtelApi(join(otelDir, 'index.ts'))).toBe(true);
  });
});

describe('module graph of cli/', () => {
  const graph = graphOf(sourceFiles(cliDir));

  it('has no import cycles, type imports included', () => {
    const found = cycles(graph);
    expect(found, `import cycles in cli/, one per line:\n${found.join('\n')}`).toEqual([]);
  });

  it('is layered: reader → model → emit | check → commands', () => {
    const found = layerViolations(graph);
    expect(found, `imports against cli/'s layers, one per line:\n${found.join('\n')}`).toEqual([]);
  });

  it('reads every import it should: values, types only, re-exports and import()', () => {
    const edges = (file: string) => graph.get(join(cliDir, file))!.map((e) => `${relative(cliDir, e.to)}${e.type ? ' (type)' : ''}`);
    expect(edges('generate.ts')).toEqual(expect.arrayContaining(['reader/contract-reader.ts', 'model/lock-file.ts', 'emit/ts-emitter.ts', 'model/contract-model.ts (type)']));
    // `export type { TsEmitOptions } from './ts-context.js'` beside a value import of the same module is a value edge.
    expect(edges('emit/ts-emitter.ts')).toEqual(expect.arrayContaining(['emit/ts-context.ts', 'model/contract-model.ts (type)']));
    expect(edges('reader/handlers/array-handler.ts')).toEqual(expect.arrayContaining(['reader/type-mapper.ts (type)', 'reader/map-context.ts (type)']));
    // The broker command is loaded with import() (so that build and check never load it): a value edge.
    expect(edges('main.ts')).toEqual(expect.arrayContaining(['commands/broker.ts', 'commands/build.ts']));
  });

  it('fails when a type import closes a circle, or the model imports an emitter', () => {
    const at = (path: string) => join(cliDir, path);
    const broken: Graph = new Map(graph);
    broken.set(at('model/contract-model.ts'), [...graph.get(at('model/contract-model.ts'))!, { to: at('emit/printer.ts'), type: true }]);
    broken.set(at('emit/printer.ts'), [...graph.get(at('emit/printer.ts'))!, { to: at('model/contract-model.ts'), type: true }]);
    expect(layerViolations(broken)).toContain('cli/model/contract-model.ts -> (type) cli/emit/printer.ts: model may not import emit');
    expect(cycles(broken)).toContain('cli/model/contract-model.ts -> (type) cli/emit/printer.ts -> (type) cli/model/contract-model.ts');
  });
});
