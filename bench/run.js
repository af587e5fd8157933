/**
 * The p2pgen broker against a raw-ws relay baseline, side by side, in one run:
 *
 *   npm run bench          (BENCH_CPU_PROF=1 also writes CPU profiles of the p2pgen broker and peers;
 *                           BENCH_SCENARIOS=S4,S5 runs only those scenarios)
 *
 * Every server runs in a process of its own and the peers in another, all on 127.0.0.1. The
 * raw relay is the least a relay can do (read a target id, forward the bytes), so the ratios
 * p2pgen / raw say what the broker, the wire format, the codecs and the validation cost on top
 * of plain `ws`. Runs of the two systems alternate and each scenario is repeated; the table
 * shows medians. On a shared machine the absolute numbers wander; the ratios are the result.
 *
 * Scenarios are data (`scenarios` below): a new row (streaming, security hooks, fingerprint
 * checks) is one more entry with a `run` and the metrics it reports.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { killAllChildren, startChild } from './lib/children.js';
import { median } from './lib/stats.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const tmp = join(repoRoot, '.tmp', 'bench-run');
const repetitions = 3;
const cpuProfile = process.env.BENCH_CPU_PROF === '1';
// Nothing may hang: the whole run is bounded, and so is every wait inside it.
const watchdogMs = 10 * 60_000;

const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${watchdogMs / 60_000} min; killing its child processes`);
  killAllChildren();
  process.exit(1);
}, watchdogMs);
watchdog.unref();
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

/** Runs a command to completion; throws (with its output) if it fails. */
function run(label, command, args) {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: 5 * 60_000 });
  if (result.error || result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    throw new Error(`${label} failed (${result.error ? result.error.message : `exit code ${result.status}`})`);
  }
  return result.stdout.trim();
}

