/**
 * `p2pgen build --watch`: rebuilds when a contract changes, reports errors without exiting,
 * and recovers when they are fixed. The watcher is a child process this test starts and stops.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from './support/harness.js';
import { writeContracts } from './support/contracts-dir.js';
import { repoRoot } from './support/paths.js';

const contract = (action: string) => `import { rpc } from 'p2pgen';\n\n@rpc.controller('/watched')\nexport class Watched {\n  @rpc.action()\n  ${action}\n}\n`;

/** Starts `p2pgen build <dir> --watch` and collects its output. */
function startWatcher(dir: string, out: string) {
  const child = spawn(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'build', dir, '--out', out, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString()));
  return { child, output };
}

/** What an editor's safe-write, `sed -i` or `git checkout` does: write a new file, rename it over the old one. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp~`, text);
  renameSync(`${path}.tmp~`, path);
}

/** Counts the builds a watcher has reported (one line each). */
const builds = (stdout: string) => stdout.split('\n').filter((line) => /^p2pgen: \d+ controllers?,/.test(line)).length;

describe('p2pgen build --watch', () => {
  it('keeps rebuilding when a contract is replaced (atomic save), not written in place', async () => {
    const dir = writeContracts('watch-atomic', { 'watched.ts': contract('ping(): string {\n    return "pong";\n  }') });
    const out = join(dir, 'out');
    const { child, output } = startWatcher(dir, out);
    const index = () => readFileSync(join(out, 'index.ts'), 'utf8');
    try {
      await eventually(() => output.stdout.includes('watching'), 'the first build', 20_000);
      replaceFile(join(dir, 'watched.ts'), contract('ping(times: number): string {\n    return "pong";\n  }'));
      await eventually(() => index().includes("Args_Double, Returns_String, 'times')"), 'the rebuild after the first replacement', 20_000);
      replaceFile(join(dir, 'watched.ts'), contract('pong(): string {\n    return "ping";\n  }'));
      await eventually(() => index().includes("pong: unary('pong'"), 'the rebuild after the second replacement', 20_000);
      // A file added by rename (a new contract saved atomically) is picked up as well.
      replaceFile(join(dir, 'other.ts'), `import { rpc } from 'p2pgen';\n\n@rpc.controller('/other')\nexport class Other {\n  @rpc.action()\n  hello(): string {\n    return 'hi';\n  }\n}\n`);
      await eventually(() => index().includes("hello: unary('hello'") && builds(output.stdout) >= 4, 'the rebuild after a new file was renamed in', 20_000);
      // One save is one build, however many events it raised (the temp file's write, the rename).
      expect(builds(output.stdout)).toBe(4);
      // A folder created after the watch started is watched too.
      mkdirSync(join(dir, 'more'));
      await eventually(() => builds(output.stdout) >= 5, 'the rebuild after a folder was created', 20_000);
      replaceFile(join(dir, 'more/third.ts'), `import { rpc } from 'p2pgen';\n\n@rpc.controller('/third')\nexport class Third {\n  @rpc.action()\n  third(): string {\n    return '3';\n  }\n}\n`);
      await eventually(() => index().includes("third: unary('third'"), 'the rebuild after a file in the new folder was replaced', 20_000);
      expect(output.stderr).toBe('');
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);

  it('rebuilds on change, reports a broken contract, and recovers', async () => {
    const dir = writeContracts('watch', { 'watched.ts': contract('ping(): string {\n    return "pong";\n  }') });
    const out = join(dir, 'out');
    const { child, output } = startWatcher(dir, out);
    try {
      await eventually(() => output.stdout.includes('watching'), 'the first build', 20_000);
      expect(readFileSync(join(out, 'index.ts'), 'utf8')).toMatch(/ping: unary\('ping', '[0-9a-f]{16}', Args_None, Returns_String, ''\)/);

      writeFileSync(join(dir, 'watched.ts'), contract('ping(times: number): string {\n    return "pong";\n  }'));
      await eventually(() => readFileSync(join(out, 'index.ts'), 'utf8').includes("Args_Double, Returns_String, 'times')"), 'the rebuild', 20_000);

      writeFileSync(join(dir, 'watched.ts'), contract('ping(x: any): string {\n    return "pong";\n  }'));
      await eventually(() => output.stderr.includes('error P2P1006'), 'the error report', 20_000);
      expect(child.exitCode).toBeNull();

      writeFileSync(join(dir, 'watched.ts'), contract('pong(): string {\n    return "ping";\n  }'));
      await eventually(() => readFileSync(join(out, 'index.ts'), 'utf8').includes("pong: unary('pong'"), 'the recovery', 20_000);
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});
