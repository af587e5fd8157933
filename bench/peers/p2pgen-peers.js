/**
 * Peers of p2pgen: RpcWebSocketClient with its defaults (codecs, validation, call timeouts),
 * calling the generated EchoController proxy. Bundled by bench/run.js with esbuild: the
 * generated code and the contract are TypeScript with decorators, which Node 20 cannot run.
 * `bench-echo/gen` and `bench-echo/contract` are aliases set up by run.js.
 */
import { RpcWebSocketClient } from 'p2pgen';
import 'bench-echo/gen';
import { EchoController } from 'bench-echo/contract';
import { runPeers } from '../lib/peer-main.js';
import { nodeWsTransport } from '../../runtime/transport/node-ws.ts';

// BENCH_WIRE_BYTES=1: the callers count the bytes their sockets send and receive (the "wire
// bytes/call" of the compression rows; off elsewhere, so the other rows' callers pay nothing for it).
const countWire = process.env.BENCH_WIRE_BYTES === '1';
let callerWireBytes = 0;
const countingTransport = (url, events, options) => {
  const transport = nodeWsTransport(url, { ...events, message: (frame) => ((callerWireBytes += frame.length), events.message(frame)) }, options);
  return {
    send: (frame) => ((callerWireBytes += frame.length), transport.send(frame)),
    close: (code, reason) => transport.close(code, reason),
    abort: () => transport.abort(),
    get bufferedAmount() {
      return transport.bufferedAmount;
    },
  };
};

// BENCH_MASK_FRAMES=1: every peer masks its frames with random keys (the "S3 masked frames" row).
const maskFrames = process.env.BENCH_MASK_FRAMES === '1';

// BENCH_INTERCEPTORS=1: one no-op interceptor on each side (the "S2 interceptors" row).
const noop = (next) => async (call) => next(call);
const interceptors = process.env.BENCH_INTERCEPTORS === '1' ? { interceptors: [noop], serveInterceptors: [noop] } : {};
// BENCH_COMPRESSION=1: every peer compresses (gzip from 1 KiB; the "compression" rows).
const compression = process.env.BENCH_COMPRESSION === '1' ? { compression: true } : {};
// BENCH_CALL_SITE_STACKS=1: calls capture their call site (the "S2 call-site stacks" row).
const stacks = process.env.BENCH_CALL_SITE_STACKS === '1' ? { callSiteStacks: true } : {};

async function connected(url, options = {}) {
  const client = new RpcWebSocketClient(url, { ...options, ...interceptors, ...stacks, ...compression, ...(maskFrames ? { maskFrames: true } : {}) });
  await client.connect();
  return client;
}

// BENCH_ECHO_CONTEXT=1: callers call echoWithContext, an echo whose action takes a CallContext
// (the "S2 CallContext" row).
const withContext = process.env.BENCH_ECHO_CONTEXT === '1';

// BENCH_ECHO_SKIP_FINGERPRINT_CHECK=1: the echo peer (the callee) serves calls without comparing
// the caller's contract fingerprint, the baseline of the "S2 fingerprint check" row.
const echoOptions = process.env.BENCH_ECHO_SKIP_FINGERPRINT_CHECK === '1' ? { unsafeSkipFingerprintCheck: true } : {};

// BENCH_ANY_PEER_WORKERS=n: n workers serve /echo (registered as worker-0..n-1) and the callers
// call client.anyPeer().controller('/echo'), the broker choosing a worker per call (the "S2
// any-peer" row); unset: one peer 'echo', called by id.
const anyPeerWorkers = Number(process.env.BENCH_ANY_PEER_WORKERS ?? 0);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

