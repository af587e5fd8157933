/**
 * The p2pgen broker against a raw-ws relay baseline, side by side, in one run:
 *
 *   npm run bench          (BENCH_CPU_PROF=1 also writes CPU profiles of the p2pgen broker and peers;
 *                           BENCH_SCENARIOS=S4,S5 runs only those scenarios; the p2pgen-only rows are
 *                           S2-security, S2-fingerprint, S2-context, S2-metrics, S2-interceptors, S2-stacks,
 *                           S6-compression, S6-compression-small, fanout-cluster, S2-any, S3-node-options and
 *                           S2-node-options; S3-vs-native, S4-vs-native and S4-vs-nats set p2pgen against the
 *                           relay with bufferutil and against NATS; S1-installed and S2-installed run
 *                           p2pgen on the installed package instead of the bundled sources;
 *                           S1-pinned pins the server and the peers to a core each, with taskset)
 *
 * Every server runs in a process of its own and the peers in another, all on 127.0.0.1. The
 * raw relay is the least a relay can do (read a target id, forward the bytes), so the ratios
 * p2pgen / raw say what the broker, the wire format, the codecs and the validation cost on top
 * of plain `ws`. Runs of the two systems alternate and each scenario is repeated; the table
 * shows medians. On a shared machine the absolute numbers wander; the ratios are the result.
 *
 * Scenarios are data (`scenarios` below): a new row is one more entry with a `run` and the
 * metrics it reports. A scenario compares two setups, a baseline and the one measured against
 * it: the raw relay and p2pgen by default; with `compare` two p2pgen configurations (security
 * hooks, the fingerprint check), printed in a table of their own below the main one.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { bundleP2pgen } from './lib/bundle.js';
import { killAllChildren, startChild } from './lib/children.js';
import { compileDist, repoRoot } from './lib/commands.js';
import { median } from './lib/stats.js';

const tmp = join(repoRoot, '.tmp', 'bench-run');
const repetitions = 3;
const cpuProfile = process.env.BENCH_CPU_PROF === '1';
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

// ---- machine --------------------------------------------------------------------------

const ulimit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
const loadStart = os.loadavg();
const cpus = os.cpus();
console.log(`node ${process.version} on ${os.platform()} ${os.arch()}, ${cpus.length} cpus (${cpus[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
console.log(`load average at start: ${loadStart.map((l) => l.toFixed(2)).join(' ')}; open files limit (ulimit -n): ${ulimit}`);

// ---- build: compile, generate the echo contract, bundle -------------------------------

compileDist();
// What `p2pgen broker` starts Node with (runtime/broker/node-flags.ts): the p2pgen servers run with it, as that command runs a broker.
const { brokerNodeOptions } = await import(join(repoRoot, 'runtime/dist/broker/node-flags.js'));

const { bundleDir, generated } = await bundleP2pgen(tmp, {
  'p2pgen-broker': join(repoRoot, 'bench/servers/p2pgen-broker.js'),
  'p2pgen-peers': join(repoRoot, 'bench/peers/p2pgen-peers.js'),
  'p2pgen-cluster': join(repoRoot, 'bench/servers/p2pgen-cluster.js'),
  'p2pgen-cluster-broker': join(repoRoot, 'bench/servers/p2pgen-cluster-broker.js'),
}, {
  'p2pgen-broker-dist': join(repoRoot, 'bench/servers/p2pgen-broker.js'),
  'p2pgen-peers-dist': join(repoRoot, 'bench/peers/p2pgen-peers.js'),
});
console.log(generated);

// ---- systems and scenarios ------------------------------------------------------------

/**
 * A setup is what one measurement runs: a server script and a peers script, plus environment
 * variables for each (how a p2pgen variant is chosen: the bundled scripts read them at start).
 */
// The baseline is the raw relay on plain `ws`, as it has always been measured: without the
// native bufferutil addon (WS_NO_BUFFER_UTIL), which p2pgen installs as an optional dependency.
const noNativeAddon = { WS_NO_BUFFER_UTIL: '1' };
const raw = { key: 'raw', label: 'raw-ws relay', server: join(repoRoot, 'bench/servers/raw-relay.js'), peers: join(repoRoot, 'bench/peers/raw-peers.js'), serverEnv: noNativeAddon, peersEnv: noNativeAddon };
const rawNative = { ...raw, key: 'raw-native', label: 'raw-ws relay + bufferutil', serverEnv: {}, peersEnv: {} };
// p2pgen's servers run with the Node options `p2pgen broker` starts Node with (serverExecArgv); the peers, a user's own processes, with Node's defaults.
const p2pgen = { key: 'p2pgen', label: 'p2pgen', server: join(bundleDir, 'p2pgen-broker.mjs'), peers: join(bundleDir, 'p2pgen-peers.mjs'), serverExecArgv: brokerNodeOptions, profiled: true };
/** Two p2pgen brokers clustered over NATS (callers on one, callees on the other), and NATS's own request/reply. */
const p2pgenCluster = { key: 'p2pgen-cluster', label: 'p2pgen, 2 brokers', server: join(bundleDir, 'p2pgen-cluster.mjs'), peers: join(bundleDir, 'p2pgen-peers.mjs'), serverExecArgv: brokerNodeOptions, profiled: true };
const p2pgenCluster3 = { ...p2pgenCluster, key: 'p2pgen-cluster-3', label: 'p2pgen, 3 brokers', serverEnv: { BENCH_CLUSTER_BROKERS: '3' } };
const natsRequestReply = { key: 'nats', label: 'NATS request/reply', server: join(repoRoot, 'bench/servers/nats.js'), peers: join(repoRoot, 'bench/peers/nats-peers.js') };
/** Broker and peers on the installed package (node_modules/p2pgen: runtime/dist, tsc's output, as the packed tarball ships it), not on the bundled sources. */
const p2pgenInstalled = { key: 'p2pgen-installed', label: 'p2pgen, installed', server: join(bundleDir, 'p2pgen-broker-dist.mjs'), peers: join(bundleDir, 'p2pgen-peers-dist.mjs'), serverExecArgv: brokerNodeOptions, profiled: true };
/** p2pgen with other options: same scripts, told apart by environment variables. */
const p2pgenVariant = (key, label, { serverEnv = {}, peersEnv = {} } = {}) => ({ ...p2pgen, key, label, serverEnv, peersEnv });
/** The broker on Node's defaults, without the options `p2pgen broker` starts Node with (the node-options rows). */
const p2pgenNodeDefaults = { ...p2pgen, key: 'node-defaults', label: "Node's defaults", serverExecArgv: [] };
const p2pgenNodeOptions = { ...p2pgen, key: 'node-options', label: 'broker node options' };
/**
 * The fan-out rows: a `ws` server writing each of the sender's messages to every member, and
 * the brokers with maxGroupsPerConnection raised to 100 (each member connection holds 100 ids of the group).
 */
