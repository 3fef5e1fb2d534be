import { SubscriptionCache, type SubscriptionCacheOptions } from './subscription-cache';

/** A lookup that answers from `rows`, or fails while `down`; counts its calls per key. */
class FakeTable {
  rows = new Map<string, string>();
  down = false;
  hang = false;
  readonly calls: string[] = [];

  load = (key: string): Promise<string | null> => {
    this.calls.push(key);
    if (this.hang) return new Promise(() => undefined);
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    return Promise.resolve(this.rows.get(key) ?? null);
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
});
