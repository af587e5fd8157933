/**
 * How contracts see 'rxjs' when the generator compiles them: its entry file re-exports all of
 * rxjs, some 250 declaration files (two thirds of what TypeScript parses for a small contracts
 * folder, and parsing is most of a small build), though contracts and the runtime's declarations
 * import one name or two of it (`Observable`). A file whose every mention of 'rxjs' is a named
 * import of names the entry re-exports from one internal file gets that file as 'rxjs': the same
 * declarations, so the same types. Any other file (names from several files, `import * as`,
 * `export … from 'rxjs'`, `declare module 'rxjs'`, `import('rxjs')`) gets the entry as usual.
 */
import { dirname, resolve } from 'node:path';
import { ts, type ResolutionHostFactory } from 'ts-morph';

const namedImport = /import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*(['"])rxjs\2/g;
const anyMention = /(['"])rxjs\1/g;
const reExport = /export\s*\{([^}]*)\}\s*from\s*'(\.[^']+)'/g;

export const rxjsResolution: ResolutionHostFactory = (host, compilerOptions) => {
  /** Entry file -> the internal file each name it re-exports comes from. */
  const entries = new Map<string, Map<string, string>>();
  const sources = (entry: string): Map<string, string> => {
    let map = entries.get(entry);
    if (map) return map;
    map = new Map();
    for (const [, names, from] of (host.readFile(entry) ?? '').matchAll(reExport)) {
      for (const name of names!.split(',').map((n) => n.trim().split(/\s+as\s+/).pop()!)) map.set(name, resolve(dirname(entry), `${from}.d.ts`));
    }
    entries.set(entry, map);
    return map;
  };
  const narrowed = (containingFile: string, entry: ts.ResolvedModuleFull): ts.ResolvedModuleFull => {
    const text = host.readFile(containingFile) ?? '';
    const imports = [...text.matchAll(namedImport)];
    if (imports.length === 0 || imports.length !== [...text.matchAll(anyMention)].length) return entry;
    const names = imports.flatMap(([, list]) => list!.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean));
    const files = new Set(names.map((n) => sources(entry.resolvedFileName).get(n)));
    const [file] = files;
    if (files.size !== 1 || !file || !host.fileExists(file)) return entry;
    // Without the entry's package id: TypeScript gives every resolution of one package id the file
    // it met first, so another file's narrowed 'rxjs' would stand for the entry here.
    const { packageId: _, ...rest } = entry;
    return { ...rest, resolvedFileName: file };
  };
  return {
    resolveModuleNames(moduleNames, containingFile) {
      return moduleNames.map((name) => {
        const resolved = ts.resolveModuleName(name, containingFile, compilerOptions(), host).resolvedModule;
        return name === 'rxjs' && resolved?.extension === ts.Extension.Dts ? narrowed(containingFile, resolved) : resolved;
      });
    },
  };
};
