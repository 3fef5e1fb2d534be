import { setTimeout as sleep } from 'node:timers/promises';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher';

interface Item {
  caller: string;
  n: number;
  size?: number;
}

/** A send the test settles by hand, one call at a time, recording every batch. */
function controlledSend() {
  const batches: { items: Item[]; callers: number }[] = [];
  const pending: { resolve(): void; reject(error: unknown): void }[] = [];
  const send = (items: Item[], callers: number) =>
    new Promise<void>((resolve, reject) => {
      batches.push({ items, callers });
      pending.push({ resolve, reject });
    });
  /** Waits for batch `index` to be sent (it is the one in flight). */
  const sent = async (index: number) => {
    for (let i = 0; i < 200 && batches.length <= index; i++) await sleep(5);
    if (batches.length <= index) throw new Error(`batch ${index} was never sent`);
    return batches[index];
  };
  return { batches, pending, send, sent };
}

function batcher(send: MicroBatcherOptions<Item>['send'], options: Partial<MicroBatcherOptions<Item>> = {}) {
  return new MicroBatcher<Item>({
    send,
    sizeOf: (item) => item.size ?? 1,
    maxBatchItems: 1000,
    maxBatchBytes: 1_000_000,
    lingerMs: 0,
    ...options,
  });
}

const items = (caller: string, count: number, size?: number): Item[] =>
  Array.from({ length: count }, (_, n) => ({ caller, n, size }));

const names = (batch: Item[]) => batch.map((item) => `${item.caller}${item.n}`);

/** What a promise came to, without waiting longer than the current turn's microtasks. */
async function outcome(promise: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  const marker = Symbol('pending');
  const result = await Promise.race([
    promise.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    sleep(0).then(() => marker),
  ]);
  return result === marker ? 'pending' : (result as 'resolved' | 'rejected');
}

