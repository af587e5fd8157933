/**
 * Contracts are code every peer runs: the generated index.ts imports their entity classes
 * (peers receive instances of them) and a peer imports the controller it serves, so a browser
 * bundle includes contract files and everything they import. When the contracts are marked for browsers
 * (`{ "build": { "browser": true } }` in p2pgen.config.json), an import of a Node built-in
 * (`node:fs`, `crypto`, `path`, …) from a contract file, or from a file of the project a
 * contract imports, is a located diagnostic rather than a bundler error (or a page that breaks)
 * later. Type-only imports are erased and allowed; packages are not followed.
 */
import { builtinModules } from 'node:module';
import { relative } from 'node:path';
import { Node, SyntaxKind, type SourceFile } from 'ts-morph';
import { DiagnosticCode, type Diagnostic } from '../diagnostics.js';
import { toPosix } from './load-project.js';

const builtins = new Set(builtinModules);

function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtins.has(specifier) || builtins.has(specifier.split('/')[0]!);
}

/** Every value import of a Node built-in reachable from the contract files through the project's own files. */
export function browserImportDiagnostics(contractFiles: readonly SourceFile[], contractsDir: string, isLibrary: (file: SourceFile) => boolean): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const path = (file: SourceFile) => toPosix(relative(contractsDir, file.getFilePath()));
  const shown = (file: SourceFile) => toPosix(relative(process.cwd(), file.getFilePath()));
  const seen = new Set<SourceFile>(contractFiles);
  const queue: { file: SourceFile; via: SourceFile[] }[] = contractFiles.map((file) => ({ file, via: [] }));
  for (let item = queue.shift(); item; item = queue.shift()) {
    const { file, via } = item;
    for (const { node, specifier, target } of valueImports(file)) {
      if (isNodeBuiltin(specifier)) {
        const { line, column } = file.getLineAndColumnAtPos(node.getStart());
        const chain = via.length > 0 ? ` (imported through ${[...via, file].map(shown).join(' -> ')})` : '';
        diagnostics.push({
          code: DiagnosticCode.NodeModuleInBrowserContract,
          message:
            `'${specifier}' is a Node module, and these contracts are marked for browsers (build.browser in p2pgen.config.json)${chain}: ` +
            'contract files are part of every peer, in a browser bundle too (the generated index.ts imports their entity classes, a peer the controller it serves). ' +
            "Keep Node-only code out of contract files (give a controller what it needs through its constructor, from your peer's own code)",
          file: path(file),
          line,
          column,
          sourceLine: file.getFullText().split('\n')[line - 1],
        });
      } else if (target && !seen.has(target) && !isLibrary(target)) {
        seen.add(target);
        queue.push({ file: target, via: [...via, file] });
      }
    }
  }
  return diagnostics;
}

/** `import … from`, `export … from`, `import('…')` and `require('…')` that are not type-only. */
function valueImports(file: SourceFile): { node: Node; specifier: string; target: SourceFile | undefined }[] {
  const found: { node: Node; specifier: string; target: SourceFile | undefined }[] = [];
  for (const declaration of file.getImportDeclarations()) {
    if (declaration.isTypeOnly()) continue;
    const named = declaration.getNamedImports();
    const onlyTypes = named.length > 0 && named.every((n) => n.isTypeOnly()) && !declaration.getDefaultImport() && !declaration.getNamespaceImport();
    if (onlyTypes) continue;
    found.push({ node: declaration, specifier: declaration.getModuleSpecifierValue(), target: declaration.getModuleSpecifierSourceFile() });
  }
  for (const declaration of file.getExportDeclarations()) {
    const specifier = declaration.getModuleSpecifierValue();
    if (specifier === undefined || declaration.isTypeOnly()) continue;
    found.push({ node: declaration, specifier, target: declaration.getModuleSpecifierSourceFile() });
  }
  for (const call of file.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    const callee = call.getExpression();
    const isImport = callee.getKind() === SyntaxKind.ImportKeyword;
    const isRequire = Node.isIdentifier(callee) && callee.getText() === 'require';
    const [argument] = call.getArguments();
    if ((isImport || isRequire) && argument && Node.isStringLiteral(argument)) found.push({ node: call, specifier: argument.getLiteralValue(), target: undefined });
  }
  return found;
}
