import { counter, DURATION_BUCKETS_SECONDS, histogram } from '@asana-stream/metrics';
import type { RepairCause } from './resync/resync-plan';

/**
 * The enricher's own metrics, beside the consumer's and the process's: its requests to Asana, and
 * reconciliation (the Events API follower, resyncs, the webhook monitor). Labels are codes and
 * causes, never a gid.
 */
export const asanaRequests = counter({
  name: 'asana_stream_asana_requests_total',
  help: "Requests to Asana's API by purpose (enrich, events, resync, webhooks) and outcome: ok, or the error code (RATE_LIMITED, UNAVAILABLE, NOT_VISIBLE, REJECTED, UNAUTHORIZED, MALFORMED_RESPONSE, ABORTED).",
  labelNames: ['purpose', 'outcome'] as const,
});

export const asanaRequestDuration = histogram({
  name: 'asana_stream_asana_request_duration_seconds',
  help: "One request to Asana's API, from sending it to its answer (the wait for the budget not included), by purpose.",
  labelNames: ['purpose'] as const,
  buckets: DURATION_BUCKETS_SECONDS,
});

export const eventsApiEvents = counter({
  name: 'asana_stream_events_api_events_total',
  help: "Events read from Asana's Events API, by outcome: published (the projection lacked them: a webhook lost them or has not brought them yet) or reflected (already in Postgres).",
  labelNames: ['outcome'] as const,
});

export const eventStreamRestarts = counter({
  name: 'asana_stream_events_api_restarts_total',
  help: 'Event streams started over from a fresh sync token (a 412), by reason: first_read or expired. Each asks for a resync.',
  labelNames: ['reason'] as const,
});

export const repairs = counter({
  name: 'asana_stream_resync_repairs_total',
  help: 'Corrections a resync sent through the pipeline, by cause: missing (not in Postgres), stale (older there), vanished (no longer in Asana where Postgres has it).',
  labelNames: ['cause'] as const,
});

export const resyncRuns = counter({
  name: 'asana_stream_resyncs_total',
  help: 'Resync runs ended, by outcome: done, failed (tried again later), interrupted (shutdown), lease_lost.',
  labelNames: ['outcome'] as const,
});

export const webhookChecks = counter({
  name: 'asana_stream_webhook_checks_total',
  help: 'Webhooks looked up in Asana by the monitor, by verdict: healthy, failing, silent, deleted (by Asana), error (the lookup failed).',
  labelNames: ['verdict'] as const,
});

export const webhooksRecreated = counter({
  name: 'asana_stream_webhooks_recreated_total',
  help: 'Webhooks Asana deleted that the monitor created again, by outcome: created, or failed (tried again next round).',
  labelNames: ['outcome'] as const,
});

/** Adds a resync's repairs by cause. */
export function countRepairs(counts: Record<RepairCause, number>): void {
  for (const cause of Object.keys(counts) as RepairCause[])
    if (counts[cause] > 0) repairs.labels(cause).inc(counts[cause]);
}
