/**
 * Whether the project's tsconfig.json would compile the contracts into something Node cannot
 * run: with `"target": "esnext"` (what `tsc --init` writes) tsc leaves standard decorators in
 * its output as they are, and Node stops at the first one with "SyntaxError: Invalid or
 * unexpected token" long after `p2pgen build` said all was well. Every lower target lowers
 * them; `experimentalDecorators` lowers them at any target.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { ts } from 'ts-morph';

/** The tsconfig.json that applies to the contracts folder (the nearest one above it), and the warning about it, if any. */
export function compileTargetWarning(contractsDir: string): string | undefined {
  const configPath = ts.findConfigFile(resolve(contractsDir), ts.sys.fileExists, 'tsconfig.json');
  if (!configPath) return undefined;
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  // A config tsc cannot read is tsc's to report.
  if (!parsed || parsed.options.target !== ts.ScriptTarget.ESNext || parsed.options.experimentalDecorators) return undefined;
  const text = readFileSync(configPath, 'utf8');
  const at = /"target"\s*:/.exec(text);
  const where = at ? `:${lineAndColumn(text, at.index)}` : '';
  const file = relative(process.cwd(), configPath) || configPath;
  const setting = at ? '"target": "esnext"' : '"target": "esnext" (from the config it extends)';
  return (
    `${file}${where} - warning: ${setting} leaves the contracts' decorators in tsc's output, and Node cannot run them yet: ` +
    `the first one stops it with "SyntaxError: Invalid or unexpected token". Set "target": "ES2022" in ${file} (as p2pgen init does); ` +
    `a bundler needs the same (esbuild: --target=es2022)`
  );
}

function lineAndColumn(text: string, index: number): string {
  const before = text.slice(0, index).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}