const rawFanout = { key: 'raw-fanout', label: 'raw-ws fan-out relay', server: join(repoRoot, 'bench/servers/raw-fanout-relay.js'), peers: join(repoRoot, 'bench/peers/raw-peers.js'), serverEnv: noNativeAddon, peersEnv: noNativeAddon };
const fanoutBrokerEnv = { BENCH_MAX_GROUPS_PER_CONNECTION: '100' };
const p2pgenFanout = { ...p2pgen, key: 'p2pgen-fanout', label: 'p2pgen, 1 broker', serverEnv: fanoutBrokerEnv };
const p2pgenClusterFanout = { ...p2pgenCluster, key: 'p2pgen-cluster-fanout', label: 'p2pgen, 2 brokers', serverEnv: fanoutBrokerEnv };

/**
 * Pins a child (every thread of it) to one CPU, as the outside measurement of issue 24 ran:
 * the server on one core, the peers on the other, so neither waits for the other's core.
 */
function pinToCpu(child, cpu) {
  const pinned = spawnSync('taskset', ['-a', '-cp', String(cpu), String(child.child.pid)], { encoding: 'utf8' });
  if (pinned.status !== 0) throw new Error(`taskset could not pin ${child.label} to CPU ${cpu}: ${pinned.error?.message ?? pinned.stderr.trim()}`);
}

/**
 * A server process and a peers process for one measurement; both are gone when it returns.
 * With `scenario.pinned` the server runs on CPU 0 and the peers on CPU 1.
 */
async function withProcesses(setup, scenario, fn) {
  const scenarioId = scenario.id;
  // Profiles are written when a child exits on 'stop' (children.js), so they are complete.
  const profile = (name) =>
    cpuProfile && setup.profiled
      ? ['--cpu-prof', `--cpu-prof-dir=${join(tmp, 'prof')}`, `--cpu-prof-name=${name}-${scenarioId}-${setup.key}-${Date.now()}.cpuprofile`]
      : [];
  const execArgv = ['--expose-gc', ...(setup.serverExecArgv ?? []), ...(scenario.serverExecArgv ?? []), ...profile('broker')];
  const server = startChild(setup.server, { execArgv, env: setup.serverEnv, label: `${setup.label} server` });
  if (scenario.pinned) pinToCpu(server, 0);
  let peers;
  try {
    const { url, calleeUrl, urls } = await server.next('listening', 30_000);
    peers = startChild(setup.peers, { execArgv: profile('peers'), env: setup.peersEnv, label: `${setup.label} peers` });
    if (scenario.pinned) pinToCpu(peers, 1);
    await peers.next('peers-ready', 15_000);
    return await fn({ server, peers, url, calleeUrl, urls });
  } finally {
    await peers?.stop();
    await server.stop();
  }
}

/** A job for the peers process; its answer is the job's 'result' message. */
async function peerJob({ peers, url, calleeUrl, urls }, type, params, timeoutMs) {
  peers.send({ type, url, calleeUrl, urls, params });
  return (await peers.next('result', timeoutMs)).result;
}

const idlePeers = 2000;
// S1's warm-up: V8 tiers the hot path up over the first few thousand calls (TurboFan compiling on a
// thread of its own, which on 2 cores competes with the processes measured). After 1,000 calls
// p2pgen's larger hot path (codecs, validation, routing) was still being compiled: its slow calls
// (> 600 µs) clustered in the first 1,000 measured, 25-65 of them against the relay's 4-16, and
// S1's p99 measured the JIT. After 5,000 they spread evenly, as the relay's do.
const latencyParams = { payloadBytes: 64, warmupCalls: 5000, calls: 5000 };
const throughputParams = { inFlight: 256, callers: 4, warmupMs: 1000, durationMs: 3000 };
// The p2pgen-vs-p2pgen rows look for differences of a few percent on a noisy machine, where one
// run in five can be 10-30% off: more repetitions of shorter runs (the median of 7 shrugs off
// two disturbed runs per setup), about 50 s per row. The warm-up stays: the JIT needs it.
const variantRepetitions = 7;
const variantThroughputParams = { ...throughputParams, durationMs: 2000 };
// S4 warms up with whole transfers: in a fresh process the first 64 MiB ran at a third to a half
// of the steady rate in both systems (the JIT still compiling), and a transfer takes a fraction
// of a second; each run then measures three and reports the median one.
const streamParams = { totalBytes: 64 * 2 ** 20, chunkBytes: 64 * 1024, warmupTransfers: 4, measuredTransfers: 3, rssSampleMs: 20 };

// 1,000 members as 10 connections x 100 member ids (every id in the group), one sender.
const fanoutParams = { group: 'fanout', connections: 10, idsPerConnection: 100, payloadBytes: 64, window: 8, warmupMs: 1000, durationMs: 3000 };
const fanoutMembers = fanoutParams.connections * fanoutParams.idsPerConnection;

/**
 * The server's CPU time (ms; every broker of a cluster together) between the two marks a peers
 * job sends (`markType` { at: 'start' | 'end' }), each answered (`${markType}-ok`) once sampled.
 */
async function serverCpuBetweenMarks({ server, peers }, markType, timeoutMs) {
  const cpu = async () => {
    server.send({ type: 'cpu' });
    return (await server.next('cpu', 15_000)).ms;
  };
  await peers.next(markType, timeoutMs);
  const before = await cpu();
  peers.send({ type: `${markType}-ok` });
  await peers.next(markType, 60_000);
  const after = await cpu();
  peers.send({ type: `${markType}-ok` });
  return after - before;
}

/**
 * One fan-out measurement: the peers run the load (measureFanout in load.js) and stop at the
 * start and the end of the measured window, where the server's CPU time is sampled: CPU per
 * delivery = its difference / deliveries counted.
 */
async function runFanout(ctx, params) {
  ctx.peers.send({ type: 'fanout', url: ctx.url, urls: ctx.urls, params });
  const cpuMs = await serverCpuBetweenMarks(ctx, 'fanout-mark', 120_000);
  const result = (await ctx.peers.next('result', 60_000)).result;
  return { ...result, serverCpuUsPerDelivery: (cpuMs * 1000) / result.deliveries };
}

/** One latency measurement (measureLatency in load.js), with the server's CPU time per call. */
async function runLatency(ctx, params) {
  ctx.peers.send({ type: 'latency', url: ctx.url, calleeUrl: ctx.calleeUrl, urls: ctx.urls, params });
  const cpuMs = await serverCpuBetweenMarks(ctx, 'latency-mark', 60_000);
  const result = (await ctx.peers.next('result', 60_000)).result;
  return { ...result, serverCpuUsPerCall: (cpuMs * 1000) / result.calls };
}

