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
      const walk = (node) => {
        bytes += node.selfSize;
        for (const child of node.children) walk(child);
      };
      walk(profile.head);
      return bytes;
    },
  };
}
