/**
 * kafkajs' per-connection request queue (kafkajs 2.2.4, `src/network/requestQueue`), as far as
 * this fix reads and replaces it.
 */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests: (this: RequestQueueInternals) => void;
}

interface RequestQueueClass {
  prototype: RequestQueueInternals;
}

/** kafkajs' `CHECK_PENDING_REQUESTS_INTERVAL`: how soon a queue with requests waiting is looked at again. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

/**
 * Whether `method` is kafkajs 2.2.4's `scheduleCheckPendingRequests`, the one this fix replaces:
 * the delay it computes from `throttledUntil` is only corrected when requests are pending.
 */
export function isKafkajsIdleTimerLoop(method: { toString(): string }): boolean {
  const source = method.toString();
  return (
    source.includes('this.throttledUntil - Date.now()') &&
    source.includes('if (this.pending.length > 0)') &&
    source.includes('setTimeout(')
  );
}

/**
 * kafkajs' method, except that with nothing pending and no throttle to wait out it schedules
 * nothing: a request that has to wait schedules its own check (`push`), and every answered or
 * timed-out request checks the queue. The upstream fix (tulios/kafkajs#1667, #1768), unreleased.
 */
function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId) return;
  let delayMs = this.throttledUntil - Date.now();
  if (this.pending.length > 0) delayMs = delayMs > 0 ? delayMs : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  else if (delayMs <= 0) return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delayMs);
}

let fixed: boolean | undefined;

/**
 * kafkajs 2.2.4 (its last release) reschedules its queue check every millisecond, for as long as
 * a broker connection lives, whether or not anything is waiting: `throttledUntil` starts at -1,
 * and the negative delay it computes from it is only corrected when requests are pending, so
 * each check schedules the next at once (tulios/kafkajs#1556, #1604, #1704; Node 24 reports the
 * negative delay as a `TimeoutNegativeWarning`, #1751). Every producer, consumer and admin
 * connection of every app spun so: an idle ingest used 2 % of a core on its main thread. This
 * replaces the method on kafkajs' `RequestQueue` with the upstream fix, once per process, before
 * any client is made (`createKafkaClient` calls it). A kafkajs whose method differs is left
 * alone: answers false then.
 */
export function fixKafkajsIdleTimerLoop(): boolean {
  if (fixed !== undefined) return fixed;
  // kafkajs exports no such module: its path within the package is what it has been since 2020.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RequestQueue = require('kafkajs/src/network/requestQueue') as RequestQueueClass;
  fixed = isKafkajsIdleTimerLoop(RequestQueue.prototype.scheduleCheckPendingRequests);
  if (fixed) RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return fixed;
}