describe('MicroBatcher', () => {
  it('sends the callers that submit in the same turn as one batch, in submission order', async () => {
    const { batches, pending, send, sent } = controlledSend();
    const queue = batcher(send);
    const done = ['a', 'b', 'c'].map((caller) => queue.submit(items(caller, 2)));
    const first = await sent(0);
    expect(names(first.items)).toEqual(['a0', 'a1', 'b0', 'b1', 'c0', 'c1']);
    expect(first.callers).toBe(3);
    pending[0].resolve();
    await Promise.all(done);
    expect(batches).toHaveLength(1);
  });

  it('keeps one batch in flight; what arrives meanwhile goes together as soon as it returns', async () => {
    const { batches, pending, send, sent } = controlledSend();
    const queue = batcher(send);
    const a = queue.submit(items('a', 1));
    await sent(0);
    const later = ['b', 'c', 'd'].map((caller) => queue.submit(items(caller, 1)));
    await sleep(20);
    expect(batches).toHaveLength(1);
    expect(await outcome(a)).toBe('pending');
    pending[0].resolve();
    await a;
    const second = await sent(1);
    expect(names(second.items)).toEqual(['b0', 'c0', 'd0']);
    pending[1].resolve();
    await Promise.all(later);
  });

  it('splits at maxBatchItems, keeping a caller’s items in order across batches, and resolves it after its last', async () => {
    const { pending, send, sent } = controlledSend();
    const queue = batcher(send, { maxBatchItems: 3 });
    const a = queue.submit(items('a', 2));
    const b = queue.submit(items('b', 4));
    expect(names((await sent(0)).items)).toEqual(['a0', 'a1', 'b0']);
    pending[0].resolve();
    await a;
    expect(names((await sent(1)).items)).toEqual(['b1', 'b2', 'b3']);
    expect(await outcome(b)).toBe('pending');
    pending[1].resolve();
    await b;
  });

  it('splits at maxBatchBytes, and sends an item larger than a batch alone', async () => {
    const { pending, send, sent } = controlledSend();
    const queue = batcher(send, { maxBatchBytes: 100 });
    const done = [
      queue.submit([{ caller: 'a', n: 0, size: 60 }]),
      queue.submit([{ caller: 'b', n: 0, size: 40 }]),
      queue.submit([{ caller: 'c', n: 0, size: 500 }]),
      queue.submit([{ caller: 'd', n: 0, size: 10 }]),
    ];
    expect(names((await sent(0)).items)).toEqual(['a0', 'b0']);
    pending[0].resolve();
    expect(names((await sent(1)).items)).toEqual(['c0']);
    pending[1].resolve();
    expect(names((await sent(2)).items)).toEqual(['d0']);
    pending[2].resolve();
    await Promise.all(done);
  });

  it('rejects every caller of a failed batch with its error and no one else; the next batch still goes', async () => {
    const { pending, send, sent } = controlledSend();
    const queue = batcher(send);
    const a = queue.submit(items('a', 1));
    await sent(0);
    const b = queue.submit(items('b', 1));
    const c = queue.submit(items('c', 1));
    const refused = new Error('refused');
    pending[0].reject(refused);
    await expect(a).rejects.toBe(refused);
    expect(names((await sent(1)).items)).toEqual(['b0', 'c0']);
    pending[1].resolve();
    await expect(Promise.all([b, c])).resolves.toBeDefined();
  });

  it('never sends the rest of a caller whose earlier batch failed', async () => {
    const { batches, pending, send, sent } = controlledSend();
    const queue = batcher(send, { maxBatchItems: 2 });
    const a = queue.submit(items('a', 3));
    const b = queue.submit(items('b', 1));
    expect(names((await sent(0)).items)).toEqual(['a0', 'a1']);
    pending[0].reject(new Error('refused'));
    await expect(a).rejects.toThrow('refused');
    expect(names((await sent(1)).items)).toEqual(['b0']);
    pending[1].resolve();
    await b;
    expect(batches).toHaveLength(2);
  });

  it('failQueued rejects the callers still queued, not those of the batch in flight', async () => {
    const { pending, send, sent } = controlledSend();
    const queue = batcher(send, { maxBatchItems: 2 });
    const a = queue.submit(items('a', 1));
    await sent(0);
    const b = queue.submit(items('b', 1));
    const c = queue.submit(items('c', 1));
    const down = new Error('no broker');
    queue.failQueued(down);
    await expect(b).rejects.toBe(down);
    await expect(c).rejects.toBe(down);
    expect(queue.pendingItems).toBe(0);
    pending[0].resolve();
    await a;
    await queue.idle();
  });

  it('waits lingerMs before a batch that is not full, so a caller just after the first one joins it', async () => {
    const { pending, send, sent } = controlledSend();
    const queue = batcher(send, { lingerMs: 100 });
    const a = queue.submit(items('a', 1));
    await sleep(20);
    const b = queue.submit(items('b', 1));
    expect(names((await sent(0)).items)).toEqual(['a0', 'b0']);
    pending[0].resolve();
    await Promise.all([a, b]);
  });

  it('does not linger when a full batch is queued', async () => {
    const { pending, send, sent } = controlledSend();
    const queue = batcher(send, { lingerMs: 60_000, maxBatchItems: 2 });
    const a = queue.submit(items('a', 2));
    expect(names((await sent(0)).items)).toEqual(['a0', 'a1']);
    pending[0].resolve();
    await a;
  });

  it('resolves an empty submission at once, without a send', async () => {
    const queue = batcher(() => Promise.reject(new Error('no send expected')));
    await expect(queue.submit([])).resolves.toBeUndefined();
    await queue.idle();
  });

  it('is idle once nothing is queued or in flight, and starts again on the next submission', async () => {
    const { batches, pending, send, sent } = controlledSend();
    const queue = batcher(send);
    const a = queue.submit(items('a', 1));
    await sent(0);
    let idle = false;
    const waiting = queue.idle().then(() => (idle = true));
    await sleep(10);
    expect(idle).toBe(false);
    pending[0].resolve();
    await Promise.all([a, waiting]);
    const b = queue.submit(items('b', 1));
    await sent(1);
    pending[1].resolve();
    await b;
    expect(batches).toHaveLength(2);
  });
});
