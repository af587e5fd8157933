import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** This package's version (@p2pgen/cli), read from its package.json (next to the sources, or one level above dist/). */
export const VERSION: string = (() => {
  for (const candidate of ['./package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(candidate, import.meta.url)), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@p2pgen/cli' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
})();
