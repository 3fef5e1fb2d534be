export interface ScrapeCacheOptions {
  /** A value read less than this long ago is served without reading again. */
  maxAgeMs: number;
  /** A scrape waits this long at most for a read; the read goes on and fills the cache when it ends. */
  timeoutMs: number;
  now?: () => number;
}

/**
 * A value that costs a query (fanout's outbox backlog), read at scrape time: at most one read at
 * a time, reused for `maxAgeMs`, and a scrape never waits more than `timeoutMs` for it. A read
 * that fails or is late leaves the last value served (undefined before the first): a slow or
 * failing dependency neither slows nor fails the scrape, nor piles up reads.
 */
export class ScrapeCache<T> {
  private value?: T;
  private readAt = -Infinity;
  private reading?: Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly options: ScrapeCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async get(): Promise<T | undefined> {
    if (this.now() - this.readAt < this.options.maxAgeMs) return this.value;
    this.reading ??= this.refresh();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.timeoutMs)));
    try {
      await Promise.race([this.reading, late]);
    } finally {
      clearTimeout(timer);
    }
    return this.value;
  }

  private async refresh(): Promise<void> {
    try {
      const value = await this.read();
      this.value = value;
      this.readAt = this.now();
    } catch {
      // The last value stays; the next scrape reads again.
    } finally {
      this.reading = undefined;
    }
  }
}
