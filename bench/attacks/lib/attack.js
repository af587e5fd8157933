/**
 * What every attack script shares: a broker and (when the attack needs one) a victim peer in
 * processes of their own, hand-made frames (docs/wire.md) on raw WebSockets, a healthy pair of
 * peers whose calls must keep working while the attack runs, and RSS figures (before, peak,
 * after) of each process. Everything talks to 127.0.0.1 only; every process started here is
 * stopped by its handle (bench/lib/children.js), every loop is bounded.
 */
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import WebSocket from 'ws';
import { killAllChildren, startChild } from '../../lib/children.js';
import { compileDist, generate, repoRoot } from '../../lib/commands.js';

const tmp = join(repoRoot, '.tmp', 'attacks');
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const MiB = 2 ** 20;

// ---- frames ---------------------------------------------------------------------------

export const FrameType = { Hello: 1, Welcome: 2, Control: 3, ControlReply: 4, Event: 5, Caller: 6, Request: 10, Response: 11, Error: 12, Cancel: 13, StreamItem: 14, StreamEnd: 15, Credit: 16, RequestChunk: 17, ReplyChunk: 18 };
export const FrameFlags = { More: 1, Stream: 4 };

/** 32-bit FNV-1a over UTF-16 code units (runtime/contracts/define.ts routingKey). */
export function routingKey(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function header(type, flags, callId, extra = 0) {
  const frame = Buffer.alloc(12 + extra);
  frame[0] = 1;
  frame[1] = type;
  frame[2] = flags;
  frame.writeUInt32LE(callId >>> 0, 4);
  return frame;
}

export function jsonFrame(type, callId, value) {
  const body = Buffer.from(JSON.stringify(value));
  const frame = header(type, 0, callId, body.length);
  body.copy(frame, 12);
  return frame;
}

/** A Request for `action` ({ controllerKey, actionKey, fingerprintHi, fingerprintLo }) to `target`. */
export function request(callId, action, target, payload, flags = 0) {
  const id = Buffer.from(target);
  const frame = Buffer.alloc(28 + id.length + payload.length);
  frame[0] = 1;
  frame[1] = FrameType.Request;
  frame[2] = flags;
  frame[3] = id.length;
  frame.writeUInt32LE(callId >>> 0, 4);
  frame.writeUInt32LE(action.controllerKey, 12);
  frame.writeUInt32LE(action.actionKey, 16);
  frame.writeUInt32LE(action.fingerprintHi, 20);
  frame.writeUInt32LE(action.fingerprintLo, 24);
  id.copy(frame, 28);
  Buffer.from(payload).copy(frame, 28 + id.length);
  return frame;
}

export function signal(type, callId, flags = 0, size = 0) {
  return header(type, flags, callId, size);
}

export function credit(callId, n) {
  const frame = header(FrameType.Credit, 0, callId, 4);
  frame.writeUInt32LE(n >>> 0, 12);
  return frame;
}

/** protobuf: field 1 as bytes (the echo's request and response); field `n` as a varint. */
export function bytesField(bytes) {
  const length = [];
  let n = bytes.length;
  while (n > 0x7f) {
    length.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  length.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...length]), Buffer.from(bytes)]);
}

export function varintFields(...values) {
  const out = [];
  values.forEach((value, i) => {
    out.push(((i + 1) << 3) | 0);
    let v = value >>> 0;
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
  });
  return Buffer.from(out);
}

// ---- raw peers ------------------------------------------------------------------------

