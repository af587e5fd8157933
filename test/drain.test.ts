/**
 * Graceful shutdown and health, on real brokers: /healthz says 200 while a broker serves and
 * 503 once it drains; a draining broker refuses new connections, refuses no call, tells its
 * clients to go away: they move to the next broker of their list first (ids and new calls go
 * there), and close the old connection once the calls on it finished. A connection that does
 * not move by itself is closed with 1001 once it has nothing open. An application's own server
 * keeps its routes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createBroker, type Broker } from '../runtime/broker/index.js';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { httpGet, parseExposition } from './support/prometheus-text.js';
import { RawPeer } from './support/raw-peer.js';
import { rejection } from './support/rejection.js';
import { failoverClient } from './support/failover-client.js';
import { GatedBehaviors } from './support/gated-behaviors.js';

const healthUrl = (broker: Broker) => `${broker.url.replace('ws://', 'http://')}/healthz`;

describe('health and drain', () => {
  it('drains: /healthz 503, new connections refused, clients move to the next broker before they leave, calls in flight finish where they are, no call refused', async () => {
    const first = await startBroker({ metrics: { port: 0 } });
    const second = await startBroker();
    const urls = [first.broker.url, second.broker.url];
    const metricsHealth = first.broker.metrics!.url!.replace('/metrics', '/healthz');
    expect(await httpGet(healthUrl(first.broker))).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    expect(await httpGet(metricsHealth)).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    expect(first.broker.health()).toEqual({ status: 'ok' });

    const callee = await failoverClient(urls, 'callee');
    const controller = new GatedBehaviors();
    callee.client.registerController('/behaviors', controller);
    const caller = await failoverClient(urls, 'caller');
    const idle = await failoverClient(urls, 'idle');
    const watcher = await RawPeer.connect(first.broker.url);
    const remote = caller.client.peer('callee').controller<BehaviorsController>('/behaviors');
    const inFlight = remote.delay(7);
    await eventually(() => controller.started === 1, 'the call to reach the callee');

    const drained = first.broker.drain({ deadlineMs: 60_000 });
    expect(first.broker.health()).toEqual({ status: 'draining' });
    expect(await httpGet(healthUrl(first.broker))).toMatchObject({ status: 503, body: '{"status":"draining"}' });
    expect(await httpGet(metricsHealth)).toMatchObject({ status: 503, body: '{"status":"draining"}' });
    expect(parseExposition((await httpGet(first.broker.metrics!.url!)).body).value('p2pgen_broker_draining')).toBe(1);

    // Every client moves to the second broker without a break: connected there before it leaves.
    await eventually(() => [callee, caller, idle].every((c) => c.events.some((e) => e.type === 'reconnected')), 'the clients to move');
    for (const c of [callee, caller, idle]) {
      expect(c.events).toEqual([{ type: 'reconnected', url: second.broker.url }]);
      expect(c.client.state.value).toBe('connected');
    }
    // A connection that does not move by itself (a raw peer) is closed with 1001 once it has nothing open.
    expect(await watcher.waitClosed()).toEqual({ code: 1001, reason: 'broker draining' });
    // No new connections; new calls are not refused: they go to the second broker.
    expect((await rejection(new RpcWebSocketClient(first.broker.url, { reconnect: false }).connect())).code).toBe(RpcErrorCode.NOT_CONNECTED);
    expect(await remote.identity(1)).toBe(1);
    // The call made before the move is still open, on the old connections.
    expect(first.broker.stats()).toMatchObject({ connections: 2, routes: 1 });

    controller.release();
    expect(await inFlight).toBe(7);
    await drained;
    expect(first.broker.health()).toEqual({ status: 'closed' });
    expect((await caller.client.listPeers()).map((p) => p.id).sort()).toEqual(['callee', 'caller', 'idle']);
    expect(await remote.identity(42)).toBe(42);
    await Promise.all([callee, caller, idle].map((c) => c.client.disconnect()));
  });

  it('at the deadline the connections still busy are closed too; close() during a drain closes at once', async () => {
    const h = await startBroker();
    const callee = await h.peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await RawPeer.connect(h.broker.url);
    const client = await h.peer('caller', { reconnect: false });
    const hanging = client.peer('callee').controller<BehaviorsController>('/behaviors').hang();
    hanging.catch(() => undefined);
    await eventually(() => h.broker.stats().routes === 1, 'the call to be routed');
    await h.broker.drain({ deadlineMs: 50 });
    expect((await rejection(hanging)).code).toBe(RpcErrorCode.NOT_CONNECTED);
    expect(await caller.waitClosed()).toMatchObject({ code: 1001 });

    const other = await startBroker();
    const stuck = await other.peer('stuck', { reconnect: false });
    stuck.registerController('/behaviors', new BehaviorsController());
    const waiting = (await other.client({ reconnect: false })).peer('stuck').controller<BehaviorsController>('/behaviors').hang();
    waiting.catch(() => undefined);
    await eventually(() => other.broker.stats().routes === 1, 'the call to be routed');
    const drained = other.broker.drain({ deadlineMs: 600_000 });
    await other.broker.close();
    await drained;
    expect((await rejection(waiting)).code).toBe(RpcErrorCode.NOT_CONNECTED);
  });

  it("on an application's server the broker answers no HTTP request: the application serves its own /healthz from broker.health()", async () => {
    let broker: Broker | undefined;
    const server = createServer((req, res) => {
      if (req.url === '/healthz') {
        const health = broker!.health();
        res.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ...health, app: 'mine' }));
      } else res.writeHead(404).end('app 404');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      broker = await createBroker({ server, path: '/rpc' });
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(await httpGet(`${base}/healthz`)).toMatchObject({ status: 200, body: '{"status":"ok","app":"mine"}' });
      expect(await httpGet(`${base}/other`)).toMatchObject({ status: 404, body: 'app 404' });
      const drained = broker.drain();
      // Nothing was open: it closed at once.
      expect(await httpGet(`${base}/healthz`)).toMatchObject({ status: 503, body: '{"status":"closed","app":"mine"}' });
      await drained;
      // The application's server is left running.
      expect(await httpGet(`${base}/other`)).toMatchObject({ status: 404 });
    } finally {
      await broker?.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
