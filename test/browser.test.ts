/**
 * A browser tab is a peer: headless Chromium (Debian's, driven by playwright-core) loads the
 * `p2pgen` client bundled for the browser with the generated contracts, connects to a real
 * broker, calls a Node peer and serves a controller the Node peer calls back. The page is
 * served from localhost (a loopback page: the broker, on loopback, lets it in); the same page
 * served as another site's is refused (its origin is not allowed).
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import '../generated/index.js';
import { ChatPeerController } from '../contracts/chat.js';
import { PeerDiscoveryController } from '../contracts/discovery.js';
import { eventually, startBroker } from './support/harness.js';
import { countingTransport, type ByteCounter } from './support/counting-transport.js';
import { InterceptController, jsonLike } from './fixtures/intercept/intercept.js';
import '../.tmp/gen/intercept/index.js';
import { repoRoot } from './support/paths.js';

const chromiumPath = process.env.P2PGEN_CHROMIUM ?? '/usr/bin/chromium';

/** What runs in the page: a peer, as a browser application would write it. */
const pageSource = `
import { RpcWebSocketClient } from 'p2pgen';
import './generated/index.ts';
import { ChatMessage } from './contracts/chat.ts';
import { PeerDiscoveryController } from './contracts/discovery.ts';

window.runPeer = async (url) => {
  const client = new RpcWebSocketClient(url);
  await client.connect();
  await client.registerAsPeer('browser-peer');
  const discovery = new PeerDiscoveryController();
  await discovery.registerCapabilities(['webrtc', 'camera']);
  client.registerController('/discovery', discovery);
  const chat = client.peer('node-peer').controller('/chat');
  await chat.sendMessage(new ChatMessage('browser-peer', 'hello from a tab'));
  const messages = await chat.getMessages();
  window.client = client;
  return messages.map((m) => ({ from: m.from, message: m.message, instance: m instanceof ChatMessage, date: m.timestamp instanceof Date }));
};
`;

/** A tab that compresses (CompressionStream): calls a Node peer that compresses too, and serves it. */
const compressingSource = `
import { RpcWebSocketClient } from 'p2pgen';
import { lastValueFrom, toArray } from 'rxjs';
import './.tmp/gen/intercept/index.ts';
import { InterceptController, jsonLike } from './test/fixtures/intercept/intercept.ts';

window.runCompressing = async (url) => {
  const client = new RpcWebSocketClient(url, { compression: true });
  await client.connect();
  await client.registerAsPeer('browser-peer');
  client.registerController('/intercept', new InterceptController());
  window.client = client;
  const remote = client.peer('node-peer').controller('/intercept');
  const text = jsonLike(64 * 1024);
  await remote.upload(text);
  const uploaded = await remote.upload(text);
  const answer = await remote.text(64 * 1024);
  const items = await lastValueFrom((await remote.texts(6, 16 * 1024)).pipe(toArray()));
  const expected = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? jsonLike(16 * 1024, i) : 'small-' + i));
  return { uploaded, answerMatches: answer === text, itemsMatch: JSON.stringify(items) === JSON.stringify(expected) };
};
`;

let browser: Browser;