const registrationParams = { clients: 24, idsPerClient: 40 };
const allocationParams = { inFlight: 256, callers: 4, payloadBytes: 64, warmupCalls: 20_000, measuredCalls: 50_000 };

/** One measured download (S4 and S4-push): the server's RSS sampled around it. */
async function runStream({ server, peers, url, calleeUrl }, params) {
  peers.send({ type: 'stream-open', url, calleeUrl, params });
  await peers.next('stream-ready', 60_000);
  server.send({ type: 'rss-start', intervalMs: params.rssSampleMs });
  const started = await server.next('rss-started', 15_000);
  if (!started.gc) throw new Error('the server process has no gc(): start it with --expose-gc');
  let transfer;
  try {
    transfer = await peerJob({ peers, url }, 'stream-run', params, 120_000);
  } finally {
    server.send({ type: 'rss-stop' });
  }
  const rss = await server.next('rss-peak', 15_000);
  peers.send({ type: 'stream-close' });
  await peers.next('stream-closed', 15_000);
  return {
    ...transfer,
    rssGrowthMib: (rss.peak - rss.baseline) / 2 ** 20,
    rssBaselineMib: rss.baseline / 2 ** 20,
    rssSamples: rss.samples,
    peakBufferedMib: rss.peakBufferedBytes / 2 ** 20,
    peakPausedConnections: rss.peakPausedConnections,
  };
}

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmt1 = (n) => n.toFixed(1);

/**
 * A scenario: `run(setup, ctx)` returns a result object; each metric picks one number from it.
 * It compares `compare: [baseline, measured]` (default [raw, p2pgen]), `repetitions` times
 * (default 3). A goal bounds the ratio measured / baseline: { max: 1.3 } (lower is better) or
 * { min: 0.6 }; or it bounds the measured value: { below: 64, unit: 'MiB' } (the baseline is then
 * shown for comparison). `name` (default the id) is the row's name in the table.
 */
/**
 * S1's metrics: the latency goals, and where the CPU time of a call goes (the server's and the
 * peers process's, per call: the caller's and, when it runs there, the echo peer's).
 */
const latencyRepetitions = 7;
const latencyMetrics = [
  { name: 'p50 µs', pick: (r) => r.p50Us, format: fmt1, goal: { max: 1.1 } },
  { name: 'p99 µs', pick: (r) => r.p99Us, format: fmt1, goal: { max: 1.3 } },
  { name: 'server CPU µs/call', pick: (r) => r.serverCpuUsPerCall, format: fmt1 },
  { name: 'peers CPU µs/call', pick: (r) => r.peersCpuUsPerCall, format: fmt1 },
];

