/**
 * Upper bounds, in seconds, of the duration histograms: from a millisecond (an in-memory
 * handler) to a minute (a batch that waited out retries, or a long backlog).
 */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Upper bounds, in seconds, of end-to-end freshness: sub-second when flowing, minutes when behind. */
export const FRESHNESS_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** Upper bounds of a count of items (events in a delivery, messages in a batch). */
export const COUNT_BUCKETS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
