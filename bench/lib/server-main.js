/**
 * The server side of a bench run, shared by the raw relay and the p2pgen broker: start the
 * server, tell the parent its URL, and measure this process's memory when asked. Start the
 * process with --expose-gc so the measurement is taken after a full collection.
 */
import { writeHeapSnapshot } from 'node:v8';
import { startAllocationSampling } from './allocations.js';
import { childChannel } from './children.js';

/** This process's CPU time so far, in ms (user + system). */
export function ownCpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `start()` resolves with { url, stats?(), cpuMs?() }; everything else is driven by the parent.
 * `cpuMs()` (a number or a promise of one): CPU time the server used so far, every process of
 * it (a cluster's brokers); by default this process's.
 */
export async function serveBench(start) {
  const channel = childChannel();
  try {
    const server = await start();
    channel.on('measure', async ({ settleMs = 1000 }) => {
      // Let queued work finish and buffers be released, then collect twice (weak refs,
      // finalizers) so RSS reflects live memory rather than garbage.
      await sleep(settleMs);
      globalThis.gc?.();
      await sleep(50);
      globalThis.gc?.();
      const m = process.memoryUsage();
      channel.send({ type: 'memory', ...m, gc: typeof globalThis.gc === 'function', stats: server.stats?.() });
    });
    // A heap snapshot after a full collection, written to `path` (bench/memory-per-peer.js diffs two).
    channel.on('heap-snapshot', async ({ path, settleMs = 1000 }) => {
      await sleep(settleMs);
      globalThis.gc?.();
      await sleep(50);
      globalThis.gc?.();
      const file = writeHeapSnapshot(path);
      channel.send({ type: 'heap-snapshot', path: file, stats: server.stats?.() });
    });
    // Peak RSS during a transfer: a baseline after a forced GC ('rss-start'), then a sample
    // every `intervalMs` until 'rss-stop'. The peak includes garbage not yet collected: it is
    // what the process really held. Peaks of the server's own stats (buffered bytes, paused
    // connections) are sampled alongside where the server has them.
    let sampling;
    channel.on('rss-start', async ({ intervalMs = 20 }) => {
      if (sampling) clearInterval(sampling.timer);
      globalThis.gc?.();
      await sleep(50);
      globalThis.gc?.();
      const baseline = process.memoryUsage.rss();
      const s = { baseline, peak: baseline, samples: 0, peakBufferedBytes: 0, peakPausedConnections: 0, timer: undefined };
      const sample = () => {
        s.samples++;
        s.peak = Math.max(s.peak, process.memoryUsage.rss());
        const stats = server.stats?.();
        if (typeof stats?.bufferedBytes === 'number') s.peakBufferedBytes = Math.max(s.peakBufferedBytes, stats.bufferedBytes);
        if (typeof stats?.pausedConnections === 'number') s.peakPausedConnections = Math.max(s.peakPausedConnections, stats.pausedConnections);
      };
      s.sample = sample;
      s.timer = setInterval(sample, intervalMs);
      sampling = s;
      channel.send({ type: 'rss-started', baseline, gc: typeof globalThis.gc === 'function' });
    });
    channel.on('rss-stop', () => {
      const s = sampling;
      if (!s) throw new Error("'rss-stop' without 'rss-start'");
      sampling = undefined;
      clearInterval(s.timer);
      s.sample();
      const { baseline, peak, samples, peakBufferedBytes, peakPausedConnections } = s;
      channel.send({ type: 'rss-peak', baseline, peak, samples, peakBufferedBytes, peakPausedConnections, stats: server.stats?.() });
    });
    // CPU time (user + system, every thread) so far: the parent takes the difference around a window.
    channel.on('cpu', async () => {
      const ms = server.cpuMs ? await server.cpuMs() : ownCpuMs();
      channel.send({ type: 'cpu', ms });
    });
    // Bytes this process allocates between 'alloc-start' and 'alloc-stop' (allocations.js).
    let allocations;
    channel.on('alloc-start', async () => {
      allocations = await startAllocationSampling();
      channel.send({ type: 'alloc-started' });
    });
    channel.on('alloc-stop', async () => {
      const bytes = await allocations.stop();
      allocations = undefined;
      channel.send({ type: 'alloc-bytes', bytes });
    });
    channel.send({ type: 'listening', url: server.url, calleeUrl: server.calleeUrl, urls: server.urls, pid: process.pid });
  } catch (error) {
    channel.fail(error);
  }
}
