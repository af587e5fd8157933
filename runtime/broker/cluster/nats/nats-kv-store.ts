/**
 * A KeyValueStore (cluster-engine.ts) over a NATS JetStream KV bucket. JetStream says "no"
 * to a create of a key that has a value, and to a write at a revision the key is not at, with
 * its "wrong last sequence" API errors: those become StoreConflict. Every other error (no
 * responders during a leader election, a timeout, a lost connection) is passed on as it is:
 * the store could not be asked.
 *
 * A watch is a JetStream consumer living on one NATS server: the current values first (the
 * last of them comes with nothing pending after it), then each change. It can end when that
 * server goes away (`ended`), or stall without a word: the clustering logic supervises it.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import { StoreConflict, type KeyValueStore, type StoreEntry, type StoreWatch } from '../cluster-engine.js';

export class NatsKvStore implements KeyValueStore {
  constructor(private readonly kv: KV) {}

  create(key: string, value: Uint8Array): Promise<number> {
    return this.kv.create(key, value).catch(conflictOrRethrow);
  }

  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.kv.update(key, value, revision).catch(conflictOrRethrow);
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return this.kv.put(key, value);
  }

  async delete(key: string, revision?: number): Promise<void> {
    await this.kv.delete(key, revision === undefined ? undefined : { previousSeq: revision }).catch(conflictOrRethrow);
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    const entry = await this.kv.get(key);
    return entry ? entryOf(entry) : undefined;
  }

  watch(onEntry: (entry: StoreEntry) => void): StoreWatch {
    const { kv } = this;
    let stopped = false;
    let stopWatch: (() => void) | undefined;
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const ready = (async () => {
      const status = await kv.status();
      const watch = await kv.watch();
      stopWatch = () => watch.stop();
      if (stopped) watch.stop();
      const present = new Set<string>();
      let markReady!: (keys: Set<string>) => void;
      const replayed = new Promise<Set<string>>((resolve) => (markReady = resolve));
      if (status.values === 0) markReady(present);
      void (async () => {
        let initial = status.values > 0;
        for await (const entry of watch) {
          if (stopped) break;
          if (initial && entry.operation === 'PUT') present.add(entry.key);
          onEntry(entryOf(entry));
          // The last of the current values comes with nothing pending after it.
          if (initial && entry.delta === 0) {
            initial = false;
            markReady(present);
          }
        }
      })()
        .catch(() => undefined)
        .finally(() => {
          if (!stopped) markEnded();
        });
      return replayed;
    })();
    return {
      ready,
      ended,
      stop: () => {
        stopped = true;
        stopWatch?.();
      },
    };
  }
}

function entryOf(entry: KvEntry): StoreEntry {
  return { key: entry.key, value: entry.operation === 'PUT' ? entry.value : undefined, revision: entry.revision };
}

/** JetStream's "wrong last sequence" is the store's no; anything else is passed on. */
function conflictOrRethrow(error: unknown): never {
  if (error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) {
    throw new StoreConflict(error.message);
  }
  throw error;
}
