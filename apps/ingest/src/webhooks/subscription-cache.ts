import { within } from './within';

export interface SubscriptionCacheOptions {
  /** How long a looked-up value (a miss too) is served without asking again. */
  ttlMs: number;
  /** How long after its last successful lookup a value is still served while lookups fail. */
  staleMs: number;
  /** A lookup slower than this fails (the caller gets the stale value or the error); it still fills the cache when it ends. */
  timeoutMs: number;
  /** Entries kept at most; the least recently looked-up go first. */
  maxEntries: number;
  /** Called when a stale value is served because the lookup failed. */
  onStale?(key: string, error: unknown, ageMs: number): void;
  /** What a lookup that outlives `timeoutMs` fails with. */
  timeoutError(timeoutMs: number): Error;
  now?: () => number;
}

interface Entry<V> {
  value: V | null;
  loadedAt: number;
}

/**
 * Lookups by key, remembered for a short while: `get` asks `load` at most once per `ttlMs` per
 * key (concurrent callers share one lookup), a miss (null) included, so an unknown key is asked
 * again after `ttlMs` and a new one is found within it. When a lookup fails or is slower than
 * `timeoutMs`, the last value found (not a miss) is served for up to `staleMs` after it was
 * loaded: a dependency's outage does not fail what was known just before it.
 */
export class SubscriptionCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly loading = new Map<string, Promise<V | null>>();
  private readonly now: () => number;

  constructor(
    private readonly load: (key: string) => Promise<V | null>,
    private readonly options: SubscriptionCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async get(key: string): Promise<V | null> {
    const entry = this.entries.get(key);
    const age = entry === undefined ? Infinity : this.now() - entry.loadedAt;
    if (entry !== undefined && age < this.options.ttlMs) return entry.value;
    try {
      return await this.lookup(key);
    } catch (error) {
      if (entry !== undefined && entry.value !== null && age < this.options.staleMs) {
        this.options.onStale?.(key, error, age);
        return entry.value;
      }
      throw error;
    }
  }

  /** Forgets `key` (and ignores a lookup of it already running): the next `get` asks `load`. */
  delete(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
  }

  private lookup(key: string): Promise<V | null> {
    let pending = this.loading.get(key);
    if (pending === undefined) {
      const started = this.load(key).then((value) => {
        // A `delete` since this lookup started means its answer may predate the change.
        if (this.loading.get(key) === started) this.store(key, value);
        return value;
      });
      pending = started;
      this.loading.set(key, started);
      void started.then(
        () => this.loading.get(key) === started && this.loading.delete(key),
        () => this.loading.get(key) === started && this.loading.delete(key),
      );
    }
    return within(pending, this.options.timeoutMs, () => this.options.timeoutError(this.options.timeoutMs));
  }

  private store(key: string, value: V | null): void {
    this.entries.delete(key);
    this.entries.set(key, { value, loadedAt: this.now() });
    // A Map iterates in insertion order: the first key is the one looked up longest ago.
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
