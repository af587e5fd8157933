import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** This package's version, read from package.json (one level above cli/ in source, two above dist/cli/). */
export const VERSION: string = (() => {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(candidate, import.meta.url)), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'p2pgen' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
})();
