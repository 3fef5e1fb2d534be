import type { Counter } from 'prom-client';
import { counter, DURATION_BUCKETS_SECONDS, histogram } from '@asana-stream/metrics';
import type { ApplyOutcome } from './projection-plan';

/** What became of a state message: the projection's `ApplyOutcome`, or `rejected`. */
type Outcome = ApplyOutcome | 'rejected';
/** Every outcome, so a new `ApplyOutcome` fails to compile until it is listed. */
const OUTCOMES: Record<Outcome, true> = {
  applied: true,
  'applied-silently': true,
  apply: true,
  duplicate: true,
  stale: true,
  rejected: true,
};

export const appliedMessages = counter({
  name: 'asana_stream_projector_messages_total',
  help: "State messages of committed batches, by outcome: the projection's ApplyOutcome (applied, applied-silently, duplicate, stale) or rejected (left out, then dead-lettered).",
  labelNames: ['outcome'] as const,
});

export const batchApplyDuration = histogram({
  name: 'asana_stream_projector_batch_apply_duration_seconds',
  help: "One batch's Postgres transaction (lock and read, decide, write rows, outbox, commit), by result: committed or failed.",
  labelNames: ['result'] as const,
  buckets: DURATION_BUCKETS_SECONDS,
});

export const outboxRowsWritten = counter({
  name: 'asana_stream_projector_outbox_rows_total',
  help: 'Outbox rows (changes for the fanout) written by committed transactions.',
});

const byOutcome = Object.fromEntries(
  Object.keys(OUTCOMES).map((outcome) => [outcome, appliedMessages.labels(outcome)]),
) as Record<Outcome, Counter.Internal>;
export const applyDurations = {
  committed: batchApplyDuration.labels('committed'),
  failed: batchApplyDuration.labels('failed'),
};

/** Counts a committed batch's outcomes (one call per outcome present, not per message) and outbox rows. */
export function countApplied(outcomes: readonly ApplyOutcome[], rejected: number, outboxRows: number): void {
  const counts = new Map<Outcome, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  if (rejected > 0) counts.set('rejected', rejected);
  for (const [outcome, count] of counts) byOutcome[outcome].inc(count);
  if (outboxRows > 0) outboxRowsWritten.inc(outboxRows);
}
