/**
 * Watches a contracts folder for `p2pgen build --watch` in a way that survives files being
 * replaced rather than written: editors' safe-write, `sed -i` and `git checkout` write a new file
 * and rename it over the old one. A watch on a file follows its inode, which that replaces, so it
 * goes deaf; this watches the folders instead (each one on its own, without `recursive`, whose
 * Linux implementation in Node 20 watches files), and re-reads the folder tree after every event
 * so folders created, renamed or removed later are followed too.
 *
 * Events are debounced: one save (which raises several events: write, rename, change) calls
 * `onChange` once, after `debounceMs` of quiet.
 */
import { readdirSync, watch, type FSWatcher } from 'node:fs';
import { join, resolve, sep } from 'node:path';

export interface ContractWatcherOptions {
  /** Folders under the root that are never watched (the output folder, when it is inside). */
  exclude?: string[];
  debounceMs?: number;
}

/** Folders a contracts build never reads, as the reader skips them. */
const skippedDirs = new Set(['node_modules', '.git', 'dist']);

/** Whether a changed name can change the build: a contract source or the config file, not temp files or the lock. */
export function isContractInput(name: string): boolean {
  const base = name.split(/[\\/]/).pop() ?? name;
  return (base.endsWith('.ts') && !base.startsWith('.')) || base === 'p2pgen.config.json';
}

export class ContractWatcher {
  readonly #root: string;
  readonly #exclude: string[];
  readonly #debounceMs: number;
  readonly #onChange: () => void;
  readonly #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(root: string, onChange: () => void, options: ContractWatcherOptions = {}) {
    this.#root = resolve(root);
    this.#exclude = (options.exclude ?? []).map((dir) => resolve(dir));
    this.#debounceMs = options.debounceMs ?? 100;
    this.#onChange = onChange;
    this.#sync();
  }

  /** The folders being watched now (absolute paths, sorted). */
  get folders(): string[] {
    return [...this.#watchers.keys()].sort();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  #isExcluded(dir: string): boolean {
    return this.#exclude.some((excluded) => dir === excluded || dir.startsWith(excluded + sep));
  }

  /** The folder tree under the root as it is now. */
  #folders(): Set<string> {
    const found = new Set<string>();
    const walk = (dir: string) => {
      if (this.#isExcluded(dir)) return;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return; // removed meanwhile
      }
      found.add(dir);
      for (const entry of entries) {
        if (entry.isDirectory() && !skippedDirs.has(entry.name) && !entry.name.startsWith('.')) walk(join(dir, entry.name));
      }
    };
    walk(this.#root);
    return found;
  }

  /** Watches every folder of the tree and stops watching folders that are gone; returns the tree. */
  #sync(): Set<string> {
    const folders = this.#folders();
    for (const [dir, watcher] of this.#watchers) {
      if (!folders.has(dir)) {
        watcher.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of folders) {
      if (this.#watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, (_event, name) => this.#event(dir, name === null ? undefined : String(name)));
        // A watched folder that is removed may report an error: forget it; the next sync finds its replacement.
        watcher.on('error', () => {
          watcher.close();
          if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
        });
        this.#watchers.set(dir, watcher);
      } catch {
        // Removed between listing and watching: the next event's sync sees the tree as it is.
      }
    }
    return folders;
  }

  #event(dir: string, name: string | undefined): void {
    if (this.#closed) return;
    // A folder may have appeared, been renamed over or removed: follow the tree before deciding.
    const folders = this.#sync();
    if (name !== undefined) {
      const path = join(dir, name);
      // A folder event counts (it may bring or take contracts), as does a contract file's; the lock, temp files and output do not.
      if (this.#isExcluded(path) || (!folders.has(path) && !isContractInput(name))) return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (!this.#closed) this.#onChange();
    }, this.#debounceMs);
  }
}
