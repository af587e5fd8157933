/**
 * p2pgen/otel: one trace from peer A's call through the broker to peer B's span (and on to
 * whatever B's action calls), with OpenTelemetry's SDK and its in-memory exporter; across two
 * brokers of a cluster (the in-memory engine, and real NATS) the same. Spans follow the RPC
 * conventions (rpc.system, rpc.service, rpc.method), errors set the status, streams end their
 * spans when they end.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient, type RpcClientOptions, type ServeInterceptor } from '../runtime/index.node.js';
import { createBroker, type Broker } from '../runtime/broker/index.js';
import { MemoryCluster } from '../runtime/broker/cluster/memory/memory-cluster.js';
import { openTelemetry, w3cTraceContext } from '../runtime/otel/index.js';
import '../.tmp/gen/intercept/index.js';
import { InterceptController } from './fixtures/intercept/intercept.js';
import { eventually, startBroker } from './support/harness.js';
import { startNatsServer } from './support/nats-server.js';
import { rejection } from './support/rejection.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracing = openTelemetry({ tracerProvider: provider });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  // What an SDK's register() does: the active context follows async code.
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  contextManager.disable();
  context.disable();
});
afterEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();
const named = (name: string, kind: SpanKind) => spans().find((s) => s.name === name && s.kind === kind)!;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** A (caller) and B (serving /intercept) with tracing, on `urls[0]` and `urls[1]`. */
async function peers(client: (url: string, options: RpcClientOptions) => Promise<RpcWebSocketClient>, urls: [string, string], serveInterceptors: ServeInterceptor[] = []) {
  const b = await client(urls[1], { ...tracing, serveInterceptors: [...tracing.serveInterceptors, ...serveInterceptors] });
  b.registerController('/intercept', new InterceptController());
  await b.registerAsPeer('b');
  const a = await client(urls[0], tracing);
  await a.registerAsPeer('a');
  return { a, b, remote: a.peer('b').controller<InterceptController>('/intercept') };
}