/** A WebSocket speaking frames by hand; `onFrame` sees every frame after the welcome. */
export class RawPeer {
  /**
   * `localAddress`: the loopback address to connect from (127.0.0.2 looks like another machine
   * to the broker); `origin` and `headers` (e.g. a Host) as a browser page would send them.
   */
  static async connect(url, { token, origin, localAddress, headers } = {}) {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(origin ? { origin } : {}), ...(localAddress ? { localAddress } : {}), ...(headers ? { headers } : {}) });
    const peer = new RawPeer(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(jsonFrame(FrameType.Hello, 0, { protocol: 1, ...(token === undefined ? {} : { token }) }));
    const welcome = await peer.next((f) => f[1] === FrameType.Welcome || f[1] === FrameType.Error, 10_000);
    if (welcome[1] !== FrameType.Welcome) throw new Error(`refused: ${welcome.toString('utf8', 12)}`);
    peer.handle = JSON.parse(welcome.toString('utf8', 12)).handle;
    return peer;
  }

  constructor(ws) {
    this.ws = ws;
    this.handle = 0;
    this.closed = false;
    this.waiters = [];
    this.onFrame = () => undefined;
    this.nextControl = 1;
    ws.on('message', (data) => {
      for (const w of this.waiters) if (!w.done && w.match(data)) {
        w.done = true;
        w.resolve(data);
      }
      this.waiters = this.waiters.filter((w) => !w.done);
      this.onFrame(data);
    });
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.closeCode ??= code;
      this.closeReason ??= reason.toString();
    });
    ws.on('error', () => undefined);
  }

  next(match, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const waiter = { match, done: false, resolve: (f) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        waiter.done = true;
        reject(new Error('timed out waiting for a frame'));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  send(frame) {
    if (!this.closed) this.ws.send(frame);
  }

  async control(body, timeoutMs = 30_000) {
    const id = this.nextControl++;
    this.send(jsonFrame(FrameType.Control, id, body));
    const reply = await this.next((f) => f[1] === FrameType.ControlReply && f.readUInt32LE(4) === id, timeoutMs);
    return JSON.parse(reply.toString('utf8', 12));
  }

  /** `holder`: a client's holder token (16 to 64 characters), which a broker reserves the id for when the connection goes away. */
  async register(peerId, holder) {
    const reply = await this.control({ op: 'register', peerId, ...(holder === undefined ? {} : { holder }) });
    if (!reply.ok) throw new Error(`could not register ${peerId}: ${reply.message}`);
  }

  /** Bytes the socket has not sent yet (this process buffers what a paused broker does not read). */
  get bufferedAmount() {
    return this.ws.bufferedAmount;
  }

  pause() {
    this.ws.pause();
  }

  resume() {
    this.ws.resume();
  }

  close() {
    this.closed = true;
    this.ws.terminate();
  }
}

/** The JSON body of a frame the broker made (ControlReply, Event, Error). */
export function jsonOf(frame) {
  return JSON.parse(frame.toString('utf8', 12));
}

/** Where a Request's payload starts: after its header, its target id and, when flagged, its deadline. */
export function requestPayloadStart(frame) {
  return 28 + frame[3] + ((frame[2] & 8) !== 0 ? 4 : 0);
}

// ---- processes ------------------------------------------------------------------------

let prepared;

/** Compiles dist/, generates the bench's echo contract and bundles the victim peer (once per run). */
export async function prepare() {
  if (prepared) return prepared;
  compileDist();
  rmSync(tmp, { recursive: true, force: true });
  const echoDir = join(tmp, 'echo');
  mkdirSync(echoDir, { recursive: true });
  cpSync(join(repoRoot, 'bench/contracts-echo'), join(echoDir, 'contracts'), { recursive: true });
  generate(join(echoDir, 'contracts'), join(echoDir, 'gen'));
  await build({
    entryPoints: { victim: join(repoRoot, 'bench/attacks/victim-main.js') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    outdir: tmp,
    outExtension: { '.js': '.mjs' },
    external: ['ws'],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __attackCreateRequire } from 'node:module'; const require = __attackCreateRequire(import.meta.url);" },
    alias: {
      'p2pgen/internal': join(repoRoot, 'runtime/internal.ts'),
      p2pgen: join(repoRoot, 'runtime/index.node.ts'),
      'bench-echo/gen': join(echoDir, 'gen/index.ts'),
      'bench-echo/contract': join(echoDir, 'contracts/echo.ts'),
    },
  });
  const manifest = JSON.parse(readFileSync(join(echoDir, 'gen/manifest.json'), 'utf8'));
  const controller = manifest.model.controllers.find((c) => c.path === '/echo');
  const actions = {};
  for (const a of controller.actions) {
    actions[a.name] = { controllerKey: routingKey('/echo'), actionKey: routingKey(a.name), fingerprintHi: parseInt(a.fingerprint.slice(0, 8), 16) >>> 0, fingerprintLo: parseInt(a.fingerprint.slice(8), 16) >>> 0 };
  }
  prepared = { actions, victimScript: join(tmp, 'victim.mjs') };
  return prepared;
}

/**
 * The broker in a process of its own; `options` are createBroker options (JSON), `security` a
 * variant of broker-main.js, `auditFile` where it writes its audit log as JSON lines
 * (`auditTypes`: only events of these types).
 */
export async function startBroker({ options = {}, security, auditFile, auditTypes } = {}) {
  const child = startChild(join(repoRoot, 'bench/attacks/broker-main.js'), {
    env: { ATTACK_BROKER: JSON.stringify(options), ...(security ? { ATTACK_SECURITY: security } : {}), ...(auditFile ? { ATTACK_AUDIT_FILE: auditFile } : {}), ...(auditTypes ? { ATTACK_AUDIT_TYPES: auditTypes.join(',') } : {}) },
    execArgv: ['--expose-gc'],
    label: 'broker',
  });
  const { url } = await child.next('listening', 20_000);
  return { ...child, url };
}

/** A p2pgen peer registered as 'victim', serving the echo contract, in a process of its own. */
export async function startVictim(url) {
  const { victimScript } = await prepare();
  const child = startChild(victimScript, { label: 'victim peer', execArgv: ['--expose-gc'] });
  await child.next('ready', 20_000);
  child.send({ type: 'connect', url });
  await child.next('connected', 20_000);
  return child;
}

/**
 * A hand-made peer registered as `peerId` (under `holder`, a holder token) that echoes every
 * Request, reading one frame per `frameEveryMs`, in a process of its own (raw-victim-main.js).
 */
export async function startRawVictim(url, { peerId, holder, frameEveryMs = 0 }) {
  const child = startChild(join(repoRoot, 'bench/attacks/raw-victim-main.js'), { label: 'raw victim', execArgv: ['--expose-gc'] });
  await child.next('ready', 20_000);
  child.send({ type: 'connect', url, peerId, holder, frameEveryMs });
  const { handle } = await child.next('connected', 20_000);
  return { ...child, handle };
}

/** RSS after a full collection, and the live part of it (JS heap + ArrayBuffers): RSS seldom shrinks once grown. */
export async function rssOf(child) {
  child.send({ type: 'rss' });
  const { rss, live } = await child.next('rss', 20_000);
  return { rss, live };
}

/** The broker's stats() now. */
export async function statsOf(broker) {
  broker.send({ type: 'stats' });
  return (await broker.next('stats', 20_000)).stats;
}

/** The broker's metrics (Prometheus text) now; empty without the metrics option. */
export async function metricsOf(broker) {
  broker.send({ type: 'metrics' });
  return (await broker.next('metrics', 20_000)).text;
}

/** The child's RSS now, without a collection (cheap: a guard polls it while an attack runs). */
export async function rssNow(child) {
  child.send({ type: 'rss-now' });
  return (await child.next('rss-now', 20_000)).rss;
}

/**
 * Runs `attack()` with the RSS of each process in `procs` taken before, sampled for its peak
 * during, and after (`afterMs` later, once the attacker is gone).
 */
export async function measure(procs, attack, { afterMs = 2000 } = {}) {
  const before = {};
  for (const [name, child] of Object.entries(procs)) before[name] = await rssOf(child);
  for (const child of Object.values(procs)) {
    child.send({ type: 'peak-start' });
    await child.next('peak-started', 20_000);
  }
  let outcome;
  try {
    outcome = await attack();
  } finally {
    for (const child of Object.values(procs)) child.send({ type: 'peak-stop' });
  }
  const peak = {};
  const stats = {};
  const peaks = {};
  for (const [name, child] of Object.entries(procs)) {
    const reply = await child.next('peak', 20_000);
    peak[name] = reply.rss;
    stats[name] = reply.stats;
    peaks[name] = reply.peaks;
  }
  await outcome?.cleanup?.();
  await sleep(afterMs);
  const after = {};
  for (const [name, child] of Object.entries(procs)) after[name] = await rssOf(child);
  return { before, peak, after, stats, peaks, outcome };
}

// ---- the healthy pair -----------------------------------------------------------------

/**
 * A callee and a caller, both honest, in a process of their own (bench/attacks/healthy-main.js:
 * the attack driver's own work does not slow them down): the caller calls the echo of
 * `calleeId` ('healthy-callee', a raw peer there that answers every Request with its payload,
 * or 'victim') one call at a time, each with a 5 s bound, until stopped. `stop()` resolves with
 * the calls that came back right (`ok`), those that did not (`failed`: an error or no answer in
 * 5 s), and the latencies of all of them (p50, p99, max, in ms; a failed call counts at the time
 * it took to fail).
 */
export async function healthyPair(url, { token = 'honest', calleeId = 'healthy-callee', actions } = {}) {
  const child = startChild(join(repoRoot, 'bench/attacks/healthy-main.js'), { label: 'healthy pair' });
  await child.next('ready', 20_000);
  child.send({ type: 'start', url, token, calleeId, actions });
  await child.next('started', 20_000);
  const counts = { ok: 0, failed: 0 };
  return {
    counts,
    async stop() {
      child.send({ type: 'finish' });
      const { figures } = await child.next('finished', 30_000);
      await child.stop();
      return Object.assign(counts, figures);
    },
  };
}

/**
 * The healthy pair's loop (run by healthy-main.js): see healthyPair. Returns { stop() } which
 * resolves with { ok, failed, calls, p50, p99, max }.
 */
export async function healthyLoop(url, { token = 'honest', calleeId = 'healthy-callee', actions }) {
  let callee;
  if (calleeId === 'healthy-callee') {
    callee = await RawPeer.connect(url, { token });
    await callee.register('healthy-callee');
    callee.onFrame = (f) => {
      if (f[1] !== FrameType.Request) return;
      const answer = Buffer.concat([signal(FrameType.Response, f.readUInt32LE(4)), f.subarray(requestPayloadStart(f))]);
      callee.send(answer);
    };
  }
  const caller = await RawPeer.connect(url, { token });
  await caller.register('healthy-caller');
  const payload = bytesField(Buffer.from('healthy'));
  let running = true;
  const counts = { ok: 0, failed: 0 };
  const latencies = [];
  let callId = 0;
  const loop = (async () => {
    for (let i = 0; running && i < 1_000_000; i++) {
      callId++;
      const id = callId;
      const started = performance.now();
      caller.send(request(id, actions.echo, calleeId, payload));
      try {
        const answer = await caller.next((f) => f.readUInt32LE(4) === id && (f[1] === FrameType.Response || f[1] === FrameType.Error), 5000);
        if (answer[1] === FrameType.Response) counts.ok++;
        else counts.failed++;
      } catch {
        counts.failed++;
      }
      latencies.push(performance.now() - started);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      caller.close();
      callee?.close();
      return { ...counts, calls: latencies.length, ...percentiles(latencies) };
    },
  };
}

/** p50, p99 and max of `values` (ms, rounded to 0.1); undefined when there are none. */
export function percentiles(values) {
  if (values.length === 0) return { p50: undefined, p99: undefined, max: undefined };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), max: Math.round(sorted[sorted.length - 1] * 10) / 10 };
}

