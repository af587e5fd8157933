/**
 * Load patterns shared by both systems, so the raw relay and p2pgen run the very same loop:
 * a `call(payload)` that resolves with the echoed bytes is all a system has to provide.
 */
import { startAllocationSampling } from './allocations.js';
import { percentileSorted } from './stats.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fills a payload with a recognisable pattern (so a wrong echo is caught by checkEcho); kind
 * 'json': UTF-8 text like a JSON API's answer (an array of small records), which compresses
 * about 13:1 with gzip, as such text does.
 */
export function makePayload(bytes, kind = 'pattern') {
  if (kind === 'json') {
    const rows = [];
    for (let i = 0, size = 2; size < bytes; i++) {
      const row = `{"id":${i},"name":"user-${i % 97}","email":"user${i % 97}@example.com","active":${i % 3 === 0},"tags":["a","b"]}`;
      rows.push(row);
      size += row.length + 1;
    }
    return new TextEncoder().encode(`[${rows.join(',')}]`.slice(0, bytes).padEnd(bytes, ' '));
  }
  const payload = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) payload[i] = (i * 31 + 7) & 0xff;
  return payload;
}

/** One call, checked byte for byte: a fast system that loses data would be no result. */
export async function checkEcho(call, payload) {
  const echoed = await call(payload);
  if (echoed.length !== payload.length || !echoed.every((b, i) => b === payload[i])) {
    throw new Error(`echo returned ${echoed.length} bytes that differ from the ${payload.length} sent`);
  }
}

/**
 * Sequential calls (one at a time): per-call round-trip latency in microseconds, and this
 * process's CPU time per call. `marks` ({ start(), end() }, optional) are awaited right before
 * and after the measured calls (where the parent samples the server's CPU time).
 */
export async function measureLatency(call, { payloadBytes, warmupCalls, calls }, marks) {
  const payload = makePayload(payloadBytes);
  await checkEcho(call, payload);
  for (let i = 0; i < warmupCalls; i++) await call(payload);
  const samples = new Float64Array(calls);
  await marks?.start();
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await call(payload);
    samples[i] = (performance.now() - started) * 1000;
  }
  const cpu = process.cpuUsage(cpuBefore);
  await marks?.end();
  const sorted = Array.from(samples).sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  // CPU time of this process per call (every thread: JIT and GC too), the callers' and, when it runs here, the echo peer's.
  const peersCpuUsPerCall = (cpu.user + cpu.system) / calls;
  return { p50Us: percentileSorted(sorted, 50), p99Us: percentileSorted(sorted, 99), meanUs: mean, calls, peersCpuUsPerCall };
}

/**
 * Closed loop: `inFlight` calls outstanding at all times, spread over the callers; each
 * completion starts the next call. Counts completions inside the measured window only.
 * `wireBytes()`, when the system can count them: bytes its callers' sockets sent and received
 * so far (the result then has the bytes per call in the window).
 */
export async function measureThroughput(calls, { payloadBytes, payloadKind, inFlight, warmupMs, durationMs }, wireBytes) {
  const payload = makePayload(payloadBytes, payloadKind);
  for (const call of calls) await checkEcho(call, payload);
  let stop = false;
  let measuring = false;
  let completed = 0;
  let failure;
  const worker = async (call) => {
    while (!stop) {
      await call(payload);
      if (measuring) completed++;
    }
  };
  const workers = [];
  for (let i = 0; i < inFlight; i++) workers.push(worker(calls[i % calls.length]).catch((e) => (failure ??= e)));
  await sleep(warmupMs);
  measuring = true;
  const bytesBefore = wireBytes?.();
  const started = performance.now();
  await sleep(durationMs);
  measuring = false;
  const elapsedMs = performance.now() - started;
  const counted = completed;
  const wireBytesPerCall = bytesBefore === undefined ? undefined : (wireBytes() - bytesBefore) / counted;
  stop = true;
  // Let the outstanding calls land before the connections close (bounded by the parent's timeout).
  await Promise.all(workers);
  if (failure) throw failure;
  const callsPerSecond = (counted / elapsedMs) * 1000;
  return { callsPerSecond, mbPerSecond: (callsPerSecond * payloadBytes) / 1e6, calls: counted, elapsedMs, ...(wireBytesPerCall === undefined ? {} : { wireBytesPerCall }) };
}

/**
 * Bytes allocated per call by the peers' process (callers and callee together): `calls` calls
 * with `inFlight` outstanding, after a warm-up, sampled by V8's heap profiler. `ready()` is
 * awaited between the warm-up and the measured calls (the parent starts sampling the server).
 */
