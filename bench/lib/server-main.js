/**
 * The server side of a bench run, shared by the raw relay and the p2pgen broker: start the
 * server, tell the parent its URL, and measure this process's memory when asked. Start the
 * process with --expose-gc so the measurement is taken after a full collection.
 */
import { childChannel } from './children.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `start()` resolves with { url, stats?() }; everything else is driven by the parent. */
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
    channel.send({ type: 'listening', url: server.url, pid: process.pid });
  } catch (error) {
    channel.fail(error);
  }
}