describe('OpenTelemetry', () => {
  it("one trace: A's span, A's client span, B's server span, and the spans of what B's action calls", async () => {
    const h = await startBroker();
    const connect = async (url: string, options: RpcClientOptions) => h.client(options);
    const { remote } = await peers(connect, [h.broker.url, h.broker.url]);
    // C serves /intercept too; B's echo calls C's (in the context of B's server span).
    const c = await h.peer('c', tracing);
    c.registerController('/intercept', new InterceptController());
    const relay = new InterceptController();
    const b2 = await h.peer('b2', tracing);
    relay.echo = ((text: string) => b2.peer('c').controller<InterceptController>('/intercept').echo(text)) as unknown as (text: string) => string;
    b2.registerController('/intercept', relay);

    const tracer = provider.getTracer('test');
    await tracer.startActiveSpan('request', async (span) => {
      expect(await remote.echo('hi')).toBe('hi');
      span.end();
    });
    const request = spans().find((s) => s.name === 'request')!;
    const client = named('/intercept/echo', SpanKind.CLIENT);
    const server = named('/intercept/echo', SpanKind.SERVER);
    expect(client.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(server.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(parentOf(client)).toBe(request.spanContext().spanId);
    expect(parentOf(server)).toBe(client.spanContext().spanId);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(client.attributes).toEqual({ 'rpc.system': 'p2pgen', 'rpc.service': '/intercept', 'rpc.method': 'echo', 'p2pgen.peer': 'b' });
    expect(server.attributes).toEqual({ 'rpc.system': 'p2pgen', 'rpc.service': '/intercept', 'rpc.method': 'echo', 'p2pgen.peer': 'a' });
    expect([client.status.code, server.status.code]).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET]);

    // A -> B2 -> C: four spans of one trace, each the child of the one before.
    exporter.reset();
    await h.client(tracing).then((a2) => a2.peer('b2').controller<InterceptController>('/intercept').echo('relayed'));
    const chain = spans();
    expect(chain).toHaveLength(4);
    expect(new Set(chain.map((s) => s.spanContext().traceId)).size).toBe(1);
    const [aClient] = chain.filter((s) => s.kind === SpanKind.CLIENT && s.attributes['p2pgen.peer'] === 'b2');
    const [b2Server] = chain.filter((s) => s.kind === SpanKind.SERVER && parentOf(s) === aClient!.spanContext().spanId);
    const [b2Client] = chain.filter((s) => s.kind === SpanKind.CLIENT && parentOf(s) === b2Server!.spanContext().spanId);
    const [cServer] = chain.filter((s) => s.kind === SpanKind.SERVER && parentOf(s) === b2Client!.spanContext().spanId);
    expect(b2Client!.attributes['p2pgen.peer']).toBe('c');
    expect(cServer).toBeDefined();
  });

  it('errors set the status and the code; a stream span lasts until the stream ends, with its item count', async () => {
    const h = await startBroker();
    const connect = async (url: string, options: RpcClientOptions) => h.client(options);
    const refuseCount: ServeInterceptor = (next) => async (call) => {
      if (call.action === 'pulled') throw new RpcError(RpcErrorCode.ACCESS_DENIED, 'not you');
      return next(call);
    };
    const { remote } = await peers(connect, [h.broker.url, h.broker.url], [refuseCount]);
    expect((await rejection(remote.fail('boom'))).code).toBe(RpcErrorCode.REMOTE_ERROR);
    const [failClient, failServer] = [named('/intercept/fail', SpanKind.CLIENT), named('/intercept/fail', SpanKind.SERVER)];
    expect(failClient.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringContaining('boom') });
    expect(failServer.status.code).toBe(SpanStatusCode.ERROR);
    expect(failClient.attributes['rpc.p2pgen.error_code']).toBe(RpcErrorCode.REMOTE_ERROR);
    // A refusal is the caller's fault: an error on its span, not on the callee's.
    expect((await rejection(remote.pulled(3))).code).toBe(RpcErrorCode.ACCESS_DENIED);
    const [deniedClient, deniedServer] = [named('/intercept/pulled', SpanKind.CLIENT), named('/intercept/pulled', SpanKind.SERVER)];
    expect(deniedClient.status.code).toBe(SpanStatusCode.ERROR);
    expect(deniedServer.status.code).toBe(SpanStatusCode.UNSET);
    expect(deniedServer.attributes['rpc.p2pgen.error_code']).toBe(RpcErrorCode.ACCESS_DENIED);

    const stream = await remote.count(3);
    expect(spans().some((s) => s.name === '/intercept/count')).toBe(false);
    expect(await lastValueFrom(stream.pipe(toArray()))).toEqual([0, 1, 2]);
    await eventually(() => spans().filter((s) => s.name === '/intercept/count').length === 2, 'both stream spans to end');
    expect(named('/intercept/count', SpanKind.CLIENT).attributes['rpc.p2pgen.items']).toBe(3);
    expect(named('/intercept/count', SpanKind.SERVER).attributes['rpc.p2pgen.items']).toBe(3);
    expect(parentOf(named('/intercept/count', SpanKind.SERVER))).toBe(named('/intercept/count', SpanKind.CLIENT).spanContext().spanId);
  });

  it('W3C trace context: traceparent and tracestate in the metadata; a malformed one starts a new trace', () => {
    const spanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
    const carrier = new Map<string, string>();
    const setter = { set: (m: Map<string, string>, k: string, v: string) => void m.set(k, v) };
    const getter = { keys: (m: Map<string, string>) => [...m.keys()], get: (m: Map<string, string>, k: string) => m.get(k) };
    w3cTraceContext.inject(trace.setSpanContext(context.active(), spanContext), carrier, setter);
    expect(Object.fromEntries(carrier)).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    carrier.set('tracestate', 'vendor=value');
    const extracted = trace.getSpanContext(w3cTraceContext.extract(context.active(), carrier, getter))!;
    expect(extracted).toMatchObject({ ...spanContext, isRemote: true });
    expect(extracted.traceState?.get('vendor')).toBe('value');
    for (const bad of ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-00000000000000000000000000000000-b7ad6b7169203331-01', 'nonsense']) {
      expect(trace.getSpanContext(w3cTraceContext.extract(context.active(), new Map([['traceparent', bad]]), getter))).toBeUndefined();
    }
  });
});

describe('OpenTelemetry across two brokers of a cluster', () => {
  const brokers: Broker[] = [];
  const clients: RpcWebSocketClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.disconnect()));
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });
  const connect = async (url: string, options: RpcClientOptions) => {
    const client = new RpcWebSocketClient(url, options);
    clients.push(client);
    await client.connect();
    return client;
  };

  async function oneTrace(first: Broker, second: Broker): Promise<void> {
    const { a, remote } = await peers(connect, [first.url, second.url]);
    await eventually(async () => (await a.listPeers()).some((p) => p.id === 'b'), "B's id to be known on A's broker", 10_000);
    expect(await remote.echo('across')).toBe('across');
    const client = named('/intercept/echo', SpanKind.CLIENT);
    const server = named('/intercept/echo', SpanKind.SERVER);
    expect(server.spanContext().traceId).toBe(client.spanContext().traceId);
    expect(parentOf(server)).toBe(client.spanContext().spanId);
  }

  it('the in-memory cluster engine: A on one broker, B on the other', async () => {
    const cluster = new MemoryCluster();
    for (const label of ['one', 'two']) brokers.push(await createBroker({ port: 0, host: '127.0.0.1', cluster: { engine: cluster.engine(label), leaseMs: 1000 } }));
    await oneTrace(brokers[0]!, brokers[1]!);
  });

  it('real NATS: A on one broker, B on the other', async () => {
    const nats = await startNatsServer();
    try {
      for (let i = 0; i < 2; i++) brokers.push(await createBroker({ port: 0, host: '127.0.0.1', cluster: { nats: nats.url } }));
      await oneTrace(brokers[0]!, brokers[1]!);
      await Promise.all(clients.splice(0).map((c) => c.disconnect()));
      await Promise.all(brokers.splice(0).map((b) => b.close()));
    } finally {
      await nats.stop();
    }
  });
});
