import { SubscriptionCache, type SubscriptionCacheOptions } from './subscription-cache';

/** A lookup that answers from `rows`, or fails while `down`; counts its calls per key. */
class FakeTable {
  rows = new Map<string, string>();
  down = false;
  hang = false;
  readonly calls: string[] = [];
  readonly manyCalls: string[][] = [];

  load = (key: string): Promise<string | null> => {
    this.calls.push(key);
    if (this.hang) return new Promise(() => undefined);
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    return Promise.resolve(this.rows.get(key) ?? null);
  };

  loadMany = (keys: string[]): Promise<Map<string, string>> => {
    this.manyCalls.push(keys);
    if (this.hang) return new Promise(() => undefined);
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    const found = new Map<string, string>();
    for (const key of keys) {
      const value = this.rows.get(key);
      if (value !== undefined) found.set(key, value);
    }
    return Promise.resolve(found);
  };
}

describe('SubscriptionCache', () => {
  let now: number;
  let table: FakeTable;
  let stale: { key: string; ageMs: number }[];
  const options = (overrides: Partial<SubscriptionCacheOptions> = {}): SubscriptionCacheOptions => ({
    ttlMs: 5000,
    staleMs: 600_000,
    timeoutMs: 1000,
    maxEntries: 100,
    timeoutError: (ms) => new Error(`no answer within ${ms} ms`),
    onStale: (key, _error, ageMs) => stale.push({ key, ageMs }),
    now: () => now,
    ...overrides,
  });
  const cache = (overrides: Partial<SubscriptionCacheOptions> = {}) =>
    new SubscriptionCache(table.load, options(overrides));

  beforeEach(() => {
    now = 1_000_000;
    table = new FakeTable();
    stale = [];
  });

  it('asks once per TTL per key, however many deliveries come', async () => {
    table.rows.set('s1', 'secret');
    const subscriptions = cache();

    for (let i = 0; i < 10; i++) expect(await subscriptions.get('s1')).toBe('secret');
    now += 4999;
    await subscriptions.get('s1');

    expect(table.calls).toEqual(['s1']);
    now += 1;
    await subscriptions.get('s1');
    expect(table.calls).toEqual(['s1', 's1']);
  });

  it('shares one lookup between concurrent callers', async () => {
    table.rows.set('s1', 'secret');
    const subscriptions = cache();

    const answers = await Promise.all(Array.from({ length: 20 }, () => subscriptions.get('s1')));

    expect(answers).toEqual(Array(20).fill('secret'));
    expect(table.calls).toEqual(['s1']);
  });

  it('remembers a miss for one TTL only, so a new subscription is found within it', async () => {
    const subscriptions = cache();
    expect(await subscriptions.get('new')).toBeNull();
    table.rows.set('new', 'secret');

    now += 4000;
    expect(await subscriptions.get('new')).toBeNull();
    now += 1000;
    expect(await subscriptions.get('new')).toBe('secret');
    expect(table.calls).toEqual(['new', 'new']);
  });

  it('drops a deleted subscription within one TTL', async () => {
    table.rows.set('s1', 'secret');
    const subscriptions = cache();
    await subscriptions.get('s1');
    table.rows.delete('s1');

    now += 5000;
    expect(await subscriptions.get('s1')).toBeNull();
  });

  it('serves the last value found while lookups fail, up to staleMs after it was found, and says so', async () => {
    table.rows.set('s1', 'secret');
    const subscriptions = cache();
    await subscriptions.get('s1');
    table.down = true;

    now += 60_000;
    expect(await subscriptions.get('s1')).toBe('secret');
    expect(stale).toEqual([{ key: 's1', ageMs: 60_000 }]);
    now += 540_000;
    await expect(subscriptions.get('s1')).rejects.toThrow('ECONNREFUSED');
  });

  it('never serves a remembered miss while lookups fail: an unknown key gets the error', async () => {
    const subscriptions = cache();
    expect(await subscriptions.get('new')).toBeNull();
    table.down = true;

    now += 5000;
    await expect(subscriptions.get('new')).rejects.toThrow('ECONNREFUSED');
    await expect(subscriptions.get('never-seen')).rejects.toThrow('ECONNREFUSED');
  });

  it('gives up on a lookup slower than timeoutMs, serving the stale value or failing', async () => {
    table.rows.set('s1', 'secret');
    const subscriptions = cache({ timeoutMs: 20 });
    await subscriptions.get('s1');
    table.hang = true;
    now += 5000;

    expect(await subscriptions.get('s1')).toBe('secret');
    await expect(subscriptions.get('s2')).rejects.toThrow('no answer within 20 ms');
  });

  it('asks again after delete, and ignores the answer of a lookup started before it', async () => {
    let answer!: (value: string | null) => void;
    const slow = jest.fn(() => new Promise<string | null>((resolve) => (answer = resolve)));
    const racing = new SubscriptionCache(slow, options());
    const before = racing.get('s1');

    racing.delete('s1');
    answer(null);
    expect(await before).toBeNull();

    slow.mockImplementationOnce(() => Promise.resolve('secret'));
    expect(await racing.get('s1')).toBe('secret');
    expect(slow).toHaveBeenCalledTimes(2);
  });

  it('keeps at most maxEntries, dropping the one looked up longest ago', async () => {
    const subscriptions = cache({ maxEntries: 2 });
    await subscriptions.get('a');
    await subscriptions.get('b');
    await subscriptions.get('c');

    await subscriptions.get('b');
    await subscriptions.get('c');
    await subscriptions.get('a');

    expect(table.calls).toEqual(['a', 'b', 'c', 'a']);
  });

  describe('kept fresh in the background (loadMany, warmMs)', () => {
    const warmCache = (overrides: Partial<SubscriptionCacheOptions> = {}) =>
      new SubscriptionCache(table.load, options({ warmMs: 60_000, ...overrides }), table.loadMany);

    it('never makes a caller wait while refreshes succeed: one lookup per key, then refreshes only', async () => {
      table.rows.set('s1', 'one');
      table.rows.set('s2', 'two');
      const subscriptions = warmCache();
      await subscriptions.get('s1');
      await subscriptions.get('s2');

      for (let tick = 0; tick < 20; tick++) {
        now += 2500;
        await subscriptions.refresh();
        expect(await subscriptions.get('s1')).toBe('one');
        expect(await subscriptions.get('s2')).toBe('two');
      }

      expect(table.calls).toEqual(['s1', 's2']);
      expect(table.manyCalls).toHaveLength(20);
      expect(table.manyCalls[0]).toEqual(['s1', 's2']);
    });

    it('serves what a refresh found: a new secret, and a miss for a deleted subscription', async () => {
      table.rows.set('s1', 'old');
      table.rows.set('s2', 'secret');
      const subscriptions = warmCache();
      await subscriptions.get('s1');
      await subscriptions.get('s2');
      table.rows.set('s1', 'rotated');
      table.rows.delete('s2');

      now += 2500;
      await subscriptions.refresh();

      expect(await subscriptions.get('s1')).toBe('rotated');
      expect(await subscriptions.get('s2')).toBeNull();
      expect(table.calls).toEqual(['s1', 's2']);
      // A miss is not kept fresh: once its TTL is over, the next delivery asks for itself.
      now += 2500;
      await subscriptions.refresh();
      expect(table.manyCalls.at(-1)).toEqual(['s1']);
      now += 2500;
      await subscriptions.get('s2');
      expect(table.calls).toEqual(['s1', 's2', 's2']);
    });

    it('stops refreshing a value not read for warmMs: it expires and is looked up when read again', async () => {
      table.rows.set('s1', 'secret');
      const subscriptions = warmCache({ warmMs: 10_000 });
      await subscriptions.get('s1');

      now += 9999;
      await subscriptions.refresh();
      expect(table.manyCalls).toEqual([['s1']]);
      now += 1;
      await subscriptions.refresh();
      expect(table.manyCalls).toEqual([['s1']]);
      now += 5000;
      expect(await subscriptions.get('s1')).toBe('secret');
      expect(table.calls).toEqual(['s1', 's1']);
    });

    it('changes nothing when a refresh fails or hangs: past the TTL a read looks up itself, stale rules included', async () => {
      table.rows.set('s1', 'secret');
      const subscriptions = warmCache({ timeoutMs: 20 });
      await subscriptions.get('s1');
      table.down = true;

      now += 2500;
      await expect(subscriptions.refresh()).resolves.toBeUndefined();
      expect(await subscriptions.get('s1')).toBe('secret');
      expect(table.calls).toEqual(['s1']);
      now += 2500;
      expect(await subscriptions.get('s1')).toBe('secret');
      expect(table.calls).toEqual(['s1', 's1']);
      expect(stale).toEqual([{ key: 's1', ageMs: 5000 }]);

      table.down = false;
      table.hang = true;
      await expect(subscriptions.refresh()).resolves.toBeUndefined();
      // The hung lookup is not waited for, nor asked again while it hangs.
      await subscriptions.refresh();
      expect(table.manyCalls).toHaveLength(2);
    });

    it('drops the answer of a refresh for a key deleted or looked up afresh since it began', async () => {
      table.rows.set('s1', 'old');
      table.rows.set('s2', 'old');
      let answer!: (found: Map<string, string>) => void;
      const slowMany = jest.fn(() => new Promise<Map<string, string>>((resolve) => (answer = resolve)));
      const subscriptions = new SubscriptionCache(table.load, options({ warmMs: 60_000 }), slowMany);
      await subscriptions.get('s1');
      await subscriptions.get('s2');

      now += 2500;
      const refreshing = subscriptions.refresh();
      subscriptions.delete('s1');
      now += 1;
      table.rows.set('s1', 'handshake');
      expect(await subscriptions.get('s1')).toBe('handshake');
      answer(
        new Map([
          ['s1', 'stale answer'],
          ['s2', 'new'],
        ]),
      );
      await refreshing;

      expect(await subscriptions.get('s1')).toBe('handshake');
      expect(await subscriptions.get('s2')).toBe('new');
    });

    it('runs one refresh at a time', async () => {
      table.rows.set('s1', 'secret');
      const subscriptions = warmCache();
      await subscriptions.get('s1');
      table.hang = true;

      now += 2500;
      void subscriptions.refresh();
      void subscriptions.refresh();
      await new Promise(setImmediate);

      expect(table.manyCalls).toHaveLength(1);
    });

    it('survives a loadMany that throws instead of rejecting', async () => {
      table.rows.set('s1', 'secret');
      const throwing = jest.fn((): Promise<Map<string, string>> => {
        throw new Error('not a promise');
      });
      const subscriptions = new SubscriptionCache(table.load, options({ warmMs: 60_000 }), throwing);
      await subscriptions.get('s1');

      now += 2500;
      await expect(subscriptions.refresh()).resolves.toBeUndefined();
      await expect(subscriptions.refresh()).resolves.toBeUndefined();

      expect(throwing).toHaveBeenCalledTimes(2);
      expect(await subscriptions.get('s1')).toBe('secret');
    });

    describe('on its timer', () => {
      beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
      afterEach(() => jest.useRealTimers());

      it('refreshes every half TTL between startRefreshing and stopRefreshing', async () => {
        table.rows.set('s1', 'secret');
        const subscriptions = warmCache({ ttlMs: 1000 });
        await subscriptions.get('s1');

        subscriptions.startRefreshing();
        subscriptions.startRefreshing(); // once only
        await jest.advanceTimersByTimeAsync(2000);
        expect(table.manyCalls).toHaveLength(4);

        subscriptions.stopRefreshing();
        await jest.advanceTimersByTimeAsync(2000);
        expect(table.manyCalls).toHaveLength(4);
      });

      it('never starts refreshing with a TTL of 0: every read looks up then', async () => {
        table.rows.set('s1', 'secret');
        const subscriptions = warmCache({ ttlMs: 0 });
        await subscriptions.get('s1');

        subscriptions.startRefreshing();
        await jest.advanceTimersByTimeAsync(1000);
        await subscriptions.get('s1');

        expect(table.manyCalls).toEqual([]);
        expect(table.calls).toEqual(['s1', 's1']);
      });
    });

    it('never refreshes without warmMs', async () => {
      table.rows.set('s1', 'secret');
      const subscriptions = new SubscriptionCache(table.load, options(), table.loadMany);
      await subscriptions.get('s1');

      now += 2500;
      await subscriptions.refresh();

      expect(table.manyCalls).toEqual([]);
    });
  });
});
