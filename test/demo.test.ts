/**
 * `npm run demo`, the README's first command, as CI runs it: to completion, with its output in
 * a pipe (plain progress lines), telling each step of the seed's story in order. And the
 * progress bar it draws, on a terminal and off one.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ProgressLine, progressBar } from '../examples/progress-bar.js';
import { repoRoot } from './support/paths.js';

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'demo'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo', () => {
  it('runs the seed story to the end: broker, peers, chat, discovery, a file with a progress bar, a denied call, shutdown', async () => {
    const { code, stdout, stderr } = await runDemo();
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    // Each of these, in this order (lines in between may vary: timestamps, ports).
    const expected: (string | RegExp)[] = [
      '== broker',
      /broker listening on ws:\/\/127\.0\.0\.1:\d+ \(security: DemoSecurity, audit on\)/,
      '== peers',
      'client-1 connected and registered',
      'client-2 connected and registered',
      'client-1 sees: client-2 joined',
      '== chat',
      'Received message from client-1: Hello from client 1!',
      'Received message from client-2: Hello back from client 2!',
      /messages on client 1: client-2: "Hello back from client 2!" \(ChatMessage, \d{4}-\d\d-\d\dT/,
      '== discovery',
      "client 2 capabilities: [ 'chat', 'screen-sharing' ]",
      'peer client-1 serves /chat, /discovery',
      'peer client-2 serves /chat, /discovery',
      '== file sharing',
      'File document.pdf (file-123) is now available for sharing',
      'client-2 receives document.pdf [########                      ]  25% 1.0 MiB',
      'client-2 receives document.pdf [###############               ]  50% 2.0 MiB',
      'client-2 receives document.pdf [#######################       ]  75% 3.0 MiB',
      'client-2 receives document.pdf [##############################] 100% 4.0 MiB',
      /File transfer completed: 4194304 bytes, every chunk's checksum and the file's SHA-256 \([0-9a-f]{16}…\) match/,
      '== collaboration',
      'doc-42 collaborators: client-1, client-2',
      'Edit applied by client-1: insert at 0',
      'one call, applied by: client-2',
      '== access control',
      /client-2 calls clearMessages on client-1: ACCESS_DENIED: /,
      'broker audit: denied call by client-2 to client-1 /chat clearMessages',
      'client-1 still has 1 message(s)',
      'client-1 clears its own chat: allowed, 0 message(s) left',
      '== errors',
      "calling a peer that is not there: PEER_NOT_FOUND: Peer not found: 'client-3'",
      '== shutdown',
      'client-1 sees: client-2 left',
      'client-1 and client-2 disconnected; broker closed',
    ];
    const lines = stdout.split('\n');
    let at = 0;
    for (const want of expected) {
      const found = lines.findIndex((line, i) => i >= at && (typeof want === 'string' ? line === want : want.test(line)));
      expect(found, `${String(want)} after line ${at} of:\n${stdout}`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
    // Off a terminal the bar is four plain lines, never carriage returns.
    expect(stdout).not.toContain('\r');
    expect(lines.filter((line) => line.startsWith('client-2 receives'))).toHaveLength(4);
    expect(lines.at(-2)).toBe('client-1 and client-2 disconnected; broker closed');
  }, 180_000);
});

describe('the demo progress bar', () => {
  it('draws done of total in a bar of fixed width', () => {
    expect(progressBar(5, 10, 10)).toBe('[#####     ]  50%');
    expect(progressBar(0, 10, 10)).toBe('[          ]   0%');
    expect(progressBar(10, 10, 10)).toBe('[##########] 100%');
    expect(progressBar(15, 10, 4)).toBe('[####] 100%');
    expect(progressBar(0, 0, 4)).toBe('[####] 100%');
  });

  it('redraws one line in place on a terminal, and writes a line per quarter elsewhere', () => {
    const writes = (isTTY: boolean) => {
      const out: string[] = [];
      const line = new ProgressLine({ isTTY, write: (text: string) => out.push(text) }, 'file', 8);
      for (let done = 0; done <= 8; done++) line.update(done);
      line.finish();
      return out;
    };
    const tty = writes(true);
    expect(tty).toHaveLength(10);
    expect(tty.slice(0, 9).every((w) => w.startsWith('\rfile [') && !w.includes('\n'))).toBe(true);
    expect(tty[8]).toBe('\rfile [##############################] 100%\x1b[K');
    expect(tty[9]).toBe('\n');
    const narrow: string[] = [];
    new ProgressLine({ isTTY: true, columns: 20, write: (text: string) => narrow.push(text) }, 'file', 8).update(4);
    expect(narrow).toEqual(['\rfile [#############\x1b[K']);
    expect(writes(false)).toEqual(['25%', '50%', '75%', '100%'].map((p) => `file ${progressBar(Number.parseInt(p), 100)}\n`));
  });
});
