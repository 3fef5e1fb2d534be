import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';

/** How a `MicroBatcher` forms and sends its batches. */
export interface MicroBatcherOptions<T> {
  /**
   * Sends one batch; `callers` is how many submissions it holds items of. The batcher never
   * calls it again before the previous call settled. A rejection fails every one of those callers
   * with that error, and nothing else.
   */
  send(batch: T[], callers: number): Promise<void>;
  /** The item's size in bytes, counted against `maxBatchBytes`. */
  sizeOf(item: T): number;
  /** At most this many items per batch. */
  maxBatchItems: number;
  /** At most this many bytes per batch, unless a single item is larger: it then goes alone. */
  maxBatchBytes: number;
  /** How long a batch that is not full waits for more items before it goes (0: it goes at once). */
  lingerMs: number;
}

/** One caller's items, queued until every one of them is sent or one batch holding them failed. */
interface Submission<T> {
  readonly items: readonly T[];
  readonly sizes: readonly number[];
  /** The first item not yet taken into a batch. */
  next: number;
  /** Items not yet acknowledged by a successful send. */
  unacknowledged: number;
  settled: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

/** The items of one submission that went into one batch. */
interface Slice<T> {
  submission: Submission<T>;
  start: number;
  count: number;
}

/**
 * Coalesces many callers' items into batches with one batch in flight at a time: while one is
 * sent, new items queue up, and the next batch takes them as soon as it returns (after
 * `lingerMs`, when set and the batch is not full yet). Each caller's promise resolves once every
 * one of its items was in a batch that was sent, and rejects with the error of the first batch
 * holding one of its items that failed; its items still queued are then dropped, not sent.
 *
 * Order: items leave in submission order, a caller's items in its own order, possibly across
 * several batches. A failed batch is not sent again and nothing overtakes it: the batches after
 * it hold only items submitted after its own, so a caller that resubmits after its rejection is
 * queued behind everything already queued, like any new submission.
 */
export class MicroBatcher<T> {
  /** Submissions with items not yet taken into a batch, oldest first. */
  private queue: Submission<T>[] = [];
  private queuedItems = 0;
  private queuedBytes = 0;
  private active = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: MicroBatcherOptions<T>) {}

  /** Queues `items` in order; settles with their fate (an empty list resolves at once). */
  submit(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const sizes = items.map((item) => this.options.sizeOf(item));
      this.queue.push({
        items: [...items],
        sizes,
        next: 0,
        unacknowledged: items.length,
        settled: false,
        resolve,
        reject,
      });
      this.queuedItems += items.length;
      this.queuedBytes += sizes.reduce((sum, size) => sum + size, 0);
      if (!this.active) {
        // Set here, synchronously: the loop clears it in the same turn as it sees an empty
        // queue, so an item is never queued without a loop to send it.
        this.active = true;
        this.running = this.run();
      }
    });
  }

  /** Rejects every caller with items still queued (not the ones only in the batch in flight). */
  failQueued(error: unknown): void {
    for (const submission of [...this.queue]) this.fail(submission, error);
  }

  /** Items queued and not yet taken into a batch. */
  get pendingItems(): number {
    return this.queuedItems;
  }

  /** Resolves once nothing is queued or in flight. */
  async idle(): Promise<void> {
    while (this.active) await this.running;
  }

  private async run(): Promise<void> {
    try {
      // Callers that submit in the same turn (a Promise.all of publishes) share the first batch.
      await nextMacrotask();
      while (this.queue.length > 0) {
        if (this.options.lingerMs > 0 && !this.full()) await sleep(this.options.lingerMs);
        const slices = this.take();
        if (slices.length === 0) continue;
        const batch = slices.flatMap(({ submission, start, count }) => submission.items.slice(start, start + count));
        try {
          await this.options.send(batch, slices.length);
        } catch (error) {
          for (const { submission } of slices) this.fail(submission, error);
          continue;
        }
        for (const { submission, count } of slices) {
          if (submission.settled) continue;
          submission.unacknowledged -= count;
          if (submission.unacknowledged === 0) {
            submission.settled = true;
            submission.resolve();
          }
        }
      }
    } catch (error) {
      // Not a failed send (that is caught above) but a bug here: no caller may wait forever.
      this.failQueued(error);
    } finally {
      this.active = false;
    }
  }

  private full(): boolean {
    return this.queuedItems >= this.options.maxBatchItems || this.queuedBytes >= this.options.maxBatchBytes;
  }

  /** The next batch: queued items in order, within the bounds; at least one item. */
  private take(): Slice<T>[] {
    const { maxBatchItems, maxBatchBytes } = this.options;
    const slices: Slice<T>[] = [];
    let items = 0;
    let bytes = 0;
    let full = false;
    while (!full && this.queue.length > 0) {
      const submission = this.queue[0];
      const start = submission.next;
      let end = start;
      while (end < submission.items.length) {
        const size = submission.sizes[end];
        if (items >= maxBatchItems || (items > 0 && bytes + size > maxBatchBytes)) {
          full = true;
          break;
        }
        items += 1;
        bytes += size;
        end += 1;
      }
      if (end > start) {
        slices.push({ submission, start, count: end - start });
        submission.next = end;
        this.queuedItems -= end - start;
        this.queuedBytes -= submission.sizes.slice(start, end).reduce((sum, size) => sum + size, 0);
      }
      if (submission.next === submission.items.length) this.queue.shift();
    }
    return slices;
  }

  private fail(submission: Submission<T>, error: unknown): void {
    if (submission.settled) return;
    submission.settled = true;
    const index = this.queue.indexOf(submission);
    if (index >= 0) {
      this.queue.splice(index, 1);
      this.queuedItems -= submission.items.length - submission.next;
      this.queuedBytes -= submission.sizes.slice(submission.next).reduce((sum, size) => sum + size, 0);
    }
    submission.reject(error);
  }
}
