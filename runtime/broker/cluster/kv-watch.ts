/**
 * Following every key of a KV bucket: the current values first, then each change as it
 * happens. A watch is a JetStream consumer living on one NATS server; when that server goes
 * away the watch can stall without a word, so brokers restart their watches when they notice
 * (node-liveness.ts: a broker that stops seeing its own renewals), and after a reconnect.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';

export interface BucketWatch {
  /** Resolves once the current values have been handed over (with the keys they had). */
  readonly ready: Promise<Set<string>>;
  stop(): void;
}

export function followBucket(kv: KV, onEntry: (entry: KvWatchEntry) => void): BucketWatch {
  let stopped = false;
  let stopWatch: (() => void) | undefined;
  const ready = (async () => {
    const status = await kv.status();
    const watch = await kv.watch();
    stopWatch = () => watch.stop();
    if (stopped) watch.stop();
    const seen = new Set<string>();
    let markReady!: (keys: Set<string>) => void;
    const replayed = new Promise<Set<string>>((resolve) => (markReady = resolve));
    if (status.values === 0) markReady(seen);
    void (async () => {
      let initial = status.values > 0;
      for await (const entry of watch) {
        if (stopped) break;
        if (initial) seen.add(entry.key);
        onEntry(entry);
        // The last of the current values comes with nothing pending after it.
        if (initial && entry.delta === 0) {
          initial = false;
          markReady(seen);
        }
      }
    })().catch(() => undefined);
    return replayed;
  })();
  return {
    ready,
    stop: () => {
      stopped = true;
      stopWatch?.();
    },
  };
}

/** Hands over the current value of every key once. */
export async function readBucket(kv: KV, onEntry: (entry: KvWatchEntry) => void): Promise<void> {
  const watch = followBucket(kv, onEntry);
  try {
    await watch.ready;
  } finally {
    watch.stop();
  }
}