// The CLI runs dist/, so compile it first: a stale dist/ would generate with old code.
console.log('Compiling cli/ and runtime/ (npm run build) ...');
run('npm run build', process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent']);

// Generate from a copy: `p2pgen build` writes its lock file next to the contracts.
rmSync(tmp, { recursive: true, force: true });
const echoDir = join(tmp, 'echo');
mkdirSync(echoDir, { recursive: true });
cpSync(join(repoRoot, 'bench/contracts-echo'), join(echoDir, 'contracts'), { recursive: true });
console.log(run('p2pgen build', process.execPath, ['bin/p2pgen.js', 'build', join(echoDir, 'contracts'), '--out', join(echoDir, 'gen')]));

// Node 20 runs neither TypeScript nor TC39 decorators: esbuild bundles the p2pgen side from the
// runtime's sources (as the tests do). `ws` stays external, so both systems run the same `ws`.
const bundleDir = join(tmp, 'bundle');
await build({
  entryPoints: {
    'p2pgen-broker': join(repoRoot, 'bench/servers/p2pgen-broker.js'),
    'p2pgen-peers': join(repoRoot, 'bench/peers/p2pgen-peers.js'),
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'es2022',
  outdir: bundleDir,
  outExtension: { '.js': '.mjs' },
  external: ['ws'],
  logLevel: 'warning',
  // Bundled CommonJS (protobufjs) may call require(); ESM output has none unless given one.
  banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
  alias: {
    'p2pgen/internal': join(repoRoot, 'runtime/internal.ts'),
    'p2pgen/broker': join(repoRoot, 'runtime/broker/index.ts'),
    p2pgen: join(repoRoot, 'runtime/index.node.ts'),
    'bench-echo/gen': join(echoDir, 'gen/index.ts'),
    'bench-echo/contract': join(echoDir, 'contracts/echo.ts'),
  },
});

// ---- systems and scenarios ------------------------------------------------------------

const systems = [
  { key: 'raw', label: 'raw-ws relay', server: join(repoRoot, 'bench/servers/raw-relay.js'), peers: join(repoRoot, 'bench/peers/raw-peers.js') },
  { key: 'p2pgen', label: 'p2pgen', server: join(bundleDir, 'p2pgen-broker.mjs'), peers: join(bundleDir, 'p2pgen-peers.mjs') },
];

/** A server process and a peers process for one measurement; both are gone when it returns. */
async function withProcesses(system, scenarioId, fn) {
  // Profiles are written when a child exits on 'stop' (children.js), so they are complete.
  const profile = (name) =>
    cpuProfile && system.key === 'p2pgen' ? ['--cpu-prof', `--cpu-prof-dir=${join(tmp, 'prof')}`, `--cpu-prof-name=${name}-${scenarioId}-${Date.now()}.cpuprofile`] : [];
  const server = startChild(system.server, { execArgv: ['--expose-gc', ...profile('broker')], label: `${system.label} server` });
  let peers;
  try {
    const { url } = await server.next('listening', 15_000);
    peers = startChild(system.peers, { execArgv: profile('peers'), label: `${system.label} peers` });
    await peers.next('peers-ready', 15_000);
    return await fn({ server, peers, url });
  } finally {
    await peers?.stop();
    await server.stop();
  }
}

/** A job for the peers process; its answer is the job's 'result' message. */
async function peerJob({ peers, url }, type, params, timeoutMs) {
  peers.send({ type, url, params });
  return (await peers.next('result', timeoutMs)).result;
}

const idlePeers = 2000;
const throughputParams = { inFlight: 256, callers: 4, warmupMs: 1000, durationMs: 3000 };
const streamParams = { totalBytes: 64 * 2 ** 20, chunkBytes: 64 * 1024, warmupBytes: 8 * 2 ** 20, rssSampleMs: 20 };

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmt1 = (n) => n.toFixed(1);

/**
 * A scenario: `run(system, ctx)` returns a result object; each metric picks one number from it.
 * A goal bounds the ratio p2pgen / raw: { max: 1.3 } (lower is better) or { min: 0.6 }; or it
 * bounds p2pgen's own value: { below: 64, unit: 'MiB' } (raw is then shown for comparison).
 */
const scenarios = [
  {
    id: 'S1',
    title: 'latency: 5,000 sequential calls, 64 B (after 1,000 warm-up)',
    run: (system, ctx) => peerJob(ctx, 'latency', { payloadBytes: 64, warmupCalls: 1000, calls: 5000 }, 60_000),
    metrics: [
      { name: 'p50 µs', pick: (r) => r.p50Us, format: fmt1, goal: { max: 1.3 } },
      { name: 'p99 µs', pick: (r) => r.p99Us, format: fmt1 },
    ],
  },
  {
    id: 'S2',
    title: `throughput: 256 in flight (4 callers x 64), 64 B, ${throughputParams.durationMs / 1000} s after ${throughputParams.warmupMs / 1000} s warm-up`,
    run: (system, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 64 }, 60_000),
    metrics: [{ name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.6 } }],
  },
  {
    id: 'S3',
    title: `throughput: 256 in flight (4 callers x 64), 16 KiB, ${throughputParams.durationMs / 1000} s after ${throughputParams.warmupMs / 1000} s warm-up`,
    run: (system, ctx) => peerJob(ctx, 'throughput', { ...throughputParams, payloadBytes: 16 * 1024 }, 60_000),
    metrics: [
      { name: 'calls/s', pick: (r) => r.callsPerSecond, format: fmtInt, goal: { min: 0.8 } },
      { name: 'MB/s (payload, one way)', pick: (r) => r.mbPerSecond, format: fmt1 },
    ],
  },
  {
    id: 'S4',
    title:
      `streaming: ${streamParams.totalBytes / 2 ** 20} MiB from peer B to peer A in ${streamParams.chunkBytes / 1024} KiB chunks through the server ` +
      `(after a ${streamParams.warmupBytes / 2 ** 20} MiB warm-up); p2pgen: pullStream with the default window of 32 items; ` +
      `raw: all chunks sent at once with ws.send (no flow control)`,
    run: async (system, { server, peers, url }) => {
      peers.send({ type: 'stream-open', url, params: streamParams });
      await peers.next('stream-ready', 60_000);
      server.send({ type: 'rss-start', intervalMs: streamParams.rssSampleMs });
      const started = await server.next('rss-started', 15_000);
      if (!started.gc) throw new Error('the server process has no gc(): start it with --expose-gc');
      let transfer;
      try {
        transfer = await peerJob({ peers, url }, 'stream-run', streamParams, 120_000);
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
    },
    metrics: [
      { name: 'MB/s', pick: (r) => r.mbPerSecond, format: fmt1, goal: { min: 0.8 } },
      { name: 'server peak RSS growth MiB', pick: (r) => r.rssGrowthMib, format: fmt1, goal: { below: 64, unit: 'MiB' } },
    ],
  },
  {
    id: 'S5',
    title: `connections: server memory with ${fmtInt(idlePeers)} idle registered peers`,
    run: async (system, { server, peers, url }) => {
      // Warm-up peers come and go first, so code loaded and compiled for the first connections
      // does not count as per-peer memory.
      peers.send({ type: 'idle', url, count: 50, prefix: 'warm-', concurrency: 50 });
      await peers.next('idle-ready', 30_000);
      peers.send({ type: 'close-idle' });
      await peers.next('idle-closed', 30_000);
      server.send({ type: 'measure', settleMs: 1000 });
      const before = await server.next('memory', 15_000);
      peers.send({ type: 'idle', url, count: idlePeers, prefix: 'idle-', concurrency: 64 });
      const ready = await peers.next('idle-ready', 90_000);
      server.send({ type: 'measure', settleMs: 1000 });
      const after = await server.next('memory', 15_000);
      if (!before.gc) throw new Error('the server process has no gc(): start it with --expose-gc');
      if ((after.stats?.peers ?? 0) < idlePeers) throw new Error(`the server holds ${after.stats?.peers} peers, expected ${idlePeers}`);
      return {
        kbPerPeer: (after.rss - before.rss) / idlePeers / 1024,
        heapKbPerPeer: (after.heapUsed - before.heapUsed) / idlePeers / 1024,
        rssBeforeMb: before.rss / 2 ** 20,
        rssAfterMb: after.rss / 2 ** 20,
        connectMs: ready.ms,
      };
    },
    metrics: [
      { name: 'RSS KB/peer', pick: (r) => r.kbPerPeer, format: fmt1, goal: { max: 1.5 } },
      { name: 'JS heap KB/peer', pick: (r) => r.heapKbPerPeer, format: fmt1 },
      { name: `connect+register ${fmtInt(idlePeers)} ms`, pick: (r) => r.connectMs, format: fmtInt },
    ],
  },
];

const only = process.env.BENCH_SCENARIOS?.split(',').map((id) => id.trim()).filter(Boolean);
if (only?.length) {
  const unknown = only.filter((id) => !scenarios.some((sc) => sc.id === id));
  if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: no scenario ${unknown.join(', ')}`);
  scenarios.splice(0, scenarios.length, ...scenarios.filter((sc) => only.includes(sc.id)));
}

// ---- measure --------------------------------------------------------------------------

/** results[scenarioId][systemKey] = list of result objects (one per repetition). */
const results = Object.fromEntries(scenarios.map((s) => [s.id, Object.fromEntries(systems.map((sys) => [sys.key, []]))]));
const errors = [];
const benchStarted = performance.now();

for (let rep = 0; rep < repetitions; rep++) {
  for (const scenario of scenarios) {
    // Alternate which system goes first, so drift in the machine's load hits both alike.
    const order = (rep + scenarios.indexOf(scenario)) % 2 === 0 ? systems : [...systems].reverse();
    for (const system of order) {
      const started = performance.now();
      try {
        const result = await withProcesses(system, scenario.id, (ctx) => scenario.run(system, ctx));
        results[scenario.id][system.key].push(result);
        const summary = scenario.metrics.map((m) => `${m.name} ${m.format(m.pick(result))}`).join(', ');
        console.log(`  run ${rep + 1}/${repetitions} ${scenario.id} ${system.label.padEnd(12)} ${summary}  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      } catch (error) {
        errors.push(`${scenario.id} ${system.label} run ${rep + 1}: ${error.message}`);
        console.log(`  run ${rep + 1}/${repetitions} ${scenario.id} ${system.label.padEnd(12)} FAILED: ${error.message.split('\n')[0]}`);
      }
    }
  }
}

