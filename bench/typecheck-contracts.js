/**
 * Type-checks a contracts folder with the TypeScript compiler that ts-morph carries: the
 * baseline `bench/build-speed.js` compares `p2pgen build` against. Run in its own process:
 *   node bench/typecheck-contracts.js <contractsDir>
 * Exits 1 (printing the diagnostics) if the contracts do not type-check cleanly.
 */
import { resolve } from 'node:path';
import { Project } from 'ts-morph';
import { contractCompilerOptions } from '../cli/dist/reader/load-project.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/typecheck-contracts.js <contractsDir>');
  process.exit(2);
}

// The generator's own options (built into dist/ by bench:build), so the yardstick compiles alike.
const project = new Project({ compilerOptions: contractCompilerOptions() });
const files = project.addSourceFilesAtPaths(`${resolve(dir)}/*.ts`);
const diagnostics = project.getPreEmitDiagnostics();
if (diagnostics.length > 0) {
  console.error(project.formatDiagnosticsWithColorAndContext(diagnostics.slice(0, 20)));
  console.error(`typecheck: ${diagnostics.length} diagnostic(s) in ${files.length} files`);
  process.exit(1);
}
console.log(`typecheck: ${files.length} files, no diagnostics`);