// ---- reporting ------------------------------------------------------------------------

const mib = (bytes) => (bytes / MiB).toFixed(1);

/** The summary lines of every attack reported in this process, in order (run-all.js prints them again at the end). */
export const summaries = [];

/**
 * Prints an attack's figures: each process's RSS, the healthy pair's calls, the notes, then one
 * summary line (`outcome`, short: the attack's own result; notes[0] unless given).
 */
export function report(name, { before, peak, after, stats, peaks }, healthy, notes = [], { outcome = notes[0] } = {}) {
  const lines = [`## ${name}`];
  for (const proc of Object.keys(before)) {
    lines.push(`- ${proc} RSS: before ${mib(before[proc].rss)} MiB, peak ${mib(peak[proc])} MiB, after ${mib(after[proc].rss)} MiB (live heap + buffers: ${mib(before[proc].live)} MiB before, ${mib(after[proc].live)} MiB after)`);
  }
  if (healthy) {
    const timing = healthy.p99 === undefined ? '' : ` (latency p50 ${healthy.p50} ms, p99 ${healthy.p99} ms, max ${healthy.max} ms)`;
    lines.push(`- healthy pair during the attack: ${healthy.ok} calls ok, ${healthy.failed} failed${timing}`);
  }
  for (const note of notes) lines.push(`- ${note}`);
  if (stats?.broker) lines.push(`- broker stats at peak: ${JSON.stringify(stats.broker)}`);
  const sampled = peaks?.broker;
  if (sampled?.max && Object.keys(sampled.max).length > 0) {
    const shown = [`bufferedBytes max ${mib(sampled.max.bufferedBytes ?? 0)} MiB`, `connections max ${sampled.max.connections}`, `pausedConnections ${sampled.min.pausedConnections}..${sampled.max.pausedConnections}`];
    if (sampled.max.presenceHeldBytes !== undefined) shown.push(`presenceHeldBytes max ${mib(sampled.max.presenceHeldBytes)} MiB`);
    if (sampled.max.unauthenticated !== undefined) shown.push(`unauthenticated max ${sampled.max.unauthenticated}`);
    lines.push(`- broker stats sampled every 100 ms during the attack: ${shown.join(', ')}`);
  }
  const summary = summaryLine(name, peak?.broker, healthy, outcome);
  summaries.push(summary);
  lines.push(summary);
  console.log(lines.join('\n') + '\n');
  return { name, before, peak, after, healthy, notes, summary };
}

/** One line per attack: its peak broker RSS, the healthy pair's p99 and failures, and its outcome. */
function summaryLine(name, peakRss, healthy, outcome) {
  const rss = peakRss === undefined ? 'n/a' : `${mib(peakRss)} MiB`;
  const p99 = healthy?.p99 === undefined ? 'n/a' : `${healthy.p99} ms`;
  const calls = healthy ? ` (${healthy.ok} ok, ${healthy.failed} failed)` : '';
  return `SUMMARY ${name} | peak broker RSS ${rss} | healthy p99 ${p99}${calls}${outcome ? ` | ${outcome}` : ''}`;
}

/** Runs `main` and stops every process it started, whatever happens; a watchdog bounds the whole run. */
export async function runAttack(main, watchdogMs = 5 * 60_000) {
  const watchdog = setTimeout(() => {
    console.error(`attack still running after ${watchdogMs / 1000} s: stopping its processes`);
    killAllChildren();
    process.exit(1);
  }, watchdogMs);
  watchdog.unref();
  try {
    return await main();
  } finally {
    clearTimeout(watchdog);
    killAllChildren();
  }
}