const scenarios = [
  {
    id: 'S1',
    // Sequential calls scatter more than throughput does on a shared machine (one S1 repetition in
    // five lands 10-40% off the others, for either system): medians of 7.
    repetitions: latencyRepetitions,
    title:
      `latency: ${fmtInt(latencyParams.calls)} sequential calls, ${latencyParams.payloadBytes} B (after ${fmtInt(latencyParams.warmupCalls)} warm-up), caller and echo peer in one peers process; ` +
      "p2pgen's Node client sends zero-masked frames (ws skips the XOR), the relay's clients random masks",
    run: (setup, ctx) => runLatency(ctx, latencyParams),
    metrics: latencyMetrics,
  },
  {
    // As issue 24 measured from outside: the server pinned to one core, the peers process (caller
    // and echo peer) to the other, so a message never waits for the other side's core.
    id: 'S1-pinned',
    name: 'S1 pinned',
    repetitions: latencyRepetitions,
    pinned: true,
    title: 'latency as S1 (caller and echo peer in one peers process), the server pinned to CPU 0 and the peers process to CPU 1 (taskset); masks as in S1',
    run: (setup, ctx) => runLatency(ctx, latencyParams),
    metrics: latencyMetrics,
  },
  {
    // The peers apart: the echo peer in a peers process of its own, the caller in another (three
    // processes on two cores), where S1 above has both peers in one process.
    id: 'S1-apart',
    name: 'S1 peers apart',
    repetitions: latencyRepetitions,
    title: 'latency as S1, with the echo peer in a process of its own and the caller in another (S1: both in one process); masks as in S1',
    run: async (setup, ctx) => {
      const echo = startChild(setup.peers, { env: setup.peersEnv, label: `${setup.label} echo peer` });
      try {
        await echo.next('peers-ready', 15_000);
        echo.send({ type: 'echo-start', url: ctx.url, calleeUrl: ctx.calleeUrl });
        await echo.next('echo-ready', 15_000);
        try {
          return await runLatency(ctx, { ...latencyParams, echoApart: true });
        } finally {
          echo.send({ type: 'echo-stop' });
          await echo.next('echo-stopped', 15_000);
        }
      } finally {
        await echo.stop();
      }
    },
    metrics: latencyMetrics,
  },
  {
    id: 'S2',
    title: `throughput: 256 in flight (4 callers x 64), 64 B, ${throughputParams.durationMs / 1000} s after ${throughputParams.warmupMs / 1000} s warm-up`,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 1.3 } }],
  },
  {
    id: 'S3',
    title: `throughput: 256 in flight (4 callers x 64), 16 KiB, ${throughputParams.durationMs / 1000} s after ${throughputParams.warmupMs / 1000} s warm-up`,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [
      { name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.8 } },
      { name: 'MB/s (payload, one way)', pick: (r) => r.mbPerSecond, format: fmt1 },
    ],
  },
  {
    id: 'S4',
    title:
      `streaming: ${streamParams.totalBytes / 2 ** 20} MiB from peer B to peer A in ${streamParams.chunkBytes / 1024} KiB chunks through the server ` +
      `(after ${streamParams.warmupTransfers} such transfers to warm up; the median of ${streamParams.measuredTransfers}); p2pgen: pullStream with the default window of 32 items; ` +
      `raw: all chunks sent at once with ws.send (no flow control)`,
    run: (setup, ctx) => runStream(ctx, streamParams),
    metrics: [
      { name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1, goal: { min: 0.8 } },
      { name: 'server peak RSS growth MiB', pick: (r) => r.rssGrowthMib, format: fmt1, goal: { below: 64, unit: 'MiB' } },
    ],
  },
  {
    id: 'S4-push',
    name: 'S4 plain Observable',
    title:
      `streaming as S4, with p2pgen's source a plain Observable (not pullStream) pushing 16 chunks per macrotask at its own pace, ` +
      `the default window and streamBufferBytes; raw: as in S4`,
    run: (setup, ctx) => runStream(ctx, { ...streamParams, source: 'push' }),
    metrics: [
      { name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1, goal: { min: 0.8 } },
      { name: 'server peak RSS growth MiB', pick: (r) => r.rssGrowthMib, format: fmt1, goal: { below: 64, unit: 'MiB' } },
    ],
  },
  {
    id: 'fanout',
    name: 'fan-out 1,000',
    title:
      `fan-out: 64 B notifications from one sender to ${fmtInt(fanoutMembers)} members on one server (${fanoutParams.connections} connections x ${fanoutParams.idsPerConnection} member ids, all in one peers process), ` +
      `at most ${fanoutParams.window} notifications not yet delivered to every member, ${fanoutParams.durationMs / 1000} s after ${fanoutParams.warmupMs / 1000} s warm-up; deliveries counted at the members; ` +
      `p2pgen: group(name).controller(path, { collect: false }), each id joined to the group (maxGroupsPerConnection raised to ${fanoutParams.idsPerConnection}); ` +
      `raw: a ws server writing each message of the sender to every member's socket (one ws.send per member id: 100 per connection)`,
    compare: [rawFanout, p2pgenFanout],
    run: (setup, ctx) => runFanout(ctx, fanoutParams),
    metrics: [
      { name: 'deliveries/s', pick: (r) => r.deliveriesPerSecond, format: fmtInt, goal: { min: 0.8 } },
      { name: 'server CPU µs/delivery', pick: (r) => r.serverCpuUsPerDelivery, format: (n) => n.toFixed(2) },
    ],
  },
  {
    id: 'S2-alloc',
    name: 'S2 allocations',
    title: `allocations per call under the S2 load (256 in flight, 64 B): ${fmtInt(allocationParams.measuredCalls)} calls after ${fmtInt(allocationParams.warmupCalls)} warm-up, sampled by V8's heap profiler in the server and in the peers' process (callers and callee together); not timed`,
    run: async (setup, { server, peers, url }) => {
      peers.send({ type: 'allocations', url, params: allocationParams });
      await peers.next('alloc-ready', 60_000);
      server.send({ type: 'alloc-start' });
      await server.next('alloc-started', 15_000);
      peers.send({ type: 'alloc-go' });
      const result = await peers.next('result', 120_000);
      server.send({ type: 'alloc-stop' });
      const { bytes } = await server.next('alloc-bytes', 15_000);
      return { serverBytesPerCall: bytes / allocationParams.measuredCalls, peersBytesPerCall: result.result.bytesPerCall };
    },
    metrics: [
      { name: 'server bytes/call', pick: (r) => r.serverBytesPerCall, format: fmtInt },
      { name: 'peers bytes/call', pick: (r) => r.peersBytesPerCall, format: fmtInt },
    ],
  },
  {
    id: 'S5',
    // The RSS slope scatters more than any other row (the relay's own from 1.7 to 4.0 KB per peer
    // between repetitions of one run: glibc reuses pages freed by earlier peers): medians of 7, at
    // about 5 s a repetition.
    repetitions: 7,
    title: `connections: server memory per idle registered peer, from ${fmtInt(idlePeers)} to ${fmtInt(2 * idlePeers)} peers`,
    // V8 sizes its young generation by allocation rate: a per-process step of 16 to 32 MiB
    // that lands on whichever run happens to cross it, larger at this scale than what the peers
    // themselves cost. Both servers run with the same fixed young generation, so the figure is
    // the memory that grows with the number of peers.
    serverExecArgv: ['--min-semi-space-size=1', '--max-semi-space-size=1'],
    run: async (setup, { server, peers, url }) => {
      // The first peers (and warm-up peers that come and go before them) load and compile the
      // code and size the server's tables; per-peer memory is the slope over the second batch.
      peers.send({ type: 'idle', url, count: 50, prefix: 'warm-', concurrency: 50 });
      await peers.next('idle-ready', 30_000);
      peers.send({ type: 'close-idle' });
      await peers.next('idle-closed', 30_000);
      peers.send({ type: 'idle', url, count: idlePeers, prefix: 'first-', concurrency: 64 });
      await peers.next('idle-ready', 90_000);
      server.send({ type: 'measure', settleMs: 1000 });
      const before = await server.next('memory', 15_000);
      peers.send({ type: 'idle', url, count: idlePeers, prefix: 'second-', concurrency: 64 });
      const ready = await peers.next('idle-ready', 90_000);
      server.send({ type: 'measure', settleMs: 1000 });
      const after = await server.next('memory', 15_000);
      if (!before.gc) throw new Error('the server process has no gc(): start it with --expose-gc');
      if ((after.stats?.peers ?? 0) < 2 * idlePeers) throw new Error(`the server holds ${after.stats?.peers} peers, expected ${2 * idlePeers}`);
      return {
        kbPerPeer: (after.rss - before.rss) / idlePeers / 1024,
        heapKbPerPeer: (after.heapUsed - before.heapUsed) / idlePeers / 1024,
        externalKbPerPeer: (after.external - before.external) / idlePeers / 1024,
        connectMs: ready.ms,
      };
    },
    metrics: [
      // Issue 24's goal; the RSS slope wanders 1.2-1.3x between runs, the JS heap less (bench/memory-per-peer.js says by object).
      { name: 'RSS KB/peer', pick: (r) => r.kbPerPeer, format: fmt1, goal: { max: 1.2 } },
      { name: 'JS heap KB/peer', pick: (r) => r.heapKbPerPeer, format: fmt1, goal: { max: 1.2 } },
      { name: 'external (Buffers) KB/peer', pick: (r) => r.externalKbPerPeer, format: fmt1 },
      { name: `connect+register ${fmtInt(idlePeers)} ms`, pick: (r) => r.connectMs, format: fmtInt },
    ],
  },
  {
    // The broker caches security decisions per (connection, target, action): after the first
    // call, hooks that are slow (async, a setImmediate each) should cost S2 nothing measurable.
    id: 'S2-security',
    name: 'S2 security',
    title:
      `S2 (${variantThroughputParams.durationMs / 1000} s after ${variantThroughputParams.warmupMs / 1000} s warm-up) with a broker whose security overrides every hook, asynchronously ` +
      '(authenticate, isAllowedToRegisterAsPeer, isAllowedToSendToPeer and isAllowedToCall, the last two after a setImmediate), ' +
      'vs the default allow-all security (no `security` option)',
    compare: [
      p2pgenVariant('default-security', 'default security'),
      p2pgenVariant('async-security', 'async hooks', { serverEnv: { BENCH_BROKER_SECURITY: 'async-hooks' } }),
    ],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.95 } }],
  },
  {
    // Node peers of p2pgen mask with a zero key, so neither end XORs payloads; browsers must mask.
    // What masking would cost, with bufferutil doing it natively (as the broker does for browsers).
    id: 'S3-masked',
    name: 'S3 masked frames',
    title: 'S3 with the p2pgen peers masking every frame with a random key (maskFrames: true, as browsers do) vs the default zero key; bufferutil installed',
    compare: [p2pgenVariant('zero-mask', 'zero mask'), p2pgenVariant('masked', 'random masks', { peersEnv: { BENCH_MASK_FRAMES: '1' } })],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt }],
  },
  {
    // The raw relay with the native addon: what bufferutil alone gives plain ws (the baseline has none).
    id: 'S3-native',
    name: 'S3 raw + bufferutil',
    title: 'S3 of the raw relay with bufferutil (native masking) vs without (the baseline)',
    compare: [raw, rawNative],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt }],
  },
  {
    id: 'S4-native',
    name: 'S4 raw + bufferutil',
    title: 'S4 of the raw relay with bufferutil vs without (the baseline)',
    compare: [raw, rawNative],
    run: (setup, ctx) => runStream(ctx, streamParams),
    metrics: [{ name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1 }],
  },
  {
    // Issue 24: large payloads against what plain `ws` does at best on this machine (with the
    // native addon, as p2pgen's broker and peers have it), not only against the baseline without it.
    id: 'S3-vs-native',
    name: 'S3 vs relay + bufferutil',
    title: 'S3 (16 KiB calls, 256 in flight) of p2pgen vs the raw relay with bufferutil (server and peers)',
    compare: [rawNative, p2pgen],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 1 } }],
  },
  {
    id: 'S4-vs-native',
    name: 'S4 vs relay + bufferutil',
    title: 'S4 (64 MiB in 64 KiB chunks) of p2pgen vs the raw relay with bufferutil (server and peers)',
    compare: [rawNative, p2pgen],
    run: (setup, ctx) => runStream(ctx, streamParams),
    metrics: [{ name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1, goal: { min: 0.9 } }],
  },
  {
    // What the Node options `p2pgen broker` starts Node with (runtime/broker/node-flags.ts) do
    // for large frames: without them V8 answers the buffers a broker reads with mark-compacts.
    id: 'S3-node-options',
    name: 'S3 broker node options',
    title: `S3 (16 KiB) with the broker's process started as \`p2pgen broker\` starts it (node ${brokerNodeOptions.join(' ')}) vs on Node's defaults`,
    compare: [p2pgenNodeDefaults, p2pgenNodeOptions],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt }],
  },
  {
    id: 'S4-node-options',
    name: 'S4 broker node options',
    title: "S4 (64 MiB in 64 KiB chunks) with the broker's Node options vs Node's defaults",
    compare: [p2pgenNodeDefaults, p2pgenNodeOptions],
    repetitions: variantRepetitions,
    run: (setup, ctx) => runStream(ctx, streamParams),
    metrics: [{ name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1 }],
  },
  {
    id: 'S2-node-options',
    name: 'S2 broker node options',
    title: "S2 (64 B) with the broker's Node options vs Node's defaults: small frames should not pay for them",
    compare: [p2pgenNodeDefaults, p2pgenNodeOptions],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt }],
  },
  {
    // Issue 24: the outside measurement ran peers installed from the packed tarballs; the rows above run the bundled sources.
    id: 'S1-installed',
    name: 'S1 installed package',
    title: 'S1 (sequential 64 B calls, caller and callee in one peers process) of p2pgen with broker and peers on the installed package (tsc output, one module per file, as the packed tarball ships it) vs the raw relay',
    repetitions: latencyRepetitions,
    compare: [raw, p2pgenInstalled],
    run: (setup, ctx) => runLatency(ctx, latencyParams),
    metrics: latencyMetrics,
  },
  {
    // The installed package against the bundled sources, with no relay between them: what one module per file (tsc's output) costs a call.
    id: 'S1-installed-vs-bundled',
    name: 'S1 installed vs bundled',
    title: 'S1 of p2pgen on the installed package (tsc output, one module per file) vs on the bundled sources (esbuild, one file)',
    repetitions: latencyRepetitions,
    compare: [p2pgen, p2pgenInstalled],
    run: (setup, ctx) => runLatency(ctx, latencyParams),
    metrics: latencyMetrics.map(({ goal, ...metric }) => metric),
  },
  {
    id: 'S2-installed',
    name: 'S2 installed package',
    title: 'S2 (64 B, 256 in flight) of p2pgen on the installed package vs the raw relay',
    compare: [raw, p2pgenInstalled],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 1.3 } }],
  },
  {
    id: 'S4-vs-nats',
    name: 'S4 vs NATS',
    title: "S4 of p2pgen (one broker) vs NATS: a nats.js source publishing every chunk at once to the sink's inbox through nats-server (no flow control, as the raw relay's source)",
    compare: [natsRequestReply, p2pgen],
    run: (setup, ctx) => runStream(ctx, streamParams),
    metrics: [{ name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1, goal: { min: 1 } }],
  },
  {
    id: 'S2-cluster',
    name: 'S2 across brokers',
    title: 'S2 with the callers on broker A and the echo peer on broker B of a two-broker cluster (NATS between them: nats-server and the three processes share the machine) vs one broker',
    compare: [p2pgen, p2pgenCluster],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.7 } }],
  },
  {
    id: 'S3-cluster',
    name: 'S3 across brokers',
    title: 'S3 (16 KiB calls, 256 in flight) with the callers on broker A and the echo peer on broker B of a two-broker cluster vs one broker',
    compare: [p2pgen, p2pgenCluster],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.5 } }],
  },
  {
    id: 'S3-nats',
    name: 'S3 across brokers vs NATS',
    title: "S3 (16 KiB) across two brokers vs NATS's own request/reply (nats.js clients straight to nats-server, the same load)",
    compare: [natsRequestReply, p2pgenCluster],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 1 } }],
  },
  {
    id: 'S2-nats',
    name: 'S2 across brokers vs NATS',
    title: "S2 across two brokers vs NATS's own request/reply (nats.js clients straight to nats-server, the same load)",
    compare: [natsRequestReply, p2pgenCluster],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 1 } }],
  },
  {
    id: 'S2-nats-raw',
    name: 'S2 NATS vs raw',
    title: "NATS request/reply's own S2 vs the raw-ws relay (where NATS stands on this machine)",
    compare: [raw, natsRequestReply],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt }],
  },
  {
    id: 'S4-cluster',
    name: 'S4 across brokers',
    title: 'S4 (pullStream, 64 MiB) with the source on broker B and the sink on broker A of a two-broker cluster vs one broker',
    compare: [p2pgen, p2pgenCluster],
    run: (setup, ctx) => runStream(ctx, streamParams),
    metrics: [{ name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1, goal: { min: 0.5 } }],
  },
  {
    id: 'fanout-cluster',
    name: 'fan-out across brokers',
    title:
      `the fan-out row's load (${fmtInt(fanoutMembers)} members, 64 B, collect: false) with the members on two brokers of a cluster (5 connections x 100 ids on each: 500 members per broker; ` +
      'the sender on broker A, which sends broker B one GroupRequest per notification, not one per member) vs all on one broker; CPU is both brokers together (not nats-server)',
    compare: [p2pgenFanout, p2pgenClusterFanout],
    run: (setup, ctx) => runFanout(ctx, { ...fanoutParams, spread: true }),
    metrics: [
      { name: 'deliveries/s', pick: (r) => r.deliveriesPerSecond, format: fmtInt, goal: { min: 0.5 } },
      { name: 'brokers CPU µs/delivery', pick: (r) => r.serverCpuUsPerDelivery, format: (n) => n.toFixed(2) },
    ],
  },
  {
    id: 'S2-any',
    name: 'S2 any-peer',
    title:
      `S2 (64 B, 256 in flight, 4 callers x 64) with the callers calling anyPeer().controller('/echo') over 4 worker peers (the broker picks one per call: fewest calls in flight) ` +
      "vs S2 as above (peer('echo'): one echo peer, called by id)",
    compare: [p2pgenVariant('peer-by-id', "peer('echo')"), p2pgenVariant('any-peer', 'anyPeer(), 4 workers', { peersEnv: { BENCH_ANY_PEER_WORKERS: '4' } })],
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.8 } }],
  },
  {
    id: 'registrations',
    name: 'registrations',
    title: `peer ids registered per second: ${fmtInt(registrationParams.clients * registrationParams.idsPerClient)} ids by ${registrationParams.clients} clients at once, one broker vs a three-broker cluster (clients spread over the brokers; each id claimed in NATS KV)`,
    compare: [p2pgen, p2pgenCluster3],
    run: (setup, ctx) => peerJob(ctx, 'register-burst', registrationParams, 120_000),
    metrics: [{ name: 'registrations/s', pick: (r) => r.registrationsPerSecond, format: fmtInt }],
  },
  {
    id: 'failover',
    name: 'failover',
    title: "time from a broker's kill -9 to its peer (a client with both brokers' URLs) answering calls again through the other broker of a two-broker cluster",
    compare: [p2pgenCluster],
    run: async (setup, { server, peers, url, calleeUrl }) => {
      peers.send({ type: 'failover', url, calleeUrl, params: { payloadBytes: 64 } });
      await peers.next('failover-ready', 60_000);
      server.send({ type: 'kill-callee-broker' });
      const { at } = await server.next('callee-broker-killed', 15_000);
      peers.send({ type: 'failover-killed', at });
      return (await peers.next('result', 60_000)).result;
    },
    metrics: [{ name: 'ms to callable again', pick: (r) => r.recoveryMs, format: fmtInt }],
  },
  {
    // The callee compares each request's contract fingerprint with its own; the baseline is
    // told to skip that (unsafeSkipFingerprintCheck, internal) to show what the check costs per
    // call. Where the dispatcher compares before it reads the option, matching fingerprints are
    // compared in both setups and this row is close to an A/A run: it then shows the noise floor.
    id: 'S2-fingerprint',
    name: 'S2 fingerprint check',
    title:
      `S2 (${variantThroughputParams.durationMs / 1000} s after ${variantThroughputParams.warmupMs / 1000} s warm-up) with the callee checking each caller's contract fingerprint (the default) ` +
      'vs the callee created with unsafeSkipFingerprintCheck: true',
    compare: [
      p2pgenVariant('fingerprint-unchecked', 'check skipped', { peersEnv: { BENCH_ECHO_SKIP_FINGERPRINT_CHECK: '1' } }),
      p2pgenVariant('fingerprint-checked', 'check on'),
    ],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.97 } }],
  },
  {
    // An action taking a CallContext gets one object per call (who called, its deadline on
    // the callee's heap of deadlines); one that does not pays nothing. What it costs at S2.
    id: 'S2-context',
    name: 'S2 CallContext',
    title:
      `S2 (${variantThroughputParams.durationMs / 1000} s after ${variantThroughputParams.warmupMs / 1000} s warm-up) with the callers calling echoWithContext (an echo whose last parameter is a CallContext, ` +
      'read by the action) vs the plain echo',
    compare: [p2pgenVariant('plain-echo', 'plain echo'), p2pgenVariant('context-echo', 'context echo', { peersEnv: { BENCH_ECHO_CONTEXT: '1' } })],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.95 } }],
  },
  {
    // Metrics count into plain numbers where a route ends (no prom-client call per frame or
    // call); prom-client reads them when scraped. What that costs at S2, scraped once a second.
    id: 'S2-metrics',
    name: 'S2 metrics',
    title:
      `S2 (${variantThroughputParams.durationMs / 1000} s after ${variantThroughputParams.warmupMs / 1000} s warm-up) with the broker's Prometheus metrics on (metrics: true, ` +
      'latency timed per call, the registry scraped once a second) vs off',
    compare: [p2pgenVariant('metrics-off', 'metrics off'), p2pgenVariant('metrics-on', 'metrics on', { serverEnv: { BENCH_BROKER_METRICS: '1' } })],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.95 } }],
  },
  {
    // Interceptors cost nothing when there are none (the call path is the same); one no-op
    // interceptor on each side (an async function per call, the callee's call given a context)
    // is what an application that uses them pays at least.
    id: 'S2-interceptors',
    name: 'S2 interceptors',
    title:
      `S2 (${variantThroughputParams.durationMs / 1000} s after ${variantThroughputParams.warmupMs / 1000} s warm-up) with one no-op interceptor on each side ` +
      '(interceptors on the callers, serveInterceptors on the echo peer: async (call) => next(call)) vs none',
    compare: [p2pgenVariant('no-interceptors', 'no interceptors'), p2pgenVariant('noop-interceptors', 'no-op interceptors', { peersEnv: { BENCH_INTERCEPTORS: '1' } })],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.95 } }],
  },
  {
    // Compression (off by default): what it costs and saves on this machine's loopback, where
    // bytes are nearly free. 64 KiB of JSON-like text each way per call; the wire bytes are what
    // the callers' sockets sent and received, per call.
    id: 'S6-compression',
    name: 'S6 compression',
    title:
      `64 KiB JSON-like calls (64 in flight, 4 callers x 16; echoed; ${variantThroughputParams.durationMs / 1000} s after ${variantThroughputParams.warmupMs / 1000} s warm-up) ` +
      'with compression: true on every peer (gzip from 1 KiB, zlib) vs off (the default)',
    compare: [p2pgenVariant('compression-off', 'off', { peersEnv: { BENCH_WIRE_BYTES: '1' } }), p2pgenVariant('compression-on', 'gzip', { peersEnv: { BENCH_COMPRESSION: '1', BENCH_WIRE_BYTES: '1' } })],
    repetitions: 5,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, inFlight: 64, payloadBytes: 64 * 1024, payloadKind: 'json' }, 60_000),
    metrics: [
      { name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt },
      { name: 'wire KB/call', pick: (r) => r.wireBytesPerCall / 1000, format: fmt1 },
    ],
  },
  {
    id: 'S6-compression-small',
    name: 'S6 compression, 64 B',
    title: `S2 (64 B calls, below minBytes) with compression: true on every peer vs off: what a peer that compresses pays on calls too small to compress (the envelope saying what it takes)`,
    compare: [p2pgenVariant('compression-off', 'off', { peersEnv: { BENCH_WIRE_BYTES: '1' } }), p2pgenVariant('compression-on', 'gzip', { peersEnv: { BENCH_COMPRESSION: '1', BENCH_WIRE_BYTES: '1' } })],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [
      { name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt },
      { name: 'wire B/call', pick: (r) => r.wireBytesPerCall, format: fmtInt },
    ],
  },
  {
    // callSiteStacks: every call captures its caller's stack (for the stack of its RpcError).
    // What that costs, and why it is off by default.
    id: 'S2-stacks',
    name: 'S2 call-site stacks',
    title:
      `S2 (${variantThroughputParams.durationMs / 1000} s after ${variantThroughputParams.warmupMs / 1000} s warm-up) with the callers capturing each call's call site (callSiteStacks: true) ` +
      'vs the default (off)',
    compare: [p2pgenVariant('stacks-off', 'no call sites'), p2pgenVariant('stacks-on', 'call sites', { peersEnv: { BENCH_CALL_SITE_STACKS: '1' } })],
    repetitions: variantRepetitions,
    run: (setup, ctx) => peerJob(ctx, 'throughput', { ...variantThroughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt }],
  },
];
for (const scenario of scenarios) {
  scenario.name ??= scenario.id;
  scenario.compare ??= [raw, p2pgen];
  scenario.repetitions ??= repetitions;
}

