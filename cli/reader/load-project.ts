/**
 * Loads a contracts folder into a ts-morph project: every `.ts` file in it (and what those
 * import), with `p2pgen` resolved to this generator's own runtime so the contract types and
 * brands always mean what this generator expects.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Project, ts, type CompilerOptions, type SourceFile } from 'ts-morph';
import { DiagnosticCode, type Diagnostic } from '../diagnostics.js';
import { rxjsResolution } from './rxjs-resolution.js';

export interface LoadedContracts {
  project: Project;
  contractsDir: string;
  /** The contract files themselves (not what they import), sorted by relative path. */
  files: SourceFile[];
  diagnostics: Diagnostic[];
}

/**
 * The runtime entry this generator belongs to: in the repository, run from source, the
 * runtime's own `index.ts`; built, the declarations of the `p2pgen` package this one depends on.
 */
function runtimeEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const source = resolve(here, '../../runtime/index.ts');
  if (here.endsWith(`${sep}cli${sep}reader`) && existsSync(source)) return source;
  const manifest = createRequire(import.meta.url).resolve('p2pgen/package.json');
  const types = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: { '.'?: { types?: string } } }).exports?.['.']?.types;
  const entry = types ? resolve(dirname(manifest), types) : undefined;
  if (entry && existsSync(entry)) return entry;
  throw new Error(`p2pgen: cannot find the p2pgen runtime's declarations (from ${manifest}); is the p2pgen package built and installed?`);
}

let runtimeDir: string | undefined;

/** Whether a file belongs to the p2pgen runtime contracts are compiled against (its decorators and brands are declared there). */
export function isRuntimeFile(path: string): boolean {
  runtimeDir ??= `${toPosix(dirname(runtimeEntry()))}/`;
  return path.startsWith(runtimeDir);
}

const skippedDirs = new Set(['node_modules', '.git', 'dist']);

function listContractFiles(dir: string, exclude: string | undefined): string[] {
  const found: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        if (!skippedDirs.has(entry.name) && !entry.name.startsWith('.') && path !== exclude) walk(path);
      } else if (
        entry.isFile() &&
        entry.name.endsWith('.ts') &&
        !entry.name.endsWith('.d.ts') &&
        !/\.(test|spec)\.ts$/.test(entry.name)
      ) {
        found.push(path);
      }
    }
  };
  walk(dir);
  return found.sort();
}

export function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

/**
 * How contracts are compiled: strict, with no @types/* (contracts see only the p2pgen runtime's
 * declarations, what users import). bench:build type-checks with the same options.
 */
export function contractCompilerOptions(): CompilerOptions {
  return {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
    noEmit: true,
    types: [],
    paths: { p2pgen: [runtimeEntry()] },
  };
}

export function loadContracts(contractsDirArg: string, options: { excludeDir?: string } = {}): LoadedContracts {
  const contractsDir = resolve(contractsDirArg);
  const diagnostics: Diagnostic[] = [];
  const project = new Project({ skipAddingFilesFromTsConfig: true, compilerOptions: contractCompilerOptions(), resolutionHost: rxjsResolution });
  if (!existsSync(contractsDir) || !statSync(contractsDir).isDirectory()) {
    diagnostics.push({
      code: DiagnosticCode.FolderNotFound,
      message: `contracts folder not found: ${contractsDirArg}`,
    });
    return { project, contractsDir, files: [], diagnostics };
  }
  const paths = listContractFiles(contractsDir, options.excludeDir && resolve(options.excludeDir));
  if (paths.length === 0) {
    diagnostics.push({
      code: DiagnosticCode.NoContracts,
      message: `no contract files (*.ts) in ${contractsDirArg}`,
    });
    return { project, contractsDir, files: [], diagnostics };
  }
  const files = paths.map((path) => project.addSourceFileAtPath(path));
  project.resolveSourceFileDependencies();
  const program = project.getProgram().compilerObject;
  for (const file of files) {
    for (const d of program.getSyntacticDiagnostics(file.compilerNode)) {
      const pos = file.compilerNode.getLineAndCharacterOfPosition(d.start ?? 0);
      diagnostics.push({
        code: DiagnosticCode.SyntaxError,
        message: ts.flattenDiagnosticMessageText(d.messageText, ' '),
        file: toPosix(relative(contractsDir, file.getFilePath())),
        line: pos.line + 1,
        column: pos.character + 1,
        sourceLine: file.getFullText().split('\n')[pos.line],
      });
    }
  }
  return { project, contractsDir, files, diagnostics };
}
