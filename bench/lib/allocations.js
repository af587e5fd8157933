/**
 * Bytes a process allocates over a stretch of work, garbage included: V8's sampling heap
 * profiler (through node:inspector), told to keep the samples of objects collected meanwhile.
 * A statistical count (one sample per `samplingInterval` bytes on average) that is steady
 * across runs; the profiler slows the process down, so runs that sample are not timed.
 */
import { Session } from 'node:inspector';

export async function startAllocationSampling(samplingInterval = 512) {
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    /** Stops sampling; resolves with the bytes allocated since the start. */
    async stop() {
      const { profile } = await post('HeapProfiler.stopSampling');
      await post('HeapProfiler.disable');
      session.disconnect();
      let bytes = 0;
      const sites = new Map();
      const walk = (node, stack) => {
        bytes += node.selfSize;
        const frame = node.callFrame;
        const here = frame.functionName || frame.url ? `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}` : '';
        const path = here ? [...stack, here].slice(-3) : stack;
        if (node.selfSize > 0) sites.set(path.join(' < '), (sites.get(path.join(' < ')) ?? 0) + node.selfSize);
        for (const child of node.children) walk(child, path);
      };
      walk(profile.head, []);
      // BENCH_ALLOC_SITES=1: where the bytes go (each line: bytes, then the innermost frames).
      if (process.env.BENCH_ALLOC_SITES === '1') {
        const top = [...sites].sort((a, b) => b[1] - a[1]).slice(0, 25);
        console.error(`allocation sites of pid ${process.pid} (${bytes} bytes):\n${top.map(([site, n]) => `  ${((n / bytes) * 100).toFixed(1).padStart(5)}%  ${site}`).join('\n')}`);
      }
      return bytes;
    },
  };
}
