/**
 * A browser tab is a peer: headless Chromium (Debian's, driven by playwright-core) loads the
 * `p2pgen` client bundled for the browser with the generated contracts, connects to a real
 * broker, calls a Node peer and serves a controller the Node peer calls back.
 */
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import '../generated/index.js';
import { ChatPeerController } from '../contracts/chat.js';
import { PeerDiscoveryController } from '../contracts/discovery.js';
import { eventually, startBroker } from './support/harness.js';
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

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`browser tests need Chromium at ${chromiumPath} (npm test installs it: see test/support/ensure-tools.js)`);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('in a browser', () => {
  it('a tab connects, calls a Node peer, and serves a controller the Node peer calls', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const bundle = await build({
      stdin: { contents: pageSource, resolveDir: repoRoot, loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const { peer, broker } = await startBroker();
    const nodePeer = await peer('node-peer');
    nodePeer.registerController('/chat', new ChatPeerController());
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await page.setContent('<!doctype html><title>p2pgen peer</title>');
      await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
      const messages = await page.evaluate((url) => (window as unknown as { runPeer(u: string): Promise<unknown> }).runPeer(url), broker.url);
      expect(messages).toEqual([{ from: 'browser-peer', message: 'hello from a tab', instance: true, date: true }]);

      // And the other way: the Node peer calls the tab.
      const capabilities = await nodePeer.peer('browser-peer').controller<PeerDiscoveryController>('/discovery').getCapabilities();
      expect(capabilities).toEqual(['webrtc', 'camera']);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
    await eventually(() => broker.stats().peers === 1, 'the tab to leave when it closes');
  });
});
