/**
 * The drift report's diff: hunks as `diff -u` prints them (compared with GNU diff itself on
 * unambiguous changes), not one hunk from the first change to the last.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../cli/check/unified-diff.js';
import { tempDir } from './support/paths.js';

const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

function gnuDiff(before: string, after: string): string[] {
  const dir = tempDir('diff');
  writeFileSync(join(dir, 'a'), before);
  writeFileSync(join(dir, 'b'), after);
  const result = spawnSync('diff', ['-U2', 'a', 'b'], { cwd: dir, encoding: 'utf8' });
  return result.stdout.split('\n').slice(2).filter((l) => l !== '' && !l.startsWith('\\'));
}

describe('unifiedDiff', () => {
  it('two changes far apart are two small hunks, with the line numbers diff -u gives', () => {
    const before = lines(900);
    const after = [...before];
    after[10] = 'changed 11';
    after.splice(800, 1, 'changed 801a', 'changed 801b');
    const diff = unifiedDiff(`${before.join('\n')}\n`, `${after.join('\n')}\n`, 'a', 'b', 2, 1000).split('\n');
    expect(diff.slice(0, 2)).toEqual(['--- a', '+++ b']);
    expect(diff.slice(2)).toEqual(gnuDiff(`${before.join('\n')}\n`, `${after.join('\n')}\n`));
    expect(diff.filter((l) => l.startsWith('@@'))).toEqual(['@@ -9,5 +9,5 @@', '@@ -799,5 +799,6 @@']);
    // A replaced line: the old one first.
    expect(diff.indexOf('-line 11')).toBeLessThan(diff.indexOf('+changed 11'));
  });

  it('changes close together share a hunk; at most maxLines lines are shown', () => {
    const before = lines(50);
    const after = before.map((l, i) => (i === 20 || i === 23 ? `${l}!` : l));
    const diff = unifiedDiff(before.join('\n'), after.join('\n'), 'a', 'b').split('\n');
    expect(diff.filter((l) => l.startsWith('@@'))).toEqual(['@@ -19,8 +19,8 @@']);
    expect(diff.slice(2)).toEqual(gnuDiff(`${before.join('\n')}\n`, `${after.join('\n')}\n`));

    const many = lines(400).map((l, i) => (i % 10 === 0 ? `${l}!` : l));
    const capped = unifiedDiff(lines(400).join('\n'), many.join('\n'), 'a', 'b').split('\n');
    expect(capped).toHaveLength(2 + 40 + 1);
    expect(capped.at(-1)).toMatch(/^… \d+ more lines$/);
  });
});