// ---- report ---------------------------------------------------------------------------

const goalText = (goal) => {
  if (!goal) return '';
  if (goal.below !== undefined) return `p2pgen < ${goal.below} ${goal.unit ?? ''}`.trimEnd();
  return goal.max !== undefined ? `≤ ${goal.max}× raw` : `≥ ${goal.min}× raw`;
};
/** Whether a goal is met: 'yes', 'NO', or 'n/a' (no number to judge). */
const goalMet = (goal, values, ratio) => {
  if (goal.below !== undefined) return !Number.isFinite(values.p2pgen) ? 'n/a' : values.p2pgen < goal.below ? 'yes' : 'NO';
  if (!Number.isFinite(ratio)) return 'n/a';
  return (goal.max !== undefined ? ratio <= goal.max : ratio >= goal.min) ? 'yes' : 'NO';
};
/** Two decimals, or three where two would round onto the goal's bound (1.506 is not "1.50"). */
const ratioText = (ratio, goal) => {
  if (!Number.isFinite(ratio)) return 'n/a';
  const bound = goal?.max ?? goal?.min;
  return `${ratio.toFixed(bound !== undefined && ratio.toFixed(2) === bound.toFixed(2) && ratio !== bound ? 3 : 2)}×`;
};
const rows = [];
for (const scenario of scenarios) {
  for (const metric of scenario.metrics) {
    const values = Object.fromEntries(systems.map((sys) => [sys.key, median(results[scenario.id][sys.key].map(metric.pick))]));
    const ratio = values.p2pgen / values.raw;
    let met = '';
    if (metric.goal) met = goalMet(metric.goal, values, ratio);
    const cell = (v) => (Number.isFinite(v) ? metric.format(v) : 'error');
    rows.push([scenario.id, metric.name, cell(values.raw), cell(values.p2pgen), ratioText(ratio, metric.goal), goalText(metric.goal), met]);
  }
}
const header = ['scenario', 'metric', 'raw-ws relay', 'p2pgen', 'ratio p2pgen/raw', 'goal', 'met?'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;

const loadEnd = os.loadavg();
console.log('');
console.log(`Medians of ${repetitions} runs per system and scenario, runs interleaved (${((performance.now() - benchStarted) / 1000).toFixed(0)} s of measuring).`);
console.log('');
for (const s of scenarios) console.log(`- ${s.id}: ${s.title}`);
console.log('');
console.log(line(header));
console.log(`|${widths.map((w, i) => (i >= 2 && i <= 4 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log('');
console.log(`node ${process.version}, ${cpus.length} cpus, load average at start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`);
console.log('The ratios are the result: absolute numbers depend on the machine and on what else runs on it.');
console.log('The raw peers and relay send with plain ws.send (one socket write per message); p2pgen corks its sockets per tick (one writev for all frames of a tick), which is most of its lead at 64 B.');
console.log('MB = 10^6 bytes of payload per second in one direction. Per-peer memory = (server RSS with the peers - RSS before) / peers, after a forced GC.');
console.log(
  `S4: MB/s = payload bytes / wall time from subscribe (raw: from sending the request) until the last byte arrived. Server peak RSS growth = peak of RSS sampled every ~${streamParams.rssSampleMs} ms during the transfer - RSS before it (after a forced GC); garbage not yet collected counts. ` +
    'The raw relay has no flow control: its source writes all chunks at once and whatever a socket does not take waits in memory; p2pgen paces the source by credit and pauses reading from a connection whose target is backed up.',
);
const s4 = results.S4?.p2pgen ?? [];
const s4raw = results.S4?.raw ?? [];
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
