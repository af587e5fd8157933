/**
 * The peer side of a bench run, shared by both systems. The parent sends jobs over IPC; a
 * system supplies an adapter:
 *
 *   startEcho(url)        -> { close() }            a peer registered as 'echo' that echoes
 *   startCaller(url, i)   -> { call(bytes), close() } a peer that calls 'echo'
 *   startIdle(url, id)    -> { close() }            a connected, registered peer doing nothing
 *   startSource(url)      -> { close() }            a peer registered as 'source' that serves downloads
 *   startSink(url)        -> { prepare(totalBytes, chunkBytes), close() }
 *                                                   a peer registered as 'sink' that downloads from
 *                                                   'source' (see measureStream in load.js)
 *   startRegistrar(url)   -> { register(id), close() }  (cluster rows) a connected client that registers ids
 *   startFailover(calleeUrls, callerUrl) -> { call(bytes), close() }
 *                                                   (cluster rows) a worker that may move between brokers, and a caller
 *   wireBytes()           -> number (optional)      bytes the callers' sockets sent and received so far
 *   startFanoutMembers(urls, params, deliver) -> { close() }
 *                                                   (fan-out rows) params.connections connections spread over
 *                                                   `urls`, each holding params.idsPerConnection member ids of
 *                                                   group params.group; deliver() once per notification a member got
 *   startFanoutSender(url, params) -> { send(payload), close() }
 *                                                   (fan-out rows) sends one notification to the group; returns
 *                                                   once every member is known where the sender is
 *
 * Jobs carry `url` (where callers connect) and, for a cluster, `calleeUrl` (where callees
 * connect: another broker) and `urls` (every broker).
 */
import { childChannel } from './children.js';
import { deliveryCounter, mapLimit, measureAllocations, measureFanout, measureLatency, measureStream, measureThroughput } from './load.js';

