/**
 * Who may connect: browser origins (403 for pages of other sites), protected mode (a broker
 * without a security module takes loopback clients only, unless insecure), connections per
 * remote address (429), unauthenticated connections (503, and silent sockets closed at the
 * handshake timeout), and a broker attached to the application's own http/https server.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { createBroker, RpcKernelSecurity, type Broker } from '../runtime/broker/index.js';
import { FrameType, PROTOCOL_VERSION } from '../runtime/wire/frame.js';
import { jsonFrame, readJson } from '../runtime/wire/text.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { repoRoot } from './support/paths.js';
import { rejection } from './support/rejection.js';

/** What an upgrade with these headers gets: 'open', the HTTP status of the refusal, or 'closed' (the TCP connection was closed before any answer). */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<'open' | 'closed' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', () => resolve('closed'));
  });
}

const servers: Server[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('origins', () => {
  it('refuses a page of another site with 403 by default; lets non-browsers, its own origin and loopback pages in', async () => {
    const { broker } = await startBroker();
    const host = new URL(broker.url).host;
    expect(await upgrade(broker.url, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgrade(broker.url, { origin: 'null' })).toBe(403);
    expect(await upgrade(broker.url)).toBe('open');
    expect(await upgrade(broker.url, { origin: `http://${host}` })).toBe('open');
    expect(await upgrade(broker.url, { origin: 'http://localhost:5173' })).toBe('open');
    expect(await upgrade(broker.url, { origin: 'http://127.0.0.1:3000' })).toBe('open');
    // DNS rebinding: a foreign name that resolves to this machine is still a foreign origin,
    // even when the page's browser sends that name as the Host (it does: the page's URL has it).
    const port = new URL(broker.url).port;
    expect(await upgrade(broker.url, { origin: 'http://rebind.evil.example:1234' })).toBe(403);
    expect(await upgrade(broker.url, { origin: `http://rebind.evil.example:${port}`, host: `rebind.evil.example:${port}` })).toBe(403);
    await eventually(() => broker.stats().connections === 0, 'the probes to be gone');
  });

  it('with allowedOrigins, exactly those (and its own origin); * lets any page in', async () => {
    const { broker } = await startBroker({ allowedOrigins: ['https://app.example.com'] });
    expect(await upgrade(broker.url, { origin: 'https://app.example.com' })).toBe('open');
    expect(await upgrade(broker.url, { origin: 'https://app.example.com.evil.example' })).toBe(403);
    expect(await upgrade(broker.url, { origin: 'http://localhost:5173' })).toBe(403);
    expect(await upgrade(broker.url, { origin: `http://${new URL(broker.url).host}` })).toBe('open');
    // Its own origin is its own scheme, name and port: not another scheme, not whatever Host the request names.
    const port = new URL(broker.url).port;
    expect(await upgrade(broker.url, { origin: `https://${new URL(broker.url).host}` })).toBe(403);
    expect(await upgrade(broker.url, { origin: `http://rebind.evil.example:${port}`, host: `rebind.evil.example:${port}` })).toBe(403);
    const any = await startBroker({ allowedOrigins: ['*'] });
    expect(await upgrade(any.broker.url, { origin: 'https://anywhere.example' })).toBe('open');
    await eventually(() => broker.stats().connections === 0 && any.broker.stats().connections === 0, 'the probes to be gone');
  });
});

/** The application's http server, on which every socket appears to come from `remoteAddress` (as if from another machine). */
async function serverSeenFrom(remoteAddress: string): Promise<Server> {
  const server = createHttpServer((_req, res) => res.end('app'));
  server.prependListener('connection', (socket: Socket) => Object.defineProperty(socket, 'remoteAddress', { value: remoteAddress }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return server;
}

describe('protected mode', () => {
  it('without a security module, a client from another machine is told why and refused; loopback clients, insecure: true and a security module let it in', async () => {
    const remote = await serverSeenFrom('203.0.113.7');
    const broker = await createBroker({ server: remote });
    brokers.push(broker);
    expect(broker.protectedMode).toBe(true);
    const refused = await rejection(new RpcWebSocketClient(broker.url, { reconnect: false }).connect());
    expect(refused.code).toBe(RpcErrorCode.AUTHENTICATION_FAILED);
    expect(refused.rawMessage).toContain('protected mode');
    await broker.close();

    const open = await createBroker({ server: remote, insecure: true, log: () => undefined });
    brokers.push(open);
    const client = new RpcWebSocketClient(open.url, { reconnect: false });
    await client.connect();
    await client.disconnect();
    await open.close();

    const secured = await createBroker({ server: remote, security: new RpcKernelSecurity() });
    brokers.push(secured);
    expect(secured.protectedMode).toBe(false);
    const another = new RpcWebSocketClient(secured.url, { reconnect: false });
    await another.connect();
    await another.disconnect();

    const local = await serverSeenFrom('127.0.0.1');
    const localBroker = await createBroker({ server: local });
    brokers.push(localBroker);
    const loopbackClient = new RpcWebSocketClient(localBroker.url, { reconnect: false });
    await loopbackClient.connect();
    await loopbackClient.disconnect();
  });
});

describe('connection limits', () => {
  it('maxConnectionsPerAddress: past it 429; when one leaves there is room again', async () => {
    const { broker, client } = await startBroker({ maxConnectionsPerAddress: 3 });
    const three = [await client(), await client(), await client()];
    expect(await upgrade(broker.url)).toBe(429);
    await three[0]!.disconnect();
    await eventually(() => broker.stats().connections === 2, 'the first to be gone');
    const again = await client();
    expect(again.state.value).toBe('connected');
  });

  it('trustProxy: behind a listed proxy each client counts as the address X-Forwarded-For names; anyone else writing the header is not believed', async () => {
    const events: { type: string; remoteAddress?: string }[] = [];
    // insecure: protected mode would refuse the (non-loopback) clients the proxy names.
    const { broker } = await startBroker({ maxConnectionsPerAddress: 1, trustProxy: ['127.0.0.1'], insecure: true, audit: (e) => events.push(e as never) });
    // Held open: one connection per client address at most.
    const held: WebSocket[] = [];
    const open = (headers: Record<string, string>, localAddress?: string) =>
      new Promise<'open' | number>((resolve) => {
        const ws = new WebSocket(broker.url, { headers, ...(localAddress ? { localAddress } : {}) });
        ws.once('open', () => {
          held.push(ws);
          resolve('open');
        });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      });
    try {
      expect(await open({ 'x-forwarded-for': '203.0.113.7' })).toBe('open');
      expect(await open({ 'x-forwarded-for': '198.51.100.2, 203.0.113.8' })).toBe('open'); // the right-most hop the proxy saw
      expect(await open({ 'x-forwarded-for': '203.0.113.7' })).toBe(429);
      // Not through the proxy (another address): the header is the client's word, and it is not believed.
      expect(await open({ 'x-forwarded-for': '203.0.113.9' }, '127.0.0.2')).toBe('open');
      expect(await open({ 'x-forwarded-for': '203.0.113.10' }, '127.0.0.2')).toBe(429);
      // Without the header, the proxy's own address.
      expect(await open({})).toBe('open');
      await eventually(() => events.filter((e) => e.type === 'connect').length === 4, 'four connections audited');
      expect(events.filter((e) => e.type === 'connect').map((e) => e.remoteAddress)).toEqual(['203.0.113.7', '203.0.113.8', '127.0.0.2', '127.0.0.1']);
    } finally {
      for (const ws of held) ws.terminate();
    }
  });

  it('slowloris: sockets trickling a header byte at a time hold no slot past the handshake timeout, and never lock out a fresh client or /healthz', async () => {
    const h = await startBroker({ maxUnauthenticatedConnections: 20, handshakeTimeoutMs: 1500 });
    const { port } = new URL(h.broker.url);
    // 40 sockets, each sending one byte of a never-ending request head every 100 ms.
    const tricklers: Socket[] = [];
    const trickle = setInterval(() => {
      for (const socket of tricklers) if (!socket.destroyed) socket.write('X');
    }, 100);
    let closed = 0;
    try {
      for (let i = 0; i < 40; i++) {
        const socket = connectTcp(Number(port), '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('close', () => closed++);
        socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nX-Slow: '));
        tricklers.push(socket);
      }
      await eventually(() => tricklers.every((s) => s.writable || s.destroyed) && h.broker.stats().unauthenticated >= 20, 'the tricklers to hold the slots', 5000);
      // A fresh client and a health check get in while the slots are taken.
      const fresh = new RpcWebSocketClient(h.broker.url, { reconnect: false });
      await fresh.connect();
      await fresh.registerAsPeer('fresh');
      await fresh.disconnect();
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      // Trickling does not extend the deadline: every trickler is closed (the timeout is 1.5 s; they trickle on).
      await eventually(() => closed === 40, `every trickler to be closed (${closed} of 40 so far)`, 10_000);
    } finally {
      clearInterval(trickle);
      for (const socket of tricklers) socket.destroy();
    }
  });

  it('5,000 silent TCP sockets: at most maxUnauthenticatedConnections are held, all are closed by the handshake timeout, the pair keeps talking', async () => {
    const h = await startBroker({ maxUnauthenticatedConnections: 50, handshakeTimeoutMs: 300 });
    const callee = await h.peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.peer('caller');
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
    const { port } = new URL(h.broker.url);
    let closed = 0;
    let peak = 0;
    // In batches the listen backlog takes (the kernel would drop what overflows it, unseen by the broker).
    for (let batch = 0; batch < 25; batch++) {
      await Promise.all(
        Array.from({ length: 200 }, () => {
          const socket = connectTcp(Number(port), '127.0.0.1');
          socket.on('error', () => undefined);
          socket.on('close', () => closed++);
          return new Promise((resolve) => socket.once('connect', resolve).once('close', resolve));
        }),
      );
      expect(await remote.identity(batch)).toBe(batch);
      peak = Math.max(peak, h.broker.stats().unauthenticated);
    }
    await eventually(
      () => {
        peak = Math.max(peak, h.broker.stats().unauthenticated);
        return closed === 5000;
      },
      'every silent socket to be closed',
      20_000,
    );
    expect(peak).toBeLessThanOrEqual(50);
    expect(h.broker.stats().unauthenticated).toBe(0);
    expect(await remote.identity(1)).toBe(1);
  });

  it('WebSocket connections that never say hello count too: past the bound new ones are refused; each is closed at the handshake timeout (1008)', async () => {
    const own = await startBroker({ maxUnauthenticatedConnections: 20, handshakeTimeoutMs: 300 });
    // On the application's server the broker sees only upgrades: they get 503.
    const app = await serverSeenFrom('127.0.0.1');
    const attached = await createBroker({ server: app, maxUnauthenticatedConnections: 20, handshakeTimeoutMs: 300 });
    brokers.push(attached);
    for (const [broker, refusal] of [
      [own.broker, 'closed'],
      [attached, 503],
    ] as const) {
      const closes: Promise<number>[] = [];
      for (let i = 0; i < 20; i++) {
        const ws = new WebSocket(broker.url);
        closes.push(new Promise((resolve) => ws.once('close', (code) => resolve(code))));
        await new Promise((resolve) => ws.once('open', resolve));
      }
      expect(await upgrade(broker.url)).toBe(refusal);
      expect(new Set(await Promise.all(closes))).toEqual(new Set([1008]));
      await eventually(() => broker.stats().unauthenticated === 0, 'nobody left half-open');
      expect(await upgrade(broker.url)).toBe('open');
    }
  });
});

describe('createBroker({ server })', () => {
  it("attaches to the application's http server on a path: peers call each other, the app keeps its requests and other upgrades, close() leaves it running", async () => {
    const server = createHttpServer((_req, res) => res.end('the app'));
    const appSockets = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/app-socket') appSockets.handleUpgrade(req, socket, head, (ws) => ws.send('app says hi'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const broker = await createBroker({ server, path: '/rpc' });
    brokers.push(broker);
    expect(broker.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/rpc$/);
    const callee = new RpcWebSocketClient(broker.url);
    await callee.connect();
    await callee.registerAsPeer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = new RpcWebSocketClient(broker.url);
    await caller.connect();
    expect(await caller.peer('callee').controller<BehaviorsController>('/behaviors').identity(9)).toBe(9);
    const port = (server.address() as { port: number }).port;
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('the app');
    const appClient = new WebSocket(`ws://127.0.0.1:${port}/app-socket`);
    expect(String(await new Promise((resolve) => appClient.once('message', resolve)))).toBe('app says hi');
    appClient.close();
    await caller.disconnect();
    await callee.disconnect();
    await broker.close();
    expect(server.listening).toBe(true);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('the app');
    appSockets.close();
  });

  it('on an https server the URL is wss:// and the handshake runs over TLS', async () => {
    const tls = { key: readFileSync(join(repoRoot, 'test/fixtures/tls/key.pem')), cert: readFileSync(join(repoRoot, 'test/fixtures/tls/cert.pem')) };
    const server = createHttpsServer(tls, (_req, res) => res.end('secure app'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const broker = await createBroker({ server });
    brokers.push(broker);
    expect(broker.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const ws = new WebSocket(broker.url, { ca: tls.cert });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(jsonFrame(FrameType.Hello, 0, { protocol: PROTOCOL_VERSION }));
    const welcome = await new Promise<Buffer>((resolve) => ws.once('message', resolve));
    expect(welcome[1]).toBe(FrameType.Welcome);
    expect(readJson(welcome, 12)).toMatchObject({ maxFrameBytes: 1 << 20 });
    ws.close();
    await eventually(() => broker.stats().connections === 0, 'the connection to be gone');
  });
});