const only = process.env.BENCH_SCENARIOS?.split(',').map((id) => id.trim()).filter(Boolean);
if (only?.length) {
  const unknown = only.filter((id) => !scenarios.some((sc) => sc.id === id));
  if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: no scenario ${unknown.join(', ')}`);
  scenarios.splice(0, scenarios.length, ...scenarios.filter((sc) => only.includes(sc.id)));
}

// Nothing may hang: the whole run is bounded (by what it measures: the full suite runs well past
// ten minutes, one row in about one), and so is every wait inside it.
const measuredRuns = scenarios.reduce((n, sc) => n + sc.repetitions * sc.compare.length, 0);
const watchdogMs = (5 + measuredRuns / 2) * 60_000;
const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${watchdogMs / 60_000} min; killing its child processes`);
  killAllChildren();
  process.exit(1);
}, watchdogMs);
watchdog.unref();

// ---- measure --------------------------------------------------------------------------

/** results[scenarioId][rep] = { [setupKey]: result object } (a failed run leaves its key out). */
const results = Object.fromEntries(scenarios.map((s) => [s.id, []]));
/** The results of one setup in a scenario, one per repetition that succeeded. */
const resultsOf = (scenario, setup) => results[scenario.id].map((byKey) => byKey[setup.key]).filter((r) => r !== undefined);
const errors = [];
const benchStarted = performance.now();
const maxRepetitions = Math.max(0, ...scenarios.map((s) => s.repetitions));
const labelWidth = Math.max(...scenarios.flatMap((s) => s.compare.map((setup) => setup.label.length)));

