/**
 * For the attack scripts' child processes (the broker, the victim peer): RSS on request (after
 * a full collection), and the peak of RSS sampled every 20 ms between 'peak-start' and 'peak-stop'.
 */
import { childChannel } from '../../lib/children.js';

export function serveRss(stats = () => undefined) {
  const channel = childChannel();
  let peak = 0;
  let timer;
  // Before and after are taken after a full collection (the process runs with --expose-gc):
  // live memory, not garbage waiting to be collected. The peak is what the process really held.
  channel.on('rss', async () => {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    globalThis.gc?.();
    const m = process.memoryUsage();
    channel.send({ type: 'rss', rss: m.rss, live: m.heapUsed + m.arrayBuffers, stats: stats() });
  });
  channel.on('peak-start', () => {
    clearInterval(timer);
    peak = process.memoryUsage.rss();
    timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    channel.send({ type: 'peak-started' });
  });
  channel.on('peak-stop', () => {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss());
    channel.send({ type: 'peak', rss: peak, stats: stats() });
  });
  return channel;
}
