import { performance } from 'node:perf_hooks';

/**
 * An error code as a label value: `BAD_SIGNATURE` → `bad_signature`. Codes come from the
 * project's closed list (`@asana-stream/errors`), so the label's values stay few.
 */
export function codeLabel(code: string): string {
  return code.toLowerCase();
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** An HTTP status as its class: `200` → `2xx`; anything outside 100..599 → `other`. No allocation. */
export function statusClass(status: number): string {
  if (!Number.isInteger(status) || status < 100 || status > 599) return 'other';
  return STATUS_CLASSES[Math.floor(status / 100) - 1];
}

/** Seconds since `startMs`, a `performance.now()` reading: what a duration histogram observes. */
export function secondsSince(startMs: number): number {
  return Math.max(0, performance.now() - startMs) / 1000;
}

/**
 * Label children made once per key and reused: prom-client's `labels()` validates and builds
 * a child on every call, so hot paths take theirs from here. At most `maxKeys` are kept (a
 * key past that is made on each call), bounding memory even if a caller's keys were not few.
 */
export class LabelChildren<K, C> {
  private readonly children = new Map<K, C>();

  constructor(
    private readonly make: (key: K) => C,
    private readonly maxKeys = 1000,
  ) {}

  get(key: K): C {
    let child = this.children.get(key);
    if (child === undefined) {
      child = this.make(key);
      if (this.children.size < this.maxKeys) this.children.set(key, child);
    }
    return child;
  }
}

/**
 * A metric's `collect` (run at each scrape) that can never fail the scrape: an error or a
 * rejection leaves the metric with what it last held. Metrics must never affect the pipeline,
 * nor one metric's trouble hide every other.
 */
export function safeCollect<T>(collect: (this: T) => void | Promise<void>): (this: T) => Promise<void> {
  return async function (this: T) {
    try {
      await collect.call(this);
    } catch {
      // The metric keeps its last values; the scrape goes on.
    }
  };
}
