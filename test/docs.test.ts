/**
 * The docs do not rot: every TypeScript block in README.md and docs/*.md compiles, the blocks
 * that are whole programs run and print what the doc shows, and every relative link resolves.
 *
 * How a doc's blocks become code (the conventions a doc writer follows, docs/development.md):
 * - Each doc is a project laid out like the one `p2pgen init` makes: `contracts/`,
 *   `generated/`, `src/`. Each ```ts (or ```typescript) block is a complete module of it.
 * - A block whose first line is `// file: <path>` is that file of the project
 *   (`// file: contracts/chat.ts`); any other block is a module of its own in `src/`, so its
 *   relative imports read `../contracts/chat.js`, `../generated/index.js`.
 * - A project with a `contracts/` folder is built first, as `p2pgen build contracts --out
 *   generated` would (the generator's own function, in this process).
 * - All projects are then type-checked in one `tsc` run (strict, ES2022: what `p2pgen init`
 *   sets up), with 'p2pgen', 'p2pgen/broker', 'p2pgen/internal' and 'p2pgen/otel' mapped to runtime/'s sources.
 *   A diagnostic names the doc and the line in it.
 * - A ```ts run block is a program: bundled with esbuild (decorators lowered to ES2022, the
 *   runtime from its sources) and run with node in its project; it must exit 0 within 30 s.
 *   If a ```text output block follows it (before the next TypeScript block), the program's
 *   stdout must be exactly that; an output block that follows no program is a mistake.
 *   Programs start what they need themselves (a broker on 127.0.0.1, port 0) and end by
 *   themselves.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFiles } from '../cli/commands/build.js';
import { readLock } from '../cli/model/lock-file.js';
import { ContractDiagnosticsError, formatDiagnostic } from '../cli/diagnostics.js';
import { generate } from '../cli/generate.js';
import { anchors, codeBlocks, links, type CodeBlock } from './support/markdown.js';
import { repoRoot, tempDir } from './support/paths.js';

const runtimeEntries = {
  p2pgen: join(repoRoot, 'runtime/index.node.ts'),
  'p2pgen/broker': join(repoRoot, 'runtime/broker/index.ts'),
  'p2pgen/internal': join(repoRoot, 'runtime/internal.ts'),
  'p2pgen/otel': join(repoRoot, 'runtime/otel/index.ts'),
};

const programTimeoutMs = 30_000;

interface DocBlock {
  /** The doc, relative to the repository (`docs/streams.md`). */
  doc: string;
  block: CodeBlock;
  /** Where the block is written, relative to the doc's project. */
  file: string;
  run: boolean;
  /** What a `run` program must print (the ```text output block after it), if the doc shows it. */
  output?: string;
}

const docs = ['README.md', ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const text = new Map(docs.map((doc) => [doc, readFileSync(join(repoRoot, doc), 'utf8')]));

const isTypeScript = (b: CodeBlock) => b.lang === 'ts' || b.lang === 'typescript';
const isOutput = (b: CodeBlock) => b.lang === 'text' && b.attributes.includes('output');

/** A doc's TypeScript blocks, each with the file it becomes. */
function tsBlocks(doc: string): DocBlock[] {
  const blocks = codeBlocks(text.get(doc)!);
  const result: DocBlock[] = [];
  blocks.forEach((block, index) => {
    if (!isTypeScript(block)) return;
    const named = /^\/\/ file: (\S+)/.exec(block.text);
    const file = named ? named[1]! : `src/${basename(doc, '.md').toLowerCase()}-line-${block.fenceLine}.ts`;
    const run = block.attributes.includes('run');
    // Its output: the first ```text output block after it, before the next TypeScript block.
    const after = blocks.slice(index + 1);
    const end = after.findIndex((b) => isTypeScript(b));
    const output = run ? (end === -1 ? after : after.slice(0, end)).find(isOutput)?.text : undefined;
    result.push({ doc, block, file, run, ...(output === undefined ? {} : { output }) });
  });
  return result;
}

const allBlocks = docs.flatMap(tsBlocks);
const programs = allBlocks.filter((b) => b.run);
const where = (b: DocBlock) => `${b.doc}:${b.block.fenceLine + 1}`;

let work: string;
/** The doc's project folder: `README.md` → `<work>/README`, `docs/streams.md` → `<work>/docs-streams`. */
const projectOf = (doc: string) => join(work, doc.replace(/\.md$/, '').replace(/\//g, '-'));

/** Where each written file came from, to point a diagnostic at the doc. */
const origins = new Map<string, DocBlock>();
/** What stopped the generator, or made two docs declare one path, located in the docs. */
const generationProblems: string[] = [];

/** `p2pgen build contracts --out generated` in each doc's project that has contracts. */
async function generateContracts(): Promise<void> {
  const paths = new Map<string, { doc: string; fingerprint: string }>();
  for (const doc of docs) {
    const contractsDir = join(projectOf(doc), 'contracts');
    if (!existsSync(contractsDir)) continue;
    try {
      const result = await generate({ contractsDir, outDir: join(projectOf(doc), 'generated'), lock: readLock(contractsDir) });
      writeFiles(result.files);
      for (const controller of result.model.controllers) {
        // Generated code declares which contract is at which path for the whole program (an
        // augmentation of 'p2pgen'), and all docs are type-checked as one program.
        const seen = paths.get(controller.path);
        if (seen && seen.fingerprint !== controller.fingerprint) {
          generationProblems.push(`${doc}: '${controller.path}' is another contract in ${seen.doc}; use another path (all docs are type-checked together)`);
        }
        paths.set(controller.path, { doc, fingerprint: controller.fingerprint });
      }
    } catch (error) {
      if (!(error instanceof ContractDiagnosticsError)) throw error;
      for (const d of error.diagnostics) {
        const at = d.file && d.line ? locate(resolve(process.cwd(), d.file), d.line, d.column ?? 1) : doc;
        generationProblems.push(`${at} - ${formatDiagnostic({ ...d, file: undefined, sourceLine: undefined })}`);
      }
    }
  }
}

beforeAll(async () => {
  work = tempDir('docs');
  writeFileSync(join(work, 'package.json'), '{ "private": true, "type": "module" }\n');
  for (const b of allBlocks) {
    const path = join(projectOf(b.doc), b.file);
    const earlier = origins.get(path);
    if (earlier) throw new Error(`${where(b)}: '// file: ${b.file}' is also the block at ${where(earlier)}; give each block its own file`);
    origins.set(path, b);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, b.block.text);
  }
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          moduleDetection: 'force',
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node'],
          paths: Object.fromEntries(Object.entries(runtimeEntries).map(([name, path]) => [name, [path]])),
        },
        include: ['**/*.ts'],
        exclude: ['**/.run'],
      },
      null,
      2,
    ),
  );
  await generateContracts();
}, 60_000);

