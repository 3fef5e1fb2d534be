import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/** Below this heap limit V8 counts a heap as small and grows it slowly (see `heapGrowingPercentFor`). */
const SMALL_HEAP_LIMIT_BYTES = 1024 * 1024 * 1024;

/** How much a small heap may grow between full collections: twice its live size. */
export const SMALL_HEAP_GROWING_PERCENT = 100;

/**
 * The `--heap-growing-percent` an app with a heap limit of `heapSizeLimitBytes` runs with, or
 * undefined to leave V8's own choice. V8 lets the heap grow between full collections by a factor
 * that shrinks with the heap's limit: 1.3 at the 256 MB old space the pods run with
 * (`NODE_OPTIONS` in `k8s/base/config.yaml`), up to 4 on large heaps. At 1.3, an ingest with 45 MB
 * live ran a full collection about every second under 40 deliveries a second, 46 of them in
 * 20 s, and spent 5.8 ms of CPU per delivery; at 2 it ran one, with 3.6 ms (docs/benchmarks.md).
 * The limit still bounds the heap: V8 collects before reaching it whatever the factor.
 */
export function heapGrowingPercentFor(heapSizeLimitBytes: number): number | undefined {
  return heapSizeLimitBytes < SMALL_HEAP_LIMIT_BYTES ? SMALL_HEAP_GROWING_PERCENT : undefined;
}

/**
 * Applies `heapGrowingPercentFor` to this process (a V8 flag V8 reads at every full collection;
 * Node does not take it in `NODE_OPTIONS`). Returns the percent set, if any.
 */
export function tuneHeapGrowth(heapSizeLimitBytes = getHeapStatistics().heap_size_limit): number | undefined {
  const percent = heapGrowingPercentFor(heapSizeLimitBytes);
  if (percent !== undefined) setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
