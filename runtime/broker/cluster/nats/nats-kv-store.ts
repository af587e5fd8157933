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
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import { StoreConflict, type KeyValueStore, type StoreEntry, type StoreWatch } from '../cluster-engine.js';

/** Purge requests in flight at once when forgetting deletions. */
const PURGES_AT_ONCE = 64;

export class NatsKvStore implements KeyValueStore {
  constructor(
    private readonly kv: KV,
    /** The bucket's name, and a manager of its stream (KV_<bucket>, subjects $KV.<bucket>.<key>): to forget deletions. */
    private readonly bucket: string,
    private readonly jsm: JetStreamManager,
  ) {}

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

  /**
   * Each deletion marker older than `olderThanMs` is purged from the bucket's stream up to its
   * own sequence only, so a value written to the key after it stays (nats.js's purgeDeletes
   * purges the whole subject, which could take such a value with it).
   */
  async purgeDeleted(olderThanMs: number): Promise<void> {
    const before = Date.now() - olderThanMs;
    const old: KvEntry[] = [];
    const history = await this.kv.history({ key: '>' });
    for await (const entry of history) {
      if (entry.operation !== 'PUT' && entry.created.getTime() < before) old.push(entry);
    }
    const stream = `KV_${this.bucket}`;
    for (let i = 0; i < old.length; i += PURGES_AT_ONCE) {
      await Promise.all(old.slice(i, i + PURGES_AT_ONCE).map((entry) => this.jsm.streams.purge(stream, { filter: `$KV.${this.bucket}.${entry.key}`, seq: entry.revision + 1 })));
    }
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
