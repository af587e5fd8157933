/**
 * The browser chat example (`examples/browser-chat/`) as a user runs it: built by its
 * build.js, served by its serve.js (which starts the broker), two tabs of headless Chromium
 * (Debian's, driven by playwright-core) doing what a person would do with the mouse: chat,
 * share a 5 MiB file and download it in the other tab, close a tab. Screenshots of both tabs
 * go to `.tmp/artifacts/` (ignored by git) for a person to look at.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/harness.js';
import { repoRoot } from './support/paths.js';

const chromiumPath = process.env.P2PGEN_CHROMIUM ?? '/usr/bin/chromium';
const example = join(repoRoot, 'examples/browser-chat');
const artifacts = join(repoRoot, '.tmp/artifacts');

interface Served {
  child: ChildProcessByStdio<null, Readable, Readable>;
  output: { stdout: string; stderr: string };
  exited: Promise<number | null>;
  url: string;
}

const started: Served[] = [];

/** `node examples/browser-chat/serve.js --port 0`, once it printed where the page is. */
async function serve(): Promise<Served> {
  const child = spawn(process.execPath, [join(example, 'serve.js'), '--port', '0', '--host', '127.0.0.1'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const served = { child, output, exited, url: '' };
  started.push(served);
  await eventually(() => /browser chat on http:\/\/\S+/.test(output.stdout) || child.exitCode !== null, `serve.js to listen (stderr: ${output.stderr})`, 20_000);
  const url = /browser chat on (http:\/\/\S+)/.exec(output.stdout)?.[1];
  if (!url) throw new Error(`serve.js exited ${child.exitCode}: ${output.stderr}`);
  served.url = url;
  return served;
}

/** A GET with the path exactly as given (no URL normalising on our side). */
function get(base: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`browser tests need Chromium at ${chromiumPath} (npm test installs it: see test/support/ensure-tools.js)`);
  // The example's own build, as `npm run example:browser` runs it.
  await promisify(execFile)(process.execPath, [join(example, 'build.js')], { cwd: repoRoot });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(() => {
  // A server a failed test left running is stopped, by the pid this file started.
  for (const { child } of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** A tab of `context` on the page as peer `peer`, once it is connected, registered and knows who is here. */
async function openTab(context: BrowserContext, url: string, peer: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${peer}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${peer} console: ${m.text()}`);
  });
  await page.goto(`${url}?peer=${peer}`);
  await page.locator('body[data-state="ready"]').waitFor();
  return page;
}

/** A PNG of the whole page in `.tmp/artifacts/`, its path printed. */
async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `browser-chat-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  expect(readFileSync(path).subarray(1, 4).toString()).toBe('PNG');
  console.log(`browser-chat screenshot: ${path}`);
}

describe('the browser chat example', () => {
  it('two tabs chat, one downloads a 5 MiB file from the other with a full progress bar and the right SHA-256, and sees it leave', async () => {
    const { url } = await serve();
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, acceptDownloads: true });
    const errors: string[] = [];
    try {
      const tab1 = await openTab(context, url, 'tab-1', errors);
      const tab2 = await openTab(context, url, 'tab-2', errors);
      // Each sees the other through presence.
      await tab1.locator('#peers li[data-peer="tab-2"]').waitFor();
      await tab2.locator('#peers li[data-peer="tab-1"]').waitFor();
      expect(await tab2.locator('#status').textContent()).toBe('connected');

      // Chat: tab 1 sends, tab 2 receives.
      await tab1.fill('#message', 'hello from tab 1');
      await tab1.click('#send');
      const message = tab2.locator('#messages li[data-from="tab-1"]');
      await message.waitFor();
      expect(await message.textContent()).toMatch(/tab-1: hello from tab 1$/);
      expect(await tab1.locator('#messages li[data-mine]').textContent()).toMatch(/tab-1: hello from tab 1$/);

      // A file: tab 1 shares it (the file input, as a person picks a file), tab 2 downloads it.
      const file = randomBytes(5 * 1024 * 1024);
      const sha256 = createHash('sha256').update(file).digest('hex');
      await tab1.setInputFiles('#file', { name: 'five-mib.bin', mimeType: 'application/octet-stream', buffer: file });
      const offer = tab2.locator('#offers li[data-from="tab-1"][data-file-name="five-mib.bin"]');
      await offer.waitFor();
      // Every value the progress bar takes, recorded in the page as it changes.
      await offer.locator('progress').evaluate((bar: HTMLProgressElement) => {
        const seen: number[] = [];
        (window as unknown as { progressSeen: number[] }).progressSeen = seen;
        new MutationObserver(() => seen.push(bar.value)).observe(bar, { attributeFilter: ['value'] });
      });
      await offer.locator('button.download').click();
      await tab2.locator('#offers li[data-file-name="five-mib.bin"]:is([data-state="verified"], [data-state="failed"])').waitFor({ timeout: 60_000 });
      expect(await offer.locator('.result').textContent()).toMatch(/^SHA-256 verified /);
      expect(await offer.getAttribute('data-state')).toBe('verified');
      expect(await offer.locator('.result .hash').textContent()).toBe(sha256);
      const bar = await offer.locator('progress').evaluate((p: HTMLProgressElement) => ({ value: p.value, max: p.max, hidden: p.hidden }));
      expect(bar).toEqual({ value: file.length, max: file.length, hidden: false });
      expect(await offer.locator('.percent').textContent()).toBe('100%');
      // It moved with the chunks as they came (64 KiB each, the seed's chunk size), never back.
      const seen = await tab2.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
      expect([...new Set(seen)]).toEqual(Array.from({ length: 81 }, (_, i) => i * 64 * 1024));

      // And the bytes themselves, saved as a person would save them: the same file.
      const [download] = await Promise.all([tab2.waitForEvent('download'), offer.locator('a[download]').click()]);
      expect(download.suggestedFilename()).toBe('five-mib.bin');
      const saved = readFileSync(await download.path());
      expect(saved.length).toBe(file.length);
      expect(createHash('sha256').update(saved).digest('hex')).toBe(sha256);

      // A tab that comes later is offered what was shared before it came.
      const tab3 = await openTab(context, url, 'tab-3', errors);
      await tab3.locator('#offers li[data-from="tab-1"][data-file-name="five-mib.bin"][data-state="offered"]').waitFor();
      await tab3.close();

      await screenshot(tab1, 'tab-1');

      // Tab 1 closes: tab 2 is told it left, and it is no longer listed.
      await tab1.close();
      await tab2.locator('#events li[data-type="left"][data-peer="tab-1"]').waitFor();
      expect(await tab2.locator('#peers li[data-peer="tab-1"]').count()).toBe(0);
      await screenshot(tab2, 'tab-2');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('a tab whose id is taken says so, and does not show itself as connected', async () => {
    const { url } = await serve();
    const context = await browser.newContext();
    const errors: string[] = [];
    try {
      const alice = await openTab(context, url, 'alice', errors);
      const taken = await context.newPage();
      await taken.goto(`${url}?peer=alice`);
      // Set once the tab has left the broker again: its status no longer changes.
      await taken.locator('body[data-state="error"]').waitFor();
      expect(await taken.locator('#error').textContent()).toBe("another tab is already 'alice': open this page with ?peer=another-name");
      expect(await taken.locator('#status').textContent()).toBe('not registered');
      expect(await taken.locator('#status').getAttribute('data-state')).toBe('error');
      // The first alice is untouched.
      expect(await alice.locator('#status').textContent()).toBe('connected');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("the sharer's entry names the tabs the file is on offer to now: not one that left, and one that came later", async () => {
    const { url } = await serve();
    const context = await browser.newContext();
    const errors: string[] = [];
    try {
      const alice = await openTab(context, url, 'alice', errors);
      const bob = await openTab(context, url, 'bob', errors);
      await alice.locator('#peers li[data-peer="bob"]').waitFor();
      await alice.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('some notes\n') });
      const line = alice.locator('#offers li[data-mine][data-file-name="notes.txt"] .offered-to');
      await alice.locator('#offers li[data-mine][data-file-name="notes.txt"] .offered-to[data-offered-to="bob"]').waitFor();
      expect(await line.textContent()).toBe('11 B, shared by you, offered to bob');
      await bob.locator('#offers li[data-from="alice"][data-file-name="notes.txt"]').waitFor();

      await bob.close();
      await alice.locator('#events li[data-type="left"][data-peer="bob"]').waitFor();
      expect(await line.textContent()).toBe('11 B, shared by you (offered to whoever comes)');

      const carol = await openTab(context, url, 'carol', errors);
      await carol.locator('#offers li[data-from="alice"][data-file-name="notes.txt"]').waitFor();
      await alice.locator('#offers li[data-mine][data-file-name="notes.txt"] .offered-to[data-offered-to="carol"]').waitFor();
      expect(await line.textContent()).toBe('11 B, shared by you, offered to carol');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('serves the page with the broker it started, nothing else from the disk, and stops on SIGTERM', async () => {
    const served = await serve();
    const brokerPort = /broker listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(served.output.stdout)?.[1];
    const page = await get(served.url, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<meta name="p2pgen-broker-port" content="${brokerPort}" />`);
    expect(page.headers['content-security-policy']).toContain(`connect-src 'self' ws://127.0.0.1:${brokerPort}`);
    expect((await get(served.url, '/page.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/serve.js', '/dist/page.js', '/page.ts']) {
      expect([path, (await get(served.url, path)).status]).toEqual([path, 404]);
    }
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    expect(served.output.stdout).toContain('SIGTERM: stopping\nstopped\n');
  });
});
