/**
 * Follows every key of a KV bucket: the current values first, then each change as it
 * happens. Resolves once the current values have been handed over, so a broker starts
 * serving knowing what the cluster holds.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';

export async function followBucket(kv: KV, onEntry: (entry: KvWatchEntry) => void): Promise<void> {
  const status = await kv.status();
  const watch = await kv.watch();
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  if (status.values === 0) markReady();
  void (async () => {
    for await (const entry of watch) {
      onEntry(entry);
      // The last of the current values comes with nothing pending after it.
      if (entry.delta === 0) markReady();
    }
  })();
  await ready;
}
