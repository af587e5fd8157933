/**
 * `p2pgen init [dir]`: scaffolds a working project from the templates folder: a package.json
 * (ESM, the scripts build, broker, peer:a, peer:b, check), a tsconfig.json whose target lowers
 * decorators, one contract, a broker and two peers, and a README. Refuses a folder that
 * already has files (nothing is overwritten).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Output } from './build.js';
import { VERSION } from '../version.js';
import { UsageError } from './usage-error.js';

/** The templates: shipped inside the package (copied at pack time), or the repository's own. */
function templatesDir(): string {
  for (const candidate of ['../../templates', '../../../templates']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error('p2pgen init: the project templates are missing from this installation');
}

/** Files that cannot be shipped under their own name in an npm package. */
const renamed: Record<string, string> = { gitignore: '.gitignore' };

export function runInit(dir: string, out: Output): number {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new UsageError(`${dir} is not empty: p2pgen init scaffolds a new project into an empty or new folder`);
  }
  const name = basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'p2pgen-app';
  mkdirSync(target, { recursive: true });
  cpSync(templatesDir(), target, { recursive: true });
  for (const [from, to] of Object.entries(renamed)) if (existsSync(join(target, from))) renameSync(join(target, from), join(target, to));
  for (const file of ['package.json', 'README.md']) {
    const path = join(target, file);
    const text = readFileSync(path, 'utf8').replaceAll('__NAME__', name).replaceAll('__P2PGEN_VERSION__', VERSION).replaceAll('__CLI_VERSION__', VERSION);
    writeFileSync(path, text);
  }
  const where = relative(process.cwd(), target) || '.';
  out.log(`p2pgen: created ${name} in ${where}. Next:`);
  for (const step of [
    ...(where === '.' ? [] : [`cd ${where}`]),
    'npm install',
    'npm run build',
    'npm run broker      # then, in two more terminals:',
    'npm run peer:a',
    'npm run peer:b',
  ]) {
    out.log(`  ${step}`);
  }
  return 0;
}
