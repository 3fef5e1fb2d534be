import type { Gauge } from 'prom-client';
import {
  counter,
  DURATION_BUCKETS_SECONDS,
  FRESHNESS_BUCKETS_SECONDS,
  gauge,
  histogram,
  safeCollect,
  ScrapeCache,
} from '@asana-stream/metrics';

/*
 * The fanout relay's metrics. No label names a gid, a type's rows or a change: outcomes only.
 */

export const relayedRows = counter({
  name: 'asana_stream_fanout_rows_total',
  help: 'Outbox rows of committed relay transactions, by outcome: published (Kafka acknowledged, marked published), refused (Kafka refused it; tried again) or parked (refused for good; its gid waits).',
  labelNames: ['outcome'] as const,
});

export const relayBatchDuration = histogram({
  name: 'asana_stream_fanout_batch_duration_seconds',
  help: 'One relay transaction that claimed rows (claim, publish, mark, commit), by result: ok, or failed (it threw, or Kafka became unavailable part way).',
  labelNames: ['result'] as const,
  buckets: DURATION_BUCKETS_SECONDS,
});

export const relayFreshness = histogram({
  name: 'asana_stream_fanout_freshness_seconds',
  help: "Per published row, from its outbox created_at (the projector's transaction) until Kafka acknowledged it: the row's age when claimed, by Postgres' clock, plus the time from claim to acknowledgement, by the relay's.",
  buckets: FRESHNESS_BUCKETS_SECONDS,
});

export const endToEndFreshness = histogram({
  name: 'asana_stream_end_to_end_freshness_seconds',
  help: "Per published change that answers Asana events, from Asana's created_at of the earliest of them until Kafka acknowledged the change on its fanout topic: the row's event age when claimed (Postgres' clock against Asana's) plus claim to acknowledgement (the relay's). A repair counts from Asana's modified_at of the resource.",
  buckets: FRESHNESS_BUCKETS_SECONDS,
});

export const rowOutcomes = {
  published: relayedRows.labels('published'),
  refused: relayedRows.labels('refused'),
  parked: relayedRows.labels('parked'),
};
export const batchDurations = { ok: relayBatchDuration.labels('ok'), failed: relayBatchDuration.labels('failed') };

/** What the outbox holds that is not published yet, read from Postgres. */
export interface OutboxBacklog {
  /** Unpublished rows, parked ones included (as `asana-stream status` counts them). */
  unpublished: number;
  parked: number;
  /** Age of the oldest unpublished row that is not parked, in seconds; 0 when there is none. */
  oldestAgeSeconds: number;
}

let backlog: ScrapeCache<OutboxBacklog> | undefined;

/** Where the backlog gauges read from (the running relay's database), or nowhere (undefined). */
export function readBacklogFrom(read: (() => Promise<OutboxBacklog>) | undefined): void {
  backlog = read && new ScrapeCache(read, { maxAgeMs: 1000, timeoutMs: 2000 });
}

/** A gauge set at scrape time from the backlog (one read a second at most, a scrape waits 2 s at most). */
function backlogGauge(name: string, help: string, field: keyof OutboxBacklog): Gauge {
  return gauge({
    name,
    help,
    collect: safeCollect(async function (this: Gauge) {
      const current = await backlog?.get();
      if (current !== undefined) this.set(current[field]);
    }),
  });
}

export const unpublishedRows = backlogGauge(
  'asana_stream_fanout_unpublished_rows',
  'Outbox rows not published yet, parked rows included; the whole outbox, so every replica reports the same (read at scrape, at most once a second).',
  'unpublished',
);

export const parkedRows = backlogGauge(
  'asana_stream_fanout_parked_rows',
  'Outbox rows parked (refused for good): each holds back its gid until `asana-stream outbox redrive` or `discard`.',
  'parked',
);

export const oldestUnpublishedAge = backlogGauge(
  'asana_stream_fanout_oldest_unpublished_age_seconds',
  'Age of the oldest unpublished outbox row that is not parked (0 when none waits): how far behind the relay is.',
  'oldestAgeSeconds',
);
