/**
 * Prometheus metrics, scraped over HTTP from the broker's metrics listener while real clients
 * call through it: gauges say what is open now, counters grow with traffic, the latency
 * histogram has the actions called, and names that strangers announce cannot blow up the
 * number of label sets (capped, the rest under "other"; quotes and newlines escaped).
 */
import { Registry, collectDefaultMetrics, openMetricsContentType, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { routingKey } from '../runtime/contracts/define.js';
import { createBroker, RpcKernelSecurity, type Session } from '../runtime/broker/index.js';
import { FrameType, readU32, writeU32 } from '../runtime/wire/frame.js';
import { jsonFrame } from '../runtime/wire/text.js';
import { RpcErrorCode } from '../runtime/index.node.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { httpGet, parseExposition } from './support/prometheus-text.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { rejection } from './support/rejection.js';

async function scrape(url: string | undefined) {
  const response = await httpGet(url!);
  expect(response.status).toBe(200);
  expect(response.contentType).toContain('text/plain; version=0.0.4');
  return parseExposition(response.body);
}

describe('broker metrics', () => {
  it('counts connections, peers, calls by outcome, bytes and latency per action, read over HTTP during traffic', async () => {
    const h = await startBroker({ metrics: { port: 0 } });
    const url = h.broker.metrics!.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const callee = await h.peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.peer('caller');
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');

    const before = await scrape(url);
    expect(before.value('p2pgen_broker_connections')).toBe(2);
    expect(before.value('p2pgen_broker_peers')).toBe(2);
    expect(before.types.get('p2pgen_broker_calls_total')).toBe('counter');
    expect(before.types.get('p2pgen_broker_connections')).toBe('gauge');
    expect(before.types.get('p2pgen_broker_call_duration_seconds')).toBe('histogram');

    for (let i = 0; i < 10; i++) expect(await remote.identity(i)).toBe(i);
    for (let i = 0; i < 3; i++) await remote.echo('hi');
    for (let i = 0; i < 2; i++) expect((await rejection(remote.fail('no'))).code).toBe(RpcErrorCode.REMOTE_ERROR);
    expect((await rejection(caller.peer('absent').controller<BehaviorsController>('/behaviors').identity(1))).code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    // A call still open while scraping.
    const hanging = remote.hang();
    hanging.catch(() => undefined);
    await eventually(() => h.broker.stats().routes === 1, 'the hanging call to be routed');

    const during = await scrape(url);
    expect(during.value('p2pgen_broker_calls_total', { kind: 'call', outcome: 'ok' })).toBe(13);
    expect(during.value('p2pgen_broker_calls_total', { kind: 'call', outcome: 'REMOTE_ERROR' })).toBe(2);
    expect(during.value('p2pgen_broker_calls_total', { kind: 'call', outcome: 'PEER_NOT_FOUND' })).toBe(1);
    expect(during.value('p2pgen_broker_calls_in_flight', { kind: 'call' })).toBe(1);
    expect(during.value('p2pgen_broker_connections_total')).toBe(2);
    expect(during.value('p2pgen_broker_registrations_total')).toBe(2);
    const received = during.value('p2pgen_broker_received_bytes_total')!;
    const sent = during.value('p2pgen_broker_sent_bytes_total')!;
    expect(received).toBeGreaterThan(before.value('p2pgen_broker_received_bytes_total')!);
    expect(sent).toBeGreaterThan(before.value('p2pgen_broker_sent_bytes_total')!);

    // The histogram of the actions called: cumulative buckets ending in +Inf = count.
    const identity = { controller: '/behaviors', action: 'identity' };
    expect(during.value('p2pgen_broker_call_duration_seconds_count', identity)).toBe(10);
    expect(during.value('p2pgen_broker_call_duration_seconds_sum', identity)).toBeGreaterThan(0);
    const buckets = during.find('p2pgen_broker_call_duration_seconds_bucket', identity);
    expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: 10 });
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(during.value('p2pgen_broker_call_duration_seconds_count', { controller: '/behaviors', action: 'echo' })).toBe(3);
    expect(during.value('p2pgen_broker_call_duration_seconds_count', { controller: '/behaviors', action: 'fail' })).toBe(2);

    await caller.disconnect();
    await expect(hanging).rejects.toMatchObject({ code: RpcErrorCode.NOT_CONNECTED });
    await eventually(() => h.broker.stats().connections === 1, 'the broker to see the caller go');
    const after = await scrape(url);
    expect(after.value('p2pgen_broker_connections')).toBe(1);
    expect(after.value('p2pgen_broker_calls_total', { kind: 'call', outcome: 'CANCELLED' })).toBe(1);
    // Counters never go back: bytes of closed connections stay counted.
    expect(after.value('p2pgen_broker_received_bytes_total')!).toBeGreaterThanOrEqual(received);
    expect(after.value('p2pgen_broker_sent_bytes_total')!).toBeGreaterThanOrEqual(sent);
  });

  it('counts denials by kind', async () => {
    class NoSecrets extends RpcKernelSecurity {
      override async isAllowedToRegisterAsPeer(_session: Session, peerId: string): Promise<boolean> {
        return peerId !== 'forbidden';
      }
      override async isAllowedToSendToPeer(_session: Session, peerId: string): Promise<boolean> {
        return peerId !== 'secret';
      }
    }
    const h = await startBroker({ security: new NoSecrets(), metrics: { port: 0 } });
    const secret = await h.peer('secret');
    secret.registerController('/behaviors', new BehaviorsController());
    const caller = await h.peer('caller');
    expect((await rejection(caller.registerAsPeer('forbidden'))).code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect((await rejection(caller.peer('secret').controller<BehaviorsController>('/behaviors').identity(1))).code).toBe(RpcErrorCode.ACCESS_DENIED);
    const metrics = await scrape(h.broker.metrics!.url);
    expect(metrics.value('p2pgen_broker_denials_total', { kind: 'register' })).toBe(1);
    expect(metrics.value('p2pgen_broker_denials_total', { kind: 'send' })).toBe(1);
    expect(metrics.value('p2pgen_broker_denials_total', { kind: 'call' })).toBe(0);
  });

  it('caps the label sets of the latency histogram when a stranger announces 300 controllers with hostile names, and leaves room for the real actions', async () => {
    const h = await startBroker({ metrics: { port: 0 } });
    // The stranger connects from another address (127.0.0.2) than the honest peers.
    const callee = await RawPeer.connect(h.broker.url, undefined, '127.0.0.2');
    await callee.register('hostile');
    const names = Array.from({ length: 300 }, (_, i) => ({ path: `/evil-${i}"} 1\n# TYPE x counter\\`, action: `a${i}` }));
    const fingerprint = '0123456789abcdef';
    callee.send(jsonFrame(FrameType.Control, 900, { op: 'controllers', controllers: names.map((n) => ({ path: n.path, fingerprint, actions: [{ name: n.action, fingerprint }] })) }));
    await callee.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === 900);

    const caller = await RawPeer.connect(h.broker.url);
    names.forEach((n, i) => {
      const action = { controllerKey: routingKey(n.path), actionKey: routingKey(n.action), fingerprintHi: 0, fingerprintLo: 0 };
      caller.send(rawRequest(i + 1, action as Parameters<typeof rawRequest>[1], 'hostile', new Uint8Array(0)));
    });
    for (let answered = 0; answered < names.length; answered++) {
      const request = await callee.next((f) => f[1] === FrameType.Request);
      const response = new Uint8Array(12);
      response[0] = request[0]!;
      response[1] = FrameType.Response;
      writeU32(response, 4, readU32(request, 4));
      callee.send(response);
    }
    for (let i = 0; i < names.length; i++) expect((await caller.next((f) => f[1] === FrameType.Response))[1]).toBe(FrameType.Response);
    // The real action, called after the stranger's: it still gets its own label set.
    const honest = await h.peer('honest');
    honest.registerController('/behaviors', new BehaviorsController());
    const client = await h.client();
    expect(await client.peer('honest').controller<BehaviorsController>('/behaviors').identity(1)).toBe(1);

    const metrics = await scrape(h.broker.metrics!.url);
    const series = metrics.find('p2pgen_broker_call_duration_seconds_count');
    expect(series.length).toBe(66); // the stranger's address took its share (64 of 256), "other", and the real action
    expect(metrics.value('p2pgen_broker_call_duration_seconds_count', { controller: 'other', action: 'other' })).toBe(236);
    expect(metrics.value('p2pgen_broker_call_duration_seconds_count', { controller: '/behaviors', action: 'identity' })).toBe(1);
    expect(series.reduce((n, s) => n + s.value, 0)).toBe(301);
    // Hostile characters are escaped, not written into the exposition.
    expect(metrics.value('p2pgen_broker_call_duration_seconds_count', { controller: names[0]!.path, action: 'a0' })).toBe(1);
    expect(metrics.types.has('x')).toBe(false);
    callee.close();
    caller.close();
  });

  it("goes into the application's registry beside its own metrics, and out again when the broker closes", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const broker = await createBroker({ port: 0, host: '127.0.0.1', metrics: { registry, prefix: 'rpc_' } });
    expect(broker.metrics?.registry).toBe(registry);
    expect(broker.metrics?.url).toBeUndefined();
    const text = parseExposition(await registry.metrics());
    expect(text.value('rpc_connections')).toBe(0);
    expect(text.find('process_cpu_user_seconds_total').length).toBe(1);
    // A second broker with the same names is refused, and leaves the first one's metrics alone.
    await expect(createBroker({ port: 0, host: '127.0.0.1', metrics: { registry, prefix: 'rpc_' } })).rejects.toThrow('give each its own metrics.prefix');
    expect(parseExposition(await registry.metrics()).value('rpc_connections')).toBe(0);
    await broker.close();
    const closed = parseExposition(await registry.metrics());
    expect(closed.find('rpc_connections')).toEqual([]);
    expect(closed.find('process_cpu_user_seconds_total').length).toBe(1);
  });

  it('an OpenMetrics registry names the counters once with _total', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(openMetricsContentType);
    const broker = await createBroker({ port: 0, host: '127.0.0.1', metrics: { registry } });
    try {
      const text = await registry.metrics();
      expect(text).toContain('\np2pgen_broker_connections_total 0\n');
      expect(text).toContain('# TYPE p2pgen_broker_connections counter');
      expect(text).not.toContain('_total_total');
    } finally {
      await broker.close();
    }
    expect(await registry.metrics()).not.toContain('p2pgen_broker');
  });

  it('refuses metric options that cannot work', async () => {
    await expect(createBroker({ port: 0, metrics: { latencyBuckets: [1, 0.5] } })).rejects.toThrow('metrics.latencyBuckets must be positive numbers of seconds in ascending order');
    await expect(createBroker({ port: 0, metrics: { maxActionLabels: 0 } })).rejects.toThrow('metrics.maxActionLabels must be a whole number of at least 1');
    await expect(createBroker({ port: 0, metrics: { prefix: 'bad-prefix' } })).rejects.toThrow("metrics.prefix 'bad-prefix'");
  });
});
