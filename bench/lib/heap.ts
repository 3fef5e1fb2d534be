/**
 * Collects the bench process's garbage now (a full collection), so that what a measurement times
 * does not include collecting what the bench allocated just before it: a baseline whose inputs
 * were built a moment earlier (20,000 messages and the rows they came from) otherwise pays for
 * copying them out of the young generation while it is timed. `bench/bench.sh` runs the bench with
 * `--expose-gc`; without it this throws rather than measure differently in silence.
 */
export function settleHeap(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') {
    throw new Error(
      'the bench process needs --expose-gc to settle its heap before a measurement: run it with `npm run bench`',
    );
  }
  gc();
}
