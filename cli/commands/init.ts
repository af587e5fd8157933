/**
 * `p2pgen init [dir] [--from <folder>]`: scaffolds a working project from the templates folder:
 * a package.json (ESM, the scripts build, broker, peer:a, peer:b, check), a tsconfig.json whose
 * target lowers decorators, one contract, a broker and two peers, and a README. Refuses a
 * folder that already has files (nothing is overwritten). With `--from`, the project depends
 * on the two packages as tarballs in that folder (`file:` dependencies; `npm run pack` in a
 * clone of p2pgen writes them) instead of the npm registry.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Output } from './build.js';
import { VERSION } from '../version.js';
import { UsageError } from './usage-error.js';

/** The templates: shipped inside the package (copied at pack time), or the repository's own (run from a clone). */
function templatesDir(): { dir: string; inClone: boolean } {
  for (const [candidate, inClone] of [
    ['../../templates', false],
    ['../../../templates', true],
  ] as const) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, 'package.json'))) return { dir, inClone };
  }
  throw new Error('p2pgen init: the project templates are missing from this installation');
}

/** The tarballs `npm pack` names for this version: p2pgen-0.1.0.tgz and p2pgen-cli-0.1.0.tgz. */
const tarballs = { runtime: `p2pgen-${VERSION}.tgz`, cli: `p2pgen-cli-${VERSION}.tgz` };

/** The two tarballs in `--from`, as absolute paths; a usage error naming what is missing. */
function findTarballs(from: string): { runtime: string; cli: string } {
  const dir = resolve(from);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`--from ${from}: no such folder (run \`npm run pack\` in a clone of p2pgen: it writes the two packages to its packs/ folder)`);
  }
  const missing = Object.values(tarballs).filter((file) => !existsSync(join(dir, file)));
  if (missing.length > 0) {
    const present = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
    throw new UsageError(
      `--from ${from}: ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not there (${present.length === 0 ? 'it has no .tgz files' : `it has ${present.join(', ')}`}); ` +
        `this p2pgen is ${VERSION}: \`npm run pack\` in a clone of p2pgen ${VERSION} writes both`,
    );
  }
  return { runtime: join(dir, tarballs.runtime), cli: join(dir, tarballs.cli) };
}

/**
 * A `file:` dependency as npm writes one: the path from the project with forward slashes (the
 * project and a clone beside it move together), or the absolute path when the two have no
 * folder in common but the root.
 */
function fileDependency(project: string, tarball: string): string {
  const path = relative(project, tarball);
  const climbs = path.split(sep).filter((part) => part === '..').length;
  // isAbsolute: on another drive (Windows) there is no relative path.
  if (isAbsolute(path) || climbs >= project.split(sep).filter(Boolean).length) return `file:${tarball.split(sep).join('/')}`;
  const posixPath = path.split(sep).join('/');
  return `file:${posixPath.startsWith('.') ? posixPath : `./${posixPath}`}`;
}

export interface InitOptions {
  /** A folder holding p2pgen-<version>.tgz and p2pgen-cli-<version>.tgz. */
  from?: string;
}

/** Files that cannot be shipped under their own name in an npm package. */
const renamed: Record<string, string> = { gitignore: '.gitignore' };

export function runInit(dir: string, out: Output, options: InitOptions = {}): number {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new UsageError(`${dir} is not empty: p2pgen init scaffolds a new project into an empty or new folder`);
  }
  const packed = options.from === undefined ? undefined : findTarballs(options.from);
  const templates = templatesDir();
  const name = basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '') || 'p2pgen-app';
  mkdirSync(target, { recursive: true });
  cpSync(templates.dir, target, { recursive: true });
  for (const [from, to] of Object.entries(renamed)) if (existsSync(join(target, from))) renameSync(join(target, from), join(target, to));
  const versions = packed
    ? { p2pgen: fileDependency(target, packed.runtime), cli: fileDependency(target, packed.cli) }
    : { p2pgen: `^${VERSION}`, cli: `^${VERSION}` };
  for (const file of ['package.json', 'README.md']) {
    const path = join(target, file);
    const text = readFileSync(path, 'utf8').replaceAll('__NAME__', name).replaceAll('"^__P2PGEN_VERSION__"', JSON.stringify(versions.p2pgen)).replaceAll('"^__CLI_VERSION__"', JSON.stringify(versions.cli));
    writeFileSync(path, text);
  }
  const where = relative(process.cwd(), target) || '.';
  out.log(`p2pgen: created ${name}${where === '.' ? ' here' : where === name ? '' : ` in ${where}`}${packed ? ` (p2pgen and @p2pgen/cli from the tarballs in ${options.from})` : ''}. Next:`);
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
  if (templates.inClone && !packed) {
    out.log(
      `Note: this p2pgen runs from a clone; the project takes p2pgen and @p2pgen/cli ^${VERSION} from the npm registry. ` +
        'To take the clone\'s instead: `npm run pack` in the clone, then `p2pgen init <dir> --from <clone>/packs`.',
    );
  }
  return 0;
}
