/**
 * What each connection announced (its controllers: paths, actions, fingerprints), kept once
 * per connection in the claim store under `ann.<node>.<handle>`, not copied into the claim of
 * every id it holds: a connection with a hundred ids and 64 KiB of announcement costs the
 * store, and every other broker's memory, 64 KiB, not 6.4 MB. A claim names its connection's
 * announcement (peer-claims.ts); the other brokers look the controllers up here.
 *
 * Local side: an announcement is written before the connection's first claim (so the others
 * see it first), again when the connection announces anew, and deleted when it closes.
 * Remote side: the announcements of the other brokers, and which registrations use each, so
 * a new announcement reaches presence as a change of those peers.
 */
import type { ControllerInfo } from '../../wire/control.js';
import type { BrokerConnection } from '../connection.js';
import { Slot } from '../slot.js';
import type { KeyValueStore, StoreEntry } from './cluster-engine.js';
import { retrying, type RetryBound } from './peer-claims.js';

const PREFIX = 'ann.';
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const none: readonly ControllerInfo[] = Object.freeze([]);

/** What this broker wrote for one of its connections: the last write (writes go one after another), and whether one was made. */
interface Written {
  writing: Promise<unknown>;
  written: boolean;
}

const writtenOf = new Slot<Written>();

/** Something that uses an announcement (a remote registration) and hears when it changes. */
export interface AnnouncementUser {
  controllersChanged(): void;
}

export class Announcements<User extends AnnouncementUser> {
  private readonly remote = new Map<string, readonly ControllerInfo[]>();
  private readonly users = new Map<string, Set<User>>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly nodeId: string,
    /** The users of an announcement that changed (for presence: their peers changed). */
    private readonly changed: (users: readonly User[]) => void,
  ) {}

  static isKey(key: string): boolean {
    return key.startsWith(PREFIX);
  }

  /** The key of connection `handle` of broker `node`. */
  static keyOf(node: string, handle: number): string {
    return `${PREFIX}${node}.${handle}`;
  }

  // ---- this broker's connections -------------------------------------------------------

  /** Writes `connection`'s announcement (after any write before it); resolves when it is in the store. */
  publish(connection: BrokerConnection, bound: RetryBound): Promise<unknown> {
    let state = writtenOf.get(connection);
    if (!state) writtenOf.set(connection, (state = { writing: Promise.resolve(), written: false }));
    const key = Announcements.keyOf(this.nodeId, connection.handle);
    const done = state;
    state.writing = state.writing.then(() => {
      if (!connection.isOpen) return undefined;
      done.written = true;
      return retrying(bound, `announce ${key}`, () => this.store.put(key, encoder.encode(JSON.stringify(connection.controllers))));
    });
    return state.writing;
  }

  /** Whether `connection`'s announcement was written (or is being written). */
  published(connection: BrokerConnection): boolean {
    return writtenOf.get(connection)?.written === true;
  }

  /** `connection` closed: its announcement is deleted (after its last write). */
  withdraw(connection: BrokerConnection): Promise<unknown> | undefined {
    const state = writtenOf.get(connection);
    writtenOf.set(connection, undefined);
    if (!state?.written) return undefined;
    const key = Announcements.keyOf(this.nodeId, connection.handle);
    return state.writing.catch(() => undefined).then(() => this.store.delete(key));
  }

  // ---- the other brokers' ----------------------------------------------------------------

  controllersOf(key: string | undefined): readonly ControllerInfo[] {
    return key === undefined ? none : (this.remote.get(key) ?? none);
  }

  use(key: string | undefined, user: User): void {
    if (key === undefined) return;
    let users = this.users.get(key);
    if (!users) this.users.set(key, (users = new Set()));
    users.add(user);
  }

  unuse(key: string | undefined, user: User): void {
    if (key === undefined) return;
    const users = this.users.get(key);
    if (!users?.delete(user)) return;
    if (users.size === 0) this.users.delete(key);
  }

  /** An entry under an announcement key (this broker's own are ignored). */
  onEntry(entry: StoreEntry): void {
    if (entry.key.startsWith(`${PREFIX}${this.nodeId}.`)) return;
    if (entry.value === undefined) this.remote.delete(entry.key);
    else this.remote.set(entry.key, readControllers(entry.value));
    const users = this.users.get(entry.key);
    if (!users) return;
    const list = [...users];
    for (const user of list) user.controllersChanged();
    this.changed(list);
  }

  /** After following the store anew: announcements that are gone from it are forgotten. */
  keepOnly(present: ReadonlySet<string>): void {
    for (const key of [...this.remote.keys()]) if (!present.has(key)) this.onEntry({ key, value: undefined, revision: 0 });
  }

  /** Broker `node` is gone: its announcements are forgotten here, and deleted from the store (whoever notices first). */
  nodeDied(node: string): Promise<unknown>[] {
    const prefix = `${PREFIX}${node}.`;
    const deletions: Promise<unknown>[] = [];
    for (const key of [...this.remote.keys()]) {
      if (!key.startsWith(prefix)) continue;
      this.remote.delete(key);
      deletions.push(this.store.delete(key).catch(() => undefined));
    }
    return deletions;
  }
}

function readControllers(value: Uint8Array): readonly ControllerInfo[] {
  try {
    const parsed = JSON.parse(decoder.decode(value)) as unknown;
    return Array.isArray(parsed) ? (parsed as ControllerInfo[]) : none;
  } catch {
    return none;
  }
}
