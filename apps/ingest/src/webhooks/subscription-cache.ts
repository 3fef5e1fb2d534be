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
  /**
   * How long after its last read a found value is kept fresh in the background (`refresh`, with
   * the `loadMany` given to the constructor); 0 or absent: never.
   */
  warmMs?: number;
  /** Called when a stale value is served because the lookup failed. */
  onStale?(key: string, error: unknown, ageMs: number): void;
  /** What a lookup that outlives `timeoutMs` fails with. */
  timeoutError(timeoutMs: number): Error;
  now?: () => number;
}

/** Looks many keys up at once: the values found; a key left out has none (a miss). */
export type LoadMany<V> = (keys: string[]) => Promise<Map<string, V>>;

interface Entry<V> {
  value: V | null;
  loadedAt: number;
  readAt: number;
}

/**
 * Lookups by key, remembered for a short while: `get` asks `load` at most once per `ttlMs` per
 * key (concurrent callers share one lookup), a miss (null) included, so an unknown key is asked
 * again after `ttlMs` and a new one is found within it. When a lookup fails or is slower than
 * `timeoutMs`, the last value found (not a miss) is served for up to `staleMs` after it was
 * loaded: a dependency's outage does not fail what was known just before it.
 *
 * With `loadMany` and `warmMs`, the values in use never make a caller wait: every `ttlMs / 2`
 * (`startRefreshing`), the found values read within `warmMs` are looked up again in one call,
 * so under steady traffic, or a pause shorter than `warmMs`, they are always younger than
 * `ttlMs` and `get` answers from memory. A value is still never served older than `ttlMs`
 * while lookups succeed: a failed or slow refresh leaves the next `get` past the TTL to look up
 * for itself, with the rules above.
 */
export class SubscriptionCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly loading = new Map<string, Promise<V | null>>();
  private readonly now: () => number;
  private refreshing = false;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly load: (key: string) => Promise<V | null>,
    private readonly options: SubscriptionCacheOptions,
    private readonly loadMany?: LoadMany<V>,
  ) {
    this.now = options.now ?? Date.now;
  }

  async get(key: string): Promise<V | null> {
    const entry = this.entries.get(key);
    const now = this.now();
    const age = entry === undefined ? Infinity : now - entry.loadedAt;
    if (entry !== undefined && age < this.options.ttlMs) {
      entry.readAt = now;
      return entry.value;
    }
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

  /**
   * Refreshes the warm values every `ttlMs / 2` until `stopRefreshing`; does nothing without
   * `loadMany` and `warmMs`, or with a `ttlMs` of 0 (every `get` looks up then).
   */
  startRefreshing(): void {
    if (!this.loadMany || !this.options.warmMs || this.options.ttlMs <= 0 || this.refreshTimer) return;
    this.refreshTimer = setInterval(() => void this.refresh(), Math.max(1, Math.floor(this.options.ttlMs / 2)));
    this.refreshTimer.unref();
  }

  stopRefreshing(): void {
    clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /**
   * Looks the found values read within `warmMs` up again, in one `loadMany` call, and stores
   * the answers (a key left out becomes a miss). An answer is dropped for a key deleted or
   * looked up afresh since the refresh began. A failure changes nothing: resolves either way,
   * within `timeoutMs`. Does nothing while the last refresh's lookup is still running.
   */
  async refresh(): Promise<void> {
    const { warmMs = 0, timeoutMs } = this.options;
    const loadMany = this.loadMany;
    if (!loadMany || warmMs <= 0 || this.refreshing) return;
    const startedAt = this.now();
    const keys: string[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.value !== null && startedAt - entry.readAt < warmMs) keys.push(key);
    }
    if (keys.length === 0) return;
    // One refresh at a time, until its lookup settles: one that outlives `timeoutMs` is no longer
    // waited for, but a Postgres that hangs does not get another one every tick.
    this.refreshing = true;
    const lookup = Promise.resolve(keys)
      .then(loadMany)
      .finally(() => (this.refreshing = false));
    try {
      const found = await within(lookup, timeoutMs, () => this.options.timeoutError(timeoutMs));
      for (const key of keys) {
        const entry = this.entries.get(key);
        if (entry === undefined || entry.loadedAt >= startedAt || this.loading.has(key)) continue;
        entry.value = found.get(key) ?? null;
        entry.loadedAt = startedAt;
      }
    } catch {
      // Nothing to do: a `get` past the TTL looks up for itself, and reports an outage then.
    }
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
    const now = this.now();
    this.entries.delete(key);
    this.entries.set(key, { value, loadedAt: now, readAt: now });
    // A Map iterates in insertion order: the first key is the one looked up longest ago.
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
