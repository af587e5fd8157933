/**
 * Golden tests of the generator. Each folder test/golden/<case>/ holds contracts (input/) and the
 * files `p2pgen build --no-header-version` writes for them (expected/: index.ts, contracts.proto,
 * manifest.json, p2pgen.lock.json); each test/golden/invalid/<case>/ holds contracts and the
 * exact diagnostics of the failed build (expected.txt).
 *
 *   UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts    # rewrite the expected files, then review the diff
 *
 * The expected index.ts files are type-checked with the rest of test/ (npm run typecheck). A
 * last test adds one action to a case and checks that the output changes only in that action's
 * lines: generated names come from shapes and owners, never from the order things were met.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContractDiagnosticsError, formatDiagnostic } from '../cli/diagnostics.js';
import { generate, type GenerateResult } from '../cli/generate.js';
import { LOCK_FILE_NAME, parseLock } from '../cli/model/lock-file.js';
import { repoRoot, tempDir } from './support/paths.js';

const goldenRoot = join(repoRoot, 'test/golden');
const update = process.env.UPDATE_GOLDEN === '1';
const cases = readdirSync(goldenRoot, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'invalid')
  .map((e) => e.name)
  .sort();
const invalidCases = readdirSync(join(goldenRoot, 'invalid')).sort();

/** Builds a contracts folder as `p2pgen build --no-header-version` does, with its lock if it has one. */
async function build(contractsDir: string, outDir: string): Promise<GenerateResult> {
  const lockPath = join(contractsDir, LOCK_FILE_NAME);
  const lock = existsSync(lockPath) ? parseLock(readFileSync(lockPath, 'utf8'), lockPath) : undefined;
  return generate({ contractsDir, outDir, lock, headerVersion: false });
}

/** The generated files by name (the lock is written beside the contracts, the rest into --out). */
function byName(result: GenerateResult): Map<string, string> {
  return new Map(result.files.map((f) => [basename(f.path), f.content]));
}

describe('golden output', () => {
  for (const name of cases) {
    it(`${name}: p2pgen build writes the expected files`, async () => {
      const expectedDir = join(goldenRoot, name, 'expected');
      const files = byName(await build(join(goldenRoot, name, 'input'), expectedDir));
      if (update) {
        rmSync(expectedDir, { recursive: true, force: true });
        mkdirSync(expectedDir, { recursive: true });
        for (const [file, content] of files) writeFileSync(join(expectedDir, file), content);
      }
      expect(readdirSync(expectedDir).sort()).toEqual([...files.keys()].sort());
      for (const [file, content] of files) expect(content, `${name}/expected/${file}`).toBe(readFileSync(join(expectedDir, file), 'utf8'));
    });
  }
});

describe('golden diagnostics', () => {
  for (const name of invalidCases) {
    it(`${name}: the build fails with exactly the expected diagnostics`, async () => {
      const dir = join(goldenRoot, 'invalid', name);
      let text: string | undefined;
      try {
        await build(join(dir, 'input'), join(dir, 'never-written'));
      } catch (error) {
        if (!(error instanceof ContractDiagnosticsError)) throw error;
        text = `${error.diagnostics.map(formatDiagnostic).join('\n')}\n`;
      }
      expect(text, 'the build should fail').toBeDefined();
      if (update) writeFileSync(join(dir, 'expected.txt'), text!);
      expect(text).toBe(readFileSync(join(dir, 'expected.txt'), 'utf8'));
    });
  }
});

describe('adding an action', () => {
  it('changes only the lines of that action (and its controller fingerprint)', async () => {
    const work = tempDir('golden-add-action');
    const contracts = join(work, 'contracts');
    cpSync(join(goldenRoot, 'shared/input'), contracts, { recursive: true });
    const before = await build(contracts, join(work, 'out'));
    writeFileSync(join(contracts, LOCK_FILE_NAME), before.files.find((f) => f.path.endsWith(LOCK_FILE_NAME))!.content);

    const file = join(contracts, 'directory.ts');
    const source = readFileSync(file, 'utf8');
    const added = `\n  @rpc.action()\n  rename(id: string, name: string): User {\n    return new User(id, name);\n  }\n}\n`;
    writeFileSync(file, source.replace(/\}\n$/, added));
    const after = await build(contracts, join(work, 'out'));

    const controllerBefore = before.model.controllers.find((c) => c.path === '/directory')!.fingerprint;
    const controllerAfter = after.model.controllers.find((c) => c.path === '/directory')!.fingerprint;
    const afterFiles = byName(after);
    // What belongs to the new action: its name, its own messages, the codecs its descriptor uses
    // and the request and response entries of its wire schema.
    const index = afterFiles.get('index.ts')!;
    const descriptor = /rename: unary\(([^)]*)\)/.exec(index)![1]!;
    const schema = /'\/directory rename': (.*)/.exec(index)![1]!;
    const own = ['rename', 'DirectoryControllerRename', ...(descriptor.match(/\b(Args|Returns)_\w+/g) ?? []), ...(schema.match(/[0-9a-f]{12}/g) ?? [])];

    for (const [name, oldText] of byName(before)) {
      const { removed, hunks } = lineDiff(oldText, afterFiles.get(name)!);
      // A removed line is only ever the controller's fingerprint, replaced by the new one.
      for (const line of removed) {
        expect(line, `${name}: a removed line`).toContain(controllerBefore);
        expect(afterFiles.get(name), name).toContain(line.replace(controllerBefore, controllerAfter));
      }
      for (const hunk of hunks) {
        const text = hunk.join('\n');
        const ownsIt = own.some((word) => text.includes(word)) || text.includes(controllerAfter);
        expect(ownsIt, `${name}: added lines that are not the new action's:\n${text}`).toBe(true);
      }
    }
  });
});

/**
 * A longest-common-subsequence line diff: the removed lines, and the added lines grouped into
 * hunks (runs of added lines, joined when at most two unchanged lines separate them, so a line
 * the aligner happened to match inside a new block does not split it).
 */
function lineDiff(oldText: string, newText: string): { removed: string[]; hunks: string[][] } {
  const a = oldText.split('\n');
  const b = newText.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const removed: string[] = [];
  const hunks: string[][] = [];
  let current: string[] | undefined;
  let unchanged = 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      if (current && ++unchanged > 2) current = undefined;
      else current?.push(a[i]!);
      i++;
      j++;
    } else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) {
      if (!current) hunks.push((current = []));
      current.push(b[j++]!);
      unchanged = 0;
    } else {
      removed.push(a[i++]!);
    }
  }
  return { removed, hunks };
}
