/**
 * Type-checks a contracts folder with the TypeScript compiler that ts-morph carries: the
 * baseline `bench/build-speed.js` compares `p2pgen build` against. Run in its own process:
 *   node bench/typecheck-contracts.js <contractsDir>
 * Exits 1 (printing the diagnostics) if the contracts do not type-check cleanly.
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Project, ts } from 'ts-morph';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/typecheck-contracts.js <contractsDir>');
  process.exit(2);
}

const project = new Project({
  compilerOptions: {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
    noEmit: true,
    // No @types/*: contracts only see the p2pgen runtime's declarations (what users import).
    types: [],
    paths: { p2pgen: [resolve(repoRoot, 'dist/runtime/index.d.ts')] },
  },
});
const files = project.addSourceFilesAtPaths(`${resolve(dir)}/*.ts`);
const diagnostics = project.getPreEmitDiagnostics();
if (diagnostics.length > 0) {
  console.error(project.formatDiagnosticsWithColorAndContext(diagnostics.slice(0, 20)));
  console.error(`typecheck: ${diagnostics.length} diagnostic(s) in ${files.length} files`);
  process.exit(1);
}
console.log(`typecheck: ${files.length} files, no diagnostics`);