export function runPeers(adapter) {
  const channel = childChannel();
  let idle = [];

  /** Echo peer first, then the callers: a call must never race the callee's registration. */
  async function withEchoAndCallers(url, callerCount, fn, calleeUrl = url) {
    const echo = await adapter.startEcho(calleeUrl);
    const callers = [];
    try {
      for (let i = 0; i < callerCount; i++) callers.push(await adapter.startCaller(url, i));
      return await fn(callers.map((c) => c.call));
    } finally {
      await Promise.all(callers.map((c) => c.close()));
      await echo.close();
    }
  }

  /** Callers of an echo peer that another process runs. */
  async function withCallers(url, callerCount, fn) {
    const callers = [];
    try {
      for (let i = 0; i < callerCount; i++) callers.push(await adapter.startCaller(url, i));
      return await fn(callers.map((c) => c.call));
    } finally {
      await Promise.all(callers.map((c) => c.close()));
    }
  }

  channel.on('latency', async ({ url, calleeUrl, params }) => {
    // params.echoApart: the echo peer runs in another peers process ('echo-start'), this one only calls.
    // Around the measured calls the parent samples the server's CPU time ('latency-mark' { at }, answered 'latency-mark-ok').
    const mark = async (at) => {
      channel.send({ type: 'latency-mark', at });
      await channel.next('latency-mark-ok');
    };
    const marks = { start: () => mark('start'), end: () => mark('end') };
    const measure = ([call]) => measureLatency(call, params, marks);
    const result = params.echoApart ? await withCallers(url, 1, measure) : await withEchoAndCallers(url, 1, measure, calleeUrl);
    channel.send({ type: 'result', result });
  });

  // An echo peer of its own, for rows whose callers run in another process: until 'echo-stop'.
  let echoAlone;
  channel.on('echo-start', async ({ url, calleeUrl }) => {
    echoAlone = await adapter.startEcho(calleeUrl ?? url);
    channel.send({ type: 'echo-ready' });
  });

  channel.on('echo-stop', async () => {
    await echoAlone?.close();
    echoAlone = undefined;
    channel.send({ type: 'echo-stopped' });
  });

  channel.on('throughput', async ({ url, calleeUrl, params }) => {
    const result = await withEchoAndCallers(url, params.callers, (calls) => measureThroughput(calls, params, adapter.wireBytes), calleeUrl);
    channel.send({ type: 'result', result });
  });

  // Fan-out: the members (spread over every broker with params.spread), then the sender on
  // `url`; 'fanout-mark' { at: 'start' | 'end' } around the measured window, each answered by
  // the parent ('fanout-mark-ok') once it sampled the server's CPU time.
  channel.on('fanout', async ({ url, urls, params }) => {
    const counter = deliveryCounter();
    const members = await adapter.startFanoutMembers(params.spread ? (urls ?? [url]) : [url], params, counter.deliver);
    let sender;
    try {
      sender = await adapter.startFanoutSender(url, params);
      const mark = async (at) => {
        channel.send({ type: 'fanout-mark', at });
        await channel.next('fanout-mark-ok');
      };
      const result = await measureFanout(sender.send, counter, { ...params, members: params.connections * params.idsPerConnection }, { start: () => mark('start'), end: () => mark('end') });
      channel.send({ type: 'result', result });
    } finally {
      await sender?.close();
      await members.close();
    }
  });

  // Registrations per second: clients spread over every broker, each registering its ids one
  // after another, all clients at once. Connecting is not timed.
  channel.on('register-burst', async ({ url, urls, params }) => {
    const brokers = urls ?? [url];
    const registrars = await mapLimit(params.clients, 16, (i) => adapter.startRegistrar(brokers[i % brokers.length]));
    const started = performance.now();
    await Promise.all(registrars.map(async (r, i) => {
      for (let n = 0; n < params.idsPerClient; n++) await r.register(`reg-${i}-${n}`);
    }));
    const ms = performance.now() - started;
    await Promise.all(registrars.map((r) => r.close()));
    channel.send({ type: 'result', result: { registrationsPerSecond: (params.clients * params.idsPerClient * 1000) / ms } });
  });

  // Failover: a worker on the callee's broker (with every broker in its URL list) and a caller
  // elsewhere; once the parent killed the callee's broker ('failover-killed' { at }), the caller
  // calls until an answer comes: the time from the kill to that answer.
  channel.on('failover', async ({ url, calleeUrl, params }) => {
    const pair = await adapter.startFailover([calleeUrl, url], url);
    const payload = new Uint8Array(params.payloadBytes);
    for (let i = 0; i < 100; i++) await pair.call(payload);
    channel.send({ type: 'failover-ready' });
    const { at } = await channel.next('failover-killed');
    let answeredAt;
    for (let attempt = 0; attempt < 10_000 && answeredAt === undefined; attempt++) {
      try {
        await pair.call(payload);
        answeredAt = Date.now();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    await pair.close();
    if (answeredAt === undefined) throw new Error('the worker never became callable again after its broker died');
    channel.send({ type: 'result', result: { recoveryMs: answeredAt - at } });
  });

  // Allocations: the throughput load for a fixed number of calls, with this process sampled;
  // the parent samples the server around 'alloc-run' (it waits for 'alloc-ready' first).
  channel.on('allocations', async ({ url, params }) => {
    const result = await withEchoAndCallers(url, params.callers, (calls) =>
      measureAllocations(calls, params, async () => {
        channel.send({ type: 'alloc-ready' });
        await channel.next('alloc-go');
      }),
    );
    channel.send({ type: 'result', result });
  });

  // Streaming: 'stream-open' connects the source and the sink and runs the warm-up downloads
  // (params.warmupTransfers of the measured size); 'stream-run' runs params.measuredTransfers
  // downloads (the parent samples the server around them) and answers with the median one;
  // 'stream-close' disconnects both.
  let streamPair;
  channel.on('stream-open', async ({ url, calleeUrl, params }) => {
    const source = await adapter.startSource(calleeUrl ?? url);
    const sink = await adapter.startSink(url);
    streamPair = { source, sink };
    for (let i = 0; i < (params.warmupTransfers ?? 0); i++) await measureStream(sink, params);
    channel.send({ type: 'stream-ready' });
  });

  channel.on('stream-run', async ({ params }) => {
    if (!streamPair) throw new Error("'stream-run' before 'stream-open'");
    const transfers = [];
    for (let i = 0; i < (params.measuredTransfers ?? 1); i++) transfers.push(await measureStream(streamPair.sink, params));
    const byRate = [...transfers].sort((a, b) => a.mbPerSecond - b.mbPerSecond);
    const result = { ...byRate[byRate.length >> 1], transferMbPerSecond: transfers.map((t) => Math.round(t.mbPerSecond)) };
    channel.send({ type: 'result', result });
  });

  channel.on('stream-close', async () => {
    const pair = streamPair;
    streamPair = undefined;
    await pair?.sink.close();
    await pair?.source.close();
    channel.send({ type: 'stream-closed' });
  });

  // Idle peers stay connected until 'close-idle' (or the process is stopped).
  channel.on('idle', async ({ url, count, prefix, concurrency }) => {
    const started = performance.now();
    const opened = await mapLimit(count, concurrency, (i) => adapter.startIdle(url, `${prefix}${i}`));
    idle.push(...opened);
    channel.send({ type: 'idle-ready', count: opened.length, ms: performance.now() - started });
  });

  channel.on('close-idle', async () => {
    const closing = idle;
    idle = [];
    await mapLimit(closing.length, 64, (i) => closing[i].close());
    channel.send({ type: 'idle-closed' });
  });

  channel.send({ type: 'peers-ready', pid: process.pid });
}
