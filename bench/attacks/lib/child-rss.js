/**
 * For the attack scripts' child processes (the broker, the victim peer): RSS on request (after
 * a full collection), and the peak of RSS sampled every 20 ms between 'peak-start' and
 * 'peak-stop'; meanwhile the numeric fields of `stats()` are sampled every 100 ms for their
 * highest and lowest values (`peaks`: { max, min }), e.g. the broker's buffered bytes.
 */
import { childChannel } from '../../lib/children.js';

const STATS_EVERY_MS = 100;

export function serveRss(stats = () => undefined) {
  const channel = childChannel();
  let peak = 0;
  let timer;
  let statsTimer;
  let peaks;
  const sampleStats = () => {
    const now = stats();
    if (!now) return;
    for (const [key, value] of Object.entries(now)) {
      if (typeof value !== 'number') continue;
      peaks.max[key] = Math.max(peaks.max[key] ?? value, value);
      peaks.min[key] = Math.min(peaks.min[key] ?? value, value);
    }
  };
  // Before and after are taken after a full collection (the process runs with --expose-gc):
  // live memory, not garbage waiting to be collected. The peak is what the process really held.
  channel.on('rss', async () => {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    globalThis.gc?.();
    const m = process.memoryUsage();
    channel.send({ type: 'rss', rss: m.rss, live: m.heapUsed + m.arrayBuffers, stats: stats() });
  });
  // RSS now, without a collection: cheap enough to poll while an attack runs (a guard).
  channel.on('rss-now', () => channel.send({ type: 'rss-now', rss: process.memoryUsage.rss(), stats: stats() }));
  channel.on('peak-start', () => {
    clearInterval(timer);
    clearInterval(statsTimer);
    peak = process.memoryUsage.rss();
    peaks = { max: {}, min: {} };
    sampleStats();
    timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    statsTimer = setInterval(sampleStats, STATS_EVERY_MS);
    channel.send({ type: 'peak-started' });
  });
  channel.on('peak-stop', () => {
    clearInterval(timer);
    clearInterval(statsTimer);
    peak = Math.max(peak, process.memoryUsage.rss());
    sampleStats();
    channel.send({ type: 'peak', rss: peak, stats: stats(), peaks });
  });
  return channel;
}
