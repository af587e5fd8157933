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
  static async connect(url, { token, origin } = {}) {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(origin ? { origin } : {}) });
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
    ws.on('close', () => (this.closed = true));
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

  async register(peerId) {
    const reply = await this.control({ op: 'register', peerId });
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
 * variant of broker-main.js, `auditFile` where it writes its audit log as JSON lines.
 */
export async function startBroker({ options = {}, security, auditFile } = {}) {
  const child = startChild(join(repoRoot, 'bench/attacks/broker-main.js'), {
    env: { ATTACK_BROKER: JSON.stringify(options), ...(security ? { ATTACK_SECURITY: security } : {}), ...(auditFile ? { ATTACK_AUDIT_FILE: auditFile } : {}) },
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

/** RSS after a full collection, and the live part of it (JS heap + ArrayBuffers): RSS seldom shrinks once grown. */
export async function rssOf(child) {
  child.send({ type: 'rss' });
  const { rss, live } = await child.next('rss', 20_000);
  return { rss, live };
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
  for (const [name, child] of Object.entries(procs)) {
    const reply = await child.next('peak', 20_000);
    peak[name] = reply.rss;
    stats[name] = reply.stats;
  }
  await outcome?.cleanup?.();
  await sleep(afterMs);
  const after = {};
  for (const [name, child] of Object.entries(procs)) after[name] = await rssOf(child);
  return { before, peak, after, stats, outcome };
}

// ---- the healthy pair -----------------------------------------------------------------

/**
 * A callee and a caller, both honest: the caller calls the echo of `calleeId` ('healthy-callee',
 * a raw peer here that answers every Request with its payload, or 'victim') one call at a
 * time, each with a 5 s bound, until stopped; it counts the calls that came back right.
 */
export async function healthyPair(url, { token = 'honest', calleeId = 'healthy-callee', actions } = {}) {
  let callee;
  if (calleeId === 'healthy-callee') {
    callee = await RawPeer.connect(url, { token });
    await callee.register('healthy-callee');
    callee.onFrame = (f) => {
      if (f[1] !== FrameType.Request) return;
      const payloadStart = 28 + f[3] + ((f[2] & 8) !== 0 ? 4 : 0);
      const answer = Buffer.concat([signal(FrameType.Response, f.readUInt32LE(4)), f.subarray(payloadStart)]);
      callee.send(answer);
    };
  }
  const caller = await RawPeer.connect(url, { token });
  await caller.register('healthy-caller');
  const payload = bytesField(Buffer.from('healthy'));
  let running = true;
  const counts = { ok: 0, failed: 0 };
  let callId = 0;
  const loop = (async () => {
    for (let i = 0; running && i < 1_000_000; i++) {
      callId++;
      const id = callId;
      caller.send(request(id, actions.echo, calleeId, payload));
      try {
        const answer = await caller.next((f) => f.readUInt32LE(4) === id && (f[1] === FrameType.Response || f[1] === FrameType.Error), 5000);
        if (answer[1] === FrameType.Response) counts.ok++;
        else counts.failed++;
      } catch {
        counts.failed++;
      }
    }
  })();
  return {
    counts,
    async stop() {
      running = false;
      await loop;
      caller.close();
      callee?.close();
      return counts;
    },
  };
}

// ---- reporting ------------------------------------------------------------------------

const mib = (bytes) => (bytes / MiB).toFixed(1);

export function report(name, { before, peak, after, stats }, healthy, notes = []) {
  const lines = [`## ${name}`];
  for (const proc of Object.keys(before)) {
    lines.push(`- ${proc} RSS: before ${mib(before[proc].rss)} MiB, peak ${mib(peak[proc])} MiB, after ${mib(after[proc].rss)} MiB (live heap + buffers: ${mib(before[proc].live)} MiB before, ${mib(after[proc].live)} MiB after)`);
  }
  if (healthy) lines.push(`- healthy pair during the attack: ${healthy.ok} calls ok, ${healthy.failed} failed`);
  for (const note of notes) lines.push(`- ${note}`);
  if (stats?.broker) lines.push(`- broker stats at peak: ${JSON.stringify(stats.broker)}`);
  console.log(lines.join('\n') + '\n');
  return { name, before, peak, after, healthy, notes };
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