runPeers({
  async startEcho(url) {
    if (anyPeerWorkers > 0) {
      const workers = [];
      for (let i = 0; i < anyPeerWorkers; i++) {
        const worker = await connected(url, echoOptions);
        worker.registerController('/echo', new EchoController());
        await worker.registerAsPeer(`worker-${i}`);
        workers.push(worker);
      }
      return { close: () => Promise.all(workers.map((w) => w.disconnect())) };
    }
    const client = await connected(url, echoOptions);
    client.registerController('/echo', new EchoController());
    await client.registerAsPeer('echo');
    return { close: () => client.disconnect() };
  },

  // Fan-out: each connection registers its member ids and joins the group as each of them (one
  // controller per connection: the broker sends it one copy per member id).
  async startFanoutMembers(urls, { connections, idsPerConnection, group }, deliver) {
    const clients = await Promise.all(
      Array.from({ length: connections }, async (_, c) => {
        const client = await connected(urls[c % urls.length]);
        const controller = new EchoController();
        controller.onTick = deliver;
        client.registerController('/echo', controller);
        for (let i = 0; i < idsPerConnection; i++) {
          const id = `member-${c}-${i}`;
          await client.registerAsPeer(id);
          await client.joinGroup(group, { as: id });
        }
        return client;
      }),
    );
    return { close: () => Promise.all(clients.map((c) => c.disconnect())) };
  },

  async startFanoutSender(url, { group, connections, idsPerConnection }) {
    const client = await connected(url);
    await client.registerAsPeer('sender');
    // Members on another broker are known here once their joins crossed the cluster.
    const expected = connections * idsPerConnection;
    for (let i = 0; i < 300 && (await client.listPeers({ group })).length < expected; i++) await sleep(50);
    const notify = client.group(group).controller('/echo', { collect: false });
    return { send: (payload) => notify.tick(payload), close: () => client.disconnect() };
  },

  ...(countWire ? { wireBytes: () => callerWireBytes } : {}),

  async startCaller(url, index) {
    const client = await connected(url, countWire ? { transport: countingTransport } : {});
    await client.registerAsPeer(`caller-${index}`);
    const echo = anyPeerWorkers > 0 ? client.anyPeer().controller('/echo') : client.peer('echo').controller('/echo');
    const call = withContext ? (payload) => echo.echoWithContext(payload) : (payload) => echo.echo(payload);
    return { call, close: () => client.disconnect() };
  },

  async startSource(url) {
    const client = await connected(url);
    client.registerController('/echo', new EchoController());
    await client.registerAsPeer('source');
    return { close: () => client.disconnect() };
  },

  async startSink(url) {
    const client = await connected(url);
    await client.registerAsPeer('sink');
    const source = client.peer('source').controller('/echo');
    return {
      // The call resolves once the source accepted the stream; subscribing starts the transfer.
      // source 'pull': a pullStream (paced by credit); 'push': a plain Observable at its own pace.
      async prepare(totalBytes, chunkBytes, kind) {
        const stream = await (kind === 'push' ? source.downloadPushed(totalBytes, chunkBytes) : source.download(totalBytes, chunkBytes));
        return (onChunk) => new Promise((resolve, reject) => stream.subscribe({ next: onChunk, complete: resolve, error: reject }));
      },
      close: () => client.disconnect(),
    };
  },

  async startRegistrar(url) {
    const client = await connected(url);
    return { register: (id) => client.registerAsPeer(id), close: () => client.disconnect() };
  },

  async startFailover(calleeUrls, callerUrl) {
    const worker = await connected(calleeUrls, { reconnect: { initialDelayMs: 20, maxDelayMs: 500 } });
    worker.registerController('/echo', new EchoController());
    await worker.registerAsPeer('worker');
    const caller = await connected(callerUrl);
    // The caller must know the worker (the claim crosses NATS) before the first call.
    for (let i = 0; i < 1000 && !(await caller.listPeers()).some((p) => p.id === 'worker'); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const echo = caller.peer('worker').controller('/echo', { timeoutMs: 1000 });
    return {
      call: (payload) => echo.echo(payload),
      close: async () => {
        await caller.disconnect();
        await worker.disconnect();
      },
    };
  },

  async startIdle(url, id) {
    const client = await connected(url);
    await client.registerAsPeer(id);
    return { close: () => client.disconnect() };
  },
});
