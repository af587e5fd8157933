/**
 * The repository's source as a newcomer gets it, written to a folder outside the repository,
 * with no `.git` in it: what is committed (`git archive HEAD`) when this is a git checkout; when
 * it is not (the tests run from a source archive themselves), the files here minus what
 * `.gitignore` names (node_modules, build output, generated code). Either way nothing of this
 * working tree's build or install comes along.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { repoRoot } from './paths.js';

/** Writes the source into `target` (created if needed); returns how it was taken. */
export function copySource(target: string): 'git archive HEAD' | 'a copy of the files (no git)' {
  mkdirSync(target, { recursive: true });
  const inGit = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim() === 'true';
  if (inGit) {
    const archive = execFileSync('git', ['archive', '--format=tar', 'HEAD'], { cwd: repoRoot, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', target], { input: archive });
    return 'git archive HEAD';
  }
  const ignored = ignoredBy(readFileSync(join(repoRoot, '.gitignore'), 'utf8'));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(repoRoot, path).split(sep).join(posix.sep);
      if (entry.name === '.git' || ignored(rel, entry.name, entry.isDirectory())) continue;
      if (entry.isDirectory()) {
        mkdirSync(join(target, rel), { recursive: true });
        walk(path);
      } else if (entry.isFile()) copyFileSync(path, join(target, rel));
    }
  };
  walk(repoRoot);
  return 'a copy of the files (no git)';
}

/** The few `.gitignore` forms this repository uses: `name/`, `path/to/dir/`, `*.ext`, `name`. */
function ignoredBy(gitignore: string): (rel: string, name: string, isDir: boolean) => boolean {
  const patterns = gitignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return (rel, name, isDir) =>
    patterns.some((pattern) => {
      const dirOnly = pattern.endsWith('/');
      const body = pattern.replace(/\/$/, '').replace(/^\//, '');
      if (dirOnly && !isDir) return false;
      if (body.startsWith('*.')) return name.endsWith(body.slice(1));
      return body.includes('/') ? rel === body : name === body;
    });
}