export async function measureAllocations(calls, { payloadBytes, inFlight, warmupCalls, measuredCalls }, ready) {
  const payload = makePayload(payloadBytes);
  const run = async (count) => {
    let next = 0;
    const worker = async (call) => {
      while (next < count) {
        next++;
        await call(payload);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, (_, i) => worker(calls[i % calls.length])));
  };
  await run(warmupCalls);
  await ready();
  const sampling = await startAllocationSampling();
  await run(measuredCalls);
  const bytes = await sampling.stop();
  return { bytesPerCall: bytes / measuredCalls, calls: measuredCalls };
}

/**
 * One download of `totalBytes` in chunks of `chunkBytes` from a source peer to a sink peer.
 * `sink.prepare(totalBytes, chunkBytes)` does whatever comes before the transfer (p2pgen: the
 * call that returns the Observable) and resolves with `run(onChunk)`, which starts it (p2pgen:
 * subscribe; raw: send the request) and resolves once every byte arrived. Only `run` is timed.
 * Every chunk carries its index in its first 4 bytes (little-endian): order and count are checked.
 */
export async function measureStream(sink, { totalBytes, chunkBytes, source = 'pull' }) {
  const run = await sink.prepare(totalBytes, chunkBytes, source);
  let bytes = 0;
  let chunks = 0;
  let outOfOrder = 0;
  const started = performance.now();
  await run((chunk) => {
    const index = (chunk[0] | (chunk[1] << 8) | (chunk[2] << 16) | (chunk[3] << 24)) >>> 0;
    if (index !== chunks) outOfOrder++;
    chunks++;
    bytes += chunk.length;
  });
  const ms = performance.now() - started;
  const expectedChunks = Math.ceil(totalBytes / chunkBytes);
  if (bytes !== totalBytes || chunks !== expectedChunks || outOfOrder > 0) {
    throw new Error(`stream delivered ${bytes} bytes in ${chunks} chunks (${outOfOrder} out of order), expected ${totalBytes} bytes in ${expectedChunks}`);
  }
  return { mbPerSecond: bytes / ms / 1000, bytes, chunks, ms };
}

/** Runs `fn(i)` for i in [0, count) with at most `limit` running at once. */
export async function mapLimit(count, limit, fn) {
  const results = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return results;
}

/**
 * Deliveries counted where the fan-out members receive them: `deliver()` is what every member
 * calls once per notification it got; `atLeast(n, timeoutMs)` resolves once `n` were counted
 * (rejects after `timeoutMs`: a lost delivery would otherwise stall the sender for ever).
 */
export function deliveryCounter() {
  let waiter;
  const counter = {
    count: 0,
    deliver() {
      counter.count++;
      if (waiter !== undefined && counter.count >= waiter.n) {
        const w = waiter;
        waiter = undefined;
        clearTimeout(w.timer);
        w.resolve();
      }
    },
    atLeast(n, timeoutMs) {
      if (counter.count >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`fan-out: ${counter.count} deliveries counted, ${n} expected within ${timeoutMs} ms (deliveries lost?)`));
        }, timeoutMs);
        waiter = { n, resolve, timer };
      });
    },
  };
  return counter;
}

/**
 * Fan-out: one sender sends `payloadBytes` notifications to a group of `members`, as fast as the
 * members take them: at most `window` notifications not yet delivered to every member (the
 * members live in this process, so the sender sees their count), the same loop for both
 * systems, neither flooded past what its members take. Deliveries are counted at the members,
 * inside the measured window only. `marks.start()` / `marks.end()` are awaited around that
 * window (the parent samples the server's CPU time there).
 */
export async function measureFanout(send, counter, { members, payloadBytes, window, warmupMs, durationMs }, marks) {
  const payload = makePayload(payloadBytes);
  // One notification first, delivered to every member: the group is complete.
  await send(payload);
  await counter.atLeast(members, 15_000);
  let sent = 1;
  let failure;
  let stop = false;
  const loop = (async () => {
    while (!stop && failure === undefined) {
      // The next notification once the one `window` before it reached every member.
      await counter.atLeast((sent - window + 1) * members, 15_000);
      sent++;
      Promise.resolve(send(payload)).catch((e) => (failure ??= e));
    }
  })().catch((e) => (failure ??= e));
  await sleep(warmupMs);
  await marks.start();
  const countBefore = counter.count;
  const started = performance.now();
  await sleep(durationMs);
  const counted = counter.count - countBefore;
  const elapsedMs = performance.now() - started;
  await marks.end();
  stop = true;
  await loop;
  // Every notification sent reaches every member before the connections close.
  if (failure === undefined) await counter.atLeast(sent * members, 15_000).catch((e) => (failure ??= e));
  if (failure) throw failure;
  return { deliveriesPerSecond: (counted / elapsedMs) * 1000, deliveries: counted, notifications: sent, elapsedMs };
}