for (let rep = 0; rep < maxRepetitions; rep++) {
  for (const scenario of scenarios) {
    if (rep >= scenario.repetitions) continue;
    results[scenario.id][rep] = {};
    // Alternate which setup goes first, so drift in the machine's load hits both alike.
    const order = (rep + scenarios.indexOf(scenario)) % 2 === 0 ? scenario.compare : [...scenario.compare].reverse();
    for (const setup of order) {
      const started = performance.now();
      const runLabel = `run ${rep + 1}/${scenario.repetitions} ${scenario.id} ${setup.label.padEnd(labelWidth)}`;
      try {
        const result = await withProcesses(setup, scenario, (ctx) => scenario.run(setup, ctx));
        results[scenario.id][rep][setup.key] = result;
        const summary = scenario.metrics.map((m) => `${m.name} ${m.format(m.pick(result))}`).join(', ');
        console.log(`  ${runLabel} ${summary}  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      } catch (error) {
        errors.push(`${scenario.id} ${setup.label} run ${rep + 1}: ${error.message}`);
        console.log(`  ${runLabel} FAILED: ${error.message.split('\n')[0]}`);
      }
    }
  }
}

// ---- report ---------------------------------------------------------------------------

const isRawVsP2pgen = (scenario) => (scenario.compare[0] === raw && scenario.compare[1] === p2pgen) || (scenario.compare[0] === rawFanout && scenario.compare[1] === p2pgenFanout);
const goalText = (goal, baselineName) => {
  if (!goal) return '';
  if (goal.below !== undefined) return `p2pgen < ${goal.below} ${goal.unit ?? ''}`.trimEnd();
  return goal.max !== undefined ? `≤ ${goal.max}× ${baselineName}` : `≥ ${goal.min}× ${baselineName}`;
};
/** Whether a goal is met: 'yes', 'NO', or 'n/a' (no number to judge). */
const goalMet = (goal, values, ratio) => {
  if (goal.below !== undefined) return !Number.isFinite(values.measured) ? 'n/a' : values.measured < goal.below ? 'yes' : 'NO';
  if (!Number.isFinite(ratio)) return 'n/a';
  return (goal.max !== undefined ? ratio <= goal.max : ratio >= goal.min) ? 'yes' : 'NO';
};
/** Two decimals, or three where two would round onto the goal's bound (1.506 is not "1.50"). */
const ratioText = (ratio, goal) => {
  if (!Number.isFinite(ratio)) return 'n/a';
  const bound = goal?.max ?? goal?.min;
  return `${ratio.toFixed(bound !== undefined && ratio.toFixed(2) === bound.toFixed(2) && ratio !== bound ? 3 : 2)}×`;
};
/** Medians of both setups of a scenario for one metric, their ratio, and the goal's verdict. */
function summarize(scenario, metric) {
  const [baseline, measured] = scenario.compare;
  const values = { baseline: median(resultsOf(scenario, baseline).map(metric.pick)), measured: median(resultsOf(scenario, measured).map(metric.pick)) };
  const ratio = values.measured / values.baseline;
  const met = metric.goal ? goalMet(metric.goal, values, ratio) : '';
  const cell = (v) => (Number.isFinite(v) ? metric.format(v) : 'error');
  return { baselineCell: cell(values.baseline), measuredCell: cell(values.measured), ratio, met };
}

/** A markdown table; columns listed in `right` are right-aligned (numbers). */
function printTable(header, rows, right) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (right.includes(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

const mainScenarios = scenarios.filter(isRawVsP2pgen);
const singleScenarios = scenarios.filter((s) => s.compare.length === 1);
const variantScenarios = scenarios.filter((s) => !isRawVsP2pgen(s) && s.compare.length === 2);
const mainRows = [];
for (const scenario of mainScenarios) {
  for (const metric of scenario.metrics) {
    const { baselineCell, measuredCell, ratio, met } = summarize(scenario, metric);
    mainRows.push([scenario.name, metric.name, baselineCell, measuredCell, ratioText(ratio, metric.goal), goalText(metric.goal, 'raw'), met]);
  }
}
// p2pgen against itself: each row names its two setups; the ratio is measured / baseline.
const variantRows = [];
for (const scenario of variantScenarios) {
  const [baseline, measured] = scenario.compare;
  for (const metric of scenario.metrics) {
    const { baselineCell, measuredCell, ratio, met } = summarize(scenario, metric);
    variantRows.push([scenario.name, metric.name, baseline.label, baselineCell, measured.label, measuredCell, ratioText(ratio, metric.goal), goalText(metric.goal, 'baseline'), met]);
  }
}

// One setup alone (no baseline): medians.
const singleRows = singleScenarios.flatMap((scenario) =>
  scenario.metrics.map((metric) => {
    const values = resultsOf(scenario, scenario.compare[0]).map(metric.pick);
    return [scenario.name, metric.name, scenario.compare[0].label, values.length > 0 ? metric.format(median(values)) : 'error', values.map(metric.format).join(' ')];
  }),
);

const loadEnd = os.loadavg();
console.log('');
const measuredSeconds = ((performance.now() - benchStarted) / 1000).toFixed(0);
if (mainScenarios.length > 0) {
  console.log(`Medians of ${repetitions} runs per system and scenario (or as many as a scenario says: the S1 rows ${latencyRepetitions}, the variant rows 7), runs interleaved (${measuredSeconds} s of measuring, all tables).`);
  console.log('');
  for (const s of mainScenarios) console.log(`- ${s.id}: ${s.title}`);
  console.log('');
  printTable(['scenario', 'metric', 'raw-ws relay', 'p2pgen', 'ratio p2pgen/raw', 'goal', 'met?'], mainRows, [2, 3, 4]);
  console.log('');
}
if (variantScenarios.length > 0) {
  console.log(
    `Two configurations per row (p2pgen against p2pgen, or the raw relay with and without bufferutil), medians of each row's runs, interleaved with each other (alternating which goes first) ` +
      'and with the rows above. Ratio = measured / baseline; the goal bounds it.',
  );
  console.log('');
  for (const s of variantScenarios) console.log(`- ${s.name} (BENCH_SCENARIOS=${s.id}): ${s.title}`);
  console.log('');
  printTable(['scenario', 'metric', 'baseline', 'median', 'measured', 'median', 'ratio measured/baseline', 'goal', 'met?'], variantRows, [3, 5, 6]);
  console.log('');
  // Same-repetition ratios show the noise the medians smooth out.
  for (const scenario of variantScenarios) {
    const [baseline, measured] = scenario.compare;
    for (const metric of scenario.metrics) {
      const paired = results[scenario.id]
        .filter((byKey) => byKey[baseline.key] && byKey[measured.key])
        .map((byKey) => metric.pick(byKey[measured.key]) / metric.pick(byKey[baseline.key]));
      console.log(
        `${scenario.name}, ${metric.name}: ${measured.label} / ${baseline.label} per repetition ${paired.map((r) => r.toFixed(2)).join(' ') || 'n/a'}` +
          ` (median ${ratioText(median(paired))})`,
      );
    }
  }
  console.log('');
}
if (singleScenarios.length > 0) {
  for (const s of singleScenarios) console.log(`- ${s.name} (BENCH_SCENARIOS=${s.id}): ${s.title}`);
  console.log('');
  printTable(['scenario', 'metric', 'setup', 'median', 'runs'], singleRows, [3]);
  console.log('');
}
console.log(`node ${process.version}, ${cpus.length} cpus, load average at start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);
console.log('The ratios are the result: absolute numbers depend on the machine and on what else runs on it.');
console.log('The raw peers and relay send with plain ws.send (one socket write per message); p2pgen corks its sockets per tick (one writev for all frames of a tick), which is most of its lead at 64 B.');
console.log(`MB = 10^6 bytes of payload per second in one direction. S5 per-peer memory = (server RSS with ${fmtInt(2 * idlePeers)} idle peers - RSS with ${fmtInt(idlePeers)}) / ${fmtInt(idlePeers)}, each after a forced GC, young generation fixed at 1 MiB semi-spaces in both servers.`);
console.log(
  `S4: MB/s = payload bytes / wall time from subscribe (raw: from sending the request) until the last byte arrived. Server peak RSS growth = peak of RSS sampled every ~${streamParams.rssSampleMs} ms during the transfer - RSS before it (after a forced GC); garbage not yet collected counts. ` +
    'The raw relay has no flow control: its source writes all chunks at once and whatever a socket does not take waits in memory; p2pgen paces the source by credit and pauses reading from a connection whose target is backed up.',
);
const s4Scenario = scenarios.find((s) => s.id === 'S4');
const s4 = s4Scenario ? resultsOf(s4Scenario, p2pgen) : [];
const s4raw = s4Scenario ? resultsOf(s4Scenario, raw) : [];
if (s4.length > 0 && s4raw.length > 0) {
  const peakBuffered = median(s4.map((r) => r.peakBufferedMib));
  const paused = Math.max(...s4.map((r) => r.peakPausedConnections));
  console.log(
    `S4 medians: transfer ${fmtInt(median(s4raw.map((r) => r.ms)))} ms raw, ${fmtInt(median(s4.map((r) => r.ms)))} ms p2pgen; RSS samples per transfer ${fmtInt(median(s4raw.map((r) => r.rssSamples)))} raw, ${fmtInt(median(s4.map((r) => r.rssSamples)))} p2pgen; ` +
      `server RSS before ${fmt1(median(s4raw.map((r) => r.rssBaselineMib)))} MiB raw, ${fmt1(median(s4.map((r) => r.rssBaselineMib)))} MiB p2pgen; ` +
      `p2pgen broker peak bufferedBytes ${fmt1(peakBuffered)} MiB, paused connections at most ${paused}.`,
  );
}
if (ulimit < idlePeers + 100) console.log(`WARNING: ulimit -n is ${ulimit}; ${idlePeers} idle peers may not fit (raise it to run S5 reliably).`);
if (cpuProfile) console.log(`CPU profiles of the p2pgen broker and peers (profiling slows them down): ${join(tmp, 'prof')}`);
if (errors.length > 0) {
  console.log('');
  console.log(`${errors.length} run(s) failed:`);
  for (const e of errors) console.log(`- ${e}`);
}
// Goals missed are a finding, not a failure of the benchmark.
process.exitCode = 0;