afterAll(() => {
  if (work && !process.env.P2PGEN_KEEP_TMP) rmSync(work, { recursive: true, force: true });
});

/** The doc and line a file of a doc's project came from (`README.md:57:3`), or the file itself. */
function locate(file: string, line: number, column: number): string {
  const path = resolve(work, file);
  const origin = origins.get(path);
  if (origin) return `${origin.doc}:${origin.block.fenceLine + line}:${column + origin.block.indent}`;
  const doc = docs.find((d) => path.startsWith(projectOf(d) + '/'));
  if (doc) return `${relative(projectOf(doc), path)}:${line}:${column} (generated from the contracts of ${doc})`;
  return `${relative(repoRoot, path)}:${line}:${column}`;
}

describe('the docs', () => {
  it('have TypeScript blocks to check, and show output only of programs', () => {
    expect(allBlocks.length).toBeGreaterThan(20);
    expect(programs.length).toBeGreaterThan(3);
    const stray = docs.flatMap((doc) =>
      codeBlocks(text.get(doc)!)
        .filter((b) => isOutput(b) && !programs.some((p) => p.doc === doc && p.output === b.text && p.block.fenceLine < b.fenceLine))
        .map((b) => `${doc}:${b.fenceLine}: a text output block after no ts run block`),
    );
    expect(programs.filter((p) => p.output !== undefined).length).toBeGreaterThan(3);
    expect(stray).toEqual([]);
  });

  it('build the contracts their blocks declare, and each controller path means one contract across all docs', () => {
    expect(generationProblems).toEqual([]);
  });

  it(`compile: all ${allBlocks.length} TypeScript blocks, in one tsc run`, () => {
    const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(work, 'tsconfig.json'), '--pretty', 'false'], {
      cwd: work,
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(tsc.error).toBeUndefined();
    const diagnostics: string[] = [];
    for (const line of tsc.stdout.split('\n')) {
      const m = /^(.+?)\((\d+),(\d+)\): (error|warning) (TS\d+): (.*)$/.exec(line);
      if (m) diagnostics.push(`${locate(m[1]!, Number(m[2]), Number(m[3]))} - ${m[4]} ${m[5]}: ${m[6]}`);
      else if (line.trim() && diagnostics.length > 0) diagnostics[diagnostics.length - 1] += `\n    ${line.trim()}`;
      else if (line.trim()) diagnostics.push(line);
    }
    expect(diagnostics).toEqual([]);
    expect(tsc.status).toBe(0);
  }, 180_000);

  /** 'p2pgen', 'p2pgen/broker', 'p2pgen/internal' and 'p2pgen/otel' from runtime/'s sources; other packages stay imports. */
  const runtimeSources: Plugin = {
    name: 'p2pgen-sources',
    setup(b) {
      b.onResolve({ filter: /^p2pgen(\/broker|\/internal|\/otel)?$/ }, (args) => ({ path: runtimeEntries[args.path as keyof typeof runtimeEntries] }));
    },
  };

  for (const program of programs) {
    it(`run: the program at ${where(program)} exits 0${program.output === undefined ? '' : ' and prints what the doc shows'}`, async () => {
      const project = projectOf(program.doc);
      const outfile = join(project, '.run', program.file.replace(/\.ts$/, '.js'));
      await build({
        entryPoints: [join(project, program.file)],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'es2022',
        packages: 'external',
        plugins: [runtimeSources],
        logLevel: 'silent',
      });
      const child = spawn(process.execPath, [outfile], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), programTimeoutMs);
      const code = await new Promise<number | null>((done) => child.on('close', (status) => done(status)));
      clearTimeout(timer);
      expect(code, `${where(program)} exited with ${code}; stderr:\n${stderr}\nstdout:\n${stdout}`).toBe(0);
      if (program.output !== undefined) {
        const lines = (s: string) => s.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();
        expect(lines(stdout), `what ${where(program)} prints`).toBe(lines(program.output));
      }
    }, programTimeoutMs + 30_000);
  }

  it('link only to files (and headings) that exist', () => {
    const broken: string[] = [];
    for (const doc of docs) {
      for (const link of links(text.get(doc)!)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue; // https:, mailto:
        const [pathPart, anchor] = link.target.split('#') as [string, string | undefined];
        const target = pathPart === '' ? join(repoRoot, doc) : resolve(dirname(join(repoRoot, doc)), decodeURIComponent(pathPart));
        const name = relative(repoRoot, target);
        if (!existsSync(target)) {
          broken.push(`${doc}:${link.line}: ${link.target}: no such file`);
          continue;
        }
        if (anchor && statSync(target).isFile() && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${doc}:${link.line}: ${link.target}: no heading '#${anchor}' in ${name}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
