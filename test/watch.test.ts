/**
 * `p2pgen build --watch`: rebuilds when a contract changes, reports errors without exiting,
 * and recovers when they are fixed. The watcher is a child process this test starts and stops.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from './support/harness.js';
import { writeContracts } from './support/contracts-dir.js';
import { repoRoot } from './support/paths.js';

const contract = (action: string) => `import { rpc } from 'p2pgen';\n\n@rpc.controller('/watched')\nexport class Watched {\n  @rpc.action()\n  ${action}\n}\n`;

describe('p2pgen build --watch', () => {
  it('rebuilds on change, reports a broken contract, and recovers', async () => {
    const dir = writeContracts('watch', { 'watched.ts': contract('ping(): string {\n    return "pong";\n  }') });
    const out = join(dir, 'out');
    const child = spawn(process.execPath, [join(repoRoot, 'bin/p2pgen.js'), 'build', dir, '--out', out, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await eventually(() => stdout.includes('watching'), 'the first build', 20_000);
      expect(readFileSync(join(out, 'index.ts'), 'utf8')).toMatch(/ping: unary\('ping', '[0-9a-f]{16}', Args_None, Returns_String, ''\)/);

      writeFileSync(join(dir, 'watched.ts'), contract('ping(times: number): string {\n    return "pong";\n  }'));
      await eventually(() => readFileSync(join(out, 'index.ts'), 'utf8').includes("Args_Double, Returns_String, 'times')"), 'the rebuild', 20_000);

      writeFileSync(join(dir, 'watched.ts'), contract('ping(x: any): string {\n    return "pong";\n  }'));
      await eventually(() => stderr.includes('error P2P1006'), 'the error report', 20_000);
      expect(child.exitCode).toBeNull();

      writeFileSync(join(dir, 'watched.ts'), contract('pong(): string {\n    return "ping";\n  }'));
      await eventually(() => readFileSync(join(out, 'index.ts'), 'utf8').includes("pong: unary('pong'"), 'the recovery', 20_000);
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});
