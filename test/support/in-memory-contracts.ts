/**
 * Reads contracts given as inline sources from an in-memory ts-morph project (no folders on
 * disk): the reader's unit tests. 'p2pgen' resolves to the runtime's real contract module
 * (runtime/contract.ts: decorators and brands), 'rxjs' to a one-class stub.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from 'ts-morph';
import { readLoadedContracts, type ReadResult } from '../../cli/reader/contract-reader.js';
import { contractCompilerOptions } from '../../cli/reader/load-project.js';
import { repoRoot } from './paths.js';

const runtimeSource = readFileSync(join(repoRoot, 'runtime/contract.ts'), 'utf8');
const rxjsStub = 'export declare class Observable<T> {\n  constructor(subscribe?: (subscriber: { next(value: T): void; complete(): void }) => void);\n}\n';

/** The contract model of `files` (paths relative to the contracts folder), with its diagnostics. */
export function readInMemory(files: Record<string, string>): ReadResult {
  const project = new Project({
    useInMemoryFileSystem: true,
    compilerOptions: { ...contractCompilerOptions(), paths: { p2pgen: ['/p2pgen/index.ts'], rxjs: ['/rxjs/index.d.ts'] } },
  });
  project.createSourceFile('/p2pgen/index.ts', runtimeSource);
  project.createSourceFile('/rxjs/index.d.ts', rxjsStub);
  const sources = Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([path, text]) => project.createSourceFile(`/contracts/${path}`, text));
  project.resolveSourceFileDependencies();
  return readLoadedContracts({ project, contractsDir: '/contracts', files: sources, diagnostics: [] }, { isRuntimeFile: (path) => path.startsWith('/p2pgen/') });
}