async function bundlePage(source = pageSource): Promise<string> {
  const bundle = await build({
    stdin: { contents: source, resolveDir: repoRoot, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return `<!doctype html><title>p2pgen peer</title><script>${bundle.outputFiles[0]!.text.replace(/<\/script/g, '<\\/script')}</script>`;
}

/** Serves `html` at http://localhost:<port>/ (a page of this machine). */
async function servePage(html: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://localhost:${(server.address() as { port: number }).port}/`, server };
}

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`browser tests need Chromium at ${chromiumPath} (npm test installs it: see test/support/ensure-tools.js)`);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // Recent Chromium asks the user before a public page reaches a local address (Local Network
    // Access); other browsers and older versions do not. Turned off, so that the broker's own
    // origin check is what the test sees.
    args: ['--no-sandbox', '--disable-gpu', '--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('in a browser', () => {
  it('a tab connects, calls a Node peer, and serves a controller the Node peer calls', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const site = await servePage(await bundlePage());
    const { peer, broker } = await startBroker();
    const nodePeer = await peer('node-peer');
    nodePeer.registerController('/chat', new ChatPeerController());
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await page.goto(site.url);
      const messages = await page.evaluate((url) => (window as unknown as { runPeer(u: string): Promise<unknown> }).runPeer(url), broker.url);
      expect(messages).toEqual([{ from: 'browser-peer', message: 'hello from a tab', instance: true, date: true }]);

      // And the other way: the Node peer calls the tab.
      const capabilities = await nodePeer.peer('browser-peer').controller<PeerDiscoveryController>('/discovery').getCapabilities();
      expect(capabilities).toEqual(['webrtc', 'camera']);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      await new Promise((resolve) => site.server.close(resolve));
    }
    await eventually(() => broker.stats().peers === 1, 'the tab to leave when it closes');
  });

  it('a page of another site cannot connect to a broker on this machine (its origin is refused with 403)', async () => {
    const html = await bundlePage();
    const { broker } = await startBroker();
    const page = await browser.newPage();
    try {
      // The browser believes it loaded http://evil.example/: that is the origin its socket announces.
      await page.route('http://evil.example/', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
      await page.goto('http://evil.example/');
      const outcome = await page.evaluate(
        (url) => (window as unknown as { runPeer(u: string): Promise<unknown> }).runPeer(url).then(() => 'connected', (e: Error) => e.message),
        broker.url,
      );
      expect(outcome).toContain('NOT_CONNECTED');
      expect(broker.stats().connections).toBe(0);
      // The same page, with its origin allowed, gets through (and on to calling a peer that is not there).
      const allowing = await startBroker({ allowedOrigins: ['http://evil.example'] });
      const allowed = await page.evaluate(
        (url) => (window as unknown as { runPeer(u: string): Promise<unknown> }).runPeer(url).then(() => 'connected', (e: Error) => e.message),
        allowing.broker.url,
      );
      expect(allowed).toContain('PEER_NOT_FOUND');
    } finally {
      await page.close();
    }
  });

  it('compression both ways between a tab (CompressionStream) and a Node peer (zlib) through a broker that forwards the bytes as they are', async () => {
    const site = await servePage(await bundlePage(compressingSource));
    const { peer, broker } = await startBroker();
    const counter: ByteCounter = { sent: 0, received: 0 };
    const nodePeer = await peer('node-peer', { compression: true, transport: countingTransport(counter) });
    nodePeer.registerController('/intercept', new InterceptController());
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const text = jsonLike(64 * 1024);
    try {
      await page.goto(site.url);
      // The tab calls: its first upload asks what the Node peer takes, the second goes compressed; the answers come compressed.
      const outcome = await page.evaluate((url) => (window as unknown as { runCompressing(u: string): Promise<unknown> }).runCompressing(url), broker.url);
      expect(outcome).toEqual({ uploaded: `${text.length}:${text.slice(0, 8)}:${text.slice(-8)}`, answerMatches: true, itemsMatch: true });
      expect(counter.received).toBeLessThan(text.length + 20_000);
      expect(counter.sent).toBeLessThan(20_000);
      // The Node peer calls the tab: the same both ways.
      counter.sent = counter.received = 0;
      const tab = nodePeer.peer('browser-peer').controller<InterceptController>('/intercept');
      await tab.upload(text);
      expect(await tab.upload(text)).toBe(`${text.length}:${text.slice(0, 8)}:${text.slice(-8)}`);
      expect(await tab.text(64 * 1024)).toBe(text);
      expect(counter.sent).toBeLessThan(text.length + 20_000);
      expect(counter.received).toBeLessThan(20_000);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      await new Promise((resolve) => site.server.close(resolve));
    }
  });
});
