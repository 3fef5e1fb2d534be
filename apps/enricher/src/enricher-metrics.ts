import type { Gauge } from 'prom-client';
import { counter, DURATION_BUCKETS_SECONDS, gauge, histogram, safeCollect, ScrapeCache } from '@asana-stream/metrics';
import type { RepairCause } from './resync/resync-plan';

/**
 * The enricher's own metrics, beside the consumer's and the process's: its requests to Asana, and
 * reconciliation (the Events API follower, resyncs, the webhook monitor). Labels are codes and
 * causes, never a gid.
 */
export const asanaRequests = counter({
  name: 'asana_stream_asana_requests_total',
  help: "Requests to Asana's API by purpose (enrich, events, resync, sweep, webhooks) and outcome: ok, or the error code (RATE_LIMITED, UNAVAILABLE, NOT_VISIBLE, REJECTED, UNAUTHORIZED, MALFORMED_RESPONSE, ABORTED).",
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
  help: 'Resync runs ended, by outcome: done, skipped (a resource type with no resync), failed (tried again later), interrupted (shutdown), lease_lost.',
  labelNames: ['outcome'] as const,
});

export const sweepRuns = counter({
  name: 'asana_stream_resync_sweeps_total',
  help: 'Light sweeps (the tasks Asana modified since the last sweep) ended, by outcome: done, skipped (a resource type with no light sweep), failed (tried again later), interrupted (shutdown), lease_lost.',
  labelNames: ['outcome'] as const,
});

/** How complete the projection is known to be, read from Postgres (see `ReconcileGaugesService`). */
export interface Completeness {
  /** Seconds since the least recently swept watched resource's last light sweep ended (or it was first followed). */
  lightSweepAgeSeconds: number;
  /** The same for full resyncs. */
  fullSweepAgeSeconds: number;
  /** Divergences found and not yet reflected by the projection. */
  openDivergences: number;
  /** Seconds since the oldest of those was found; 0 when none is open. */
  oldestDivergenceAgeSeconds: number;
}

let completeness: ScrapeCache<Completeness> | undefined;

/** Where the completeness gauges read from (the running enricher's database), or nowhere (undefined). */
export function readCompletenessFrom(read: (() => Promise<Completeness>) | undefined): void {
  completeness = read && new ScrapeCache(read, { maxAgeMs: 1000, timeoutMs: 2000 });
}

export const lastSweepAge = gauge({
  name: 'asana_stream_resync_last_success_age_seconds',
  help: 'Over the watched resources, seconds since the one swept least recently was last swept successfully (or first followed), by kind: light (RESYNC_SWEEP_INTERVAL_MS) or full (RESYNC_FULL_INTERVAL_MS). The same on every replica: aggregate with max. Per resource: asana-stream status --json.',
  labelNames: ['kind'] as const,
  collect: safeCollect(async function (this: Gauge<'kind'>) {
    const current = await completeness?.get();
    if (current === undefined) return;
    this.set({ kind: 'light' }, current.lightSweepAgeSeconds);
    this.set({ kind: 'full' }, current.fullSweepAgeSeconds);
  }),
});

export const openDivergences = gauge({
  name: 'asana_stream_divergences_open',
  help: 'Resources a sweep, a resync or the Events API follower found Postgres behind Asana on, that the projection does not reflect yet.',
  collect: safeCollect(async function (this: Gauge) {
    const current = await completeness?.get();
    if (current !== undefined) this.set(current.openDivergences);
  }),
});

export const oldestDivergenceAge = gauge({
  name: 'asana_stream_divergence_oldest_age_seconds',
  help: 'Seconds since the oldest open divergence was found (0 when none): how long Postgres has been known to be behind Asana. The same on every replica: aggregate with max.',
  collect: safeCollect(async function (this: Gauge) {
    const current = await completeness?.get();
    if (current !== undefined) this.set(current.oldestDivergenceAgeSeconds);
  }),
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

export const asanaBudgetRemaining = gauge({
  name: 'asana_stream_asana_budget_remaining_requests',
  help: "Requests left in the current window of the Asana budget (ASANA_REQUESTS_PER_MINUTE: the token's, shared by every replica through Postgres) as this replica's last request found it; 0 while spent.",
});

export const asanaBudgetExhausted = counter({
  name: 'asana_stream_asana_budget_exhausted_total',
  help: "Requests to Asana's API that found the budget's window spent and waited for the next one.",
});

/** Keeps the budget metrics up to date (AsanaRequestPacer's onBudget); never throws. */
export function recordBudget(remaining: number, exhausted: boolean): void {
  try {
    asanaBudgetRemaining.set(remaining);
    if (exhausted) asanaBudgetExhausted.inc();
  } catch {
    // A metric never fails a request.
  }
}

/** One active subscription's webhook, as Postgres holds it. */
export interface WebhookHealthRow {
  subscriptionId: string;
  /** Seconds since ingest last heard from Asana on it (a delivery or a heartbeat), or since it was made. */
  lastContactAgeSeconds: number;
  /** Seconds since the last delivery Asana reports succeeded (the monitor's last look); null before one. */
  lastSuccessAgeSeconds: number | null;
  /** Whether the monitor found Asana retrying or failing its deliveries. */
  failing: boolean;
}

let webhookHealth: ScrapeCache<WebhookHealthRow[]> | undefined;

/** Where the webhook gauges read from (the running enricher's database), or nowhere (undefined). */
export function readWebhookHealthFrom(read: (() => Promise<WebhookHealthRow[]>) | undefined): void {
  webhookHealth = read && new ScrapeCache(read, { maxAgeMs: 1000, timeoutMs: 2000 });
}

/**
 * A gauge per active subscription, set at scrape time from Postgres (one read a second at most):
 * the series of a subscription that ended go with it. A failed read keeps the last values.
 */
function webhookGauge(name: string, help: string, value: (row: WebhookHealthRow) => number | null) {
  return gauge({
    name,
    help,
    labelNames: ['subscription_id'] as const,
    collect: safeCollect(async function (this: Gauge<'subscription_id'>) {
      const rows = await webhookHealth?.get();
      if (rows === undefined) return;
      this.reset();
      for (const row of rows) {
        const current = value(row);
        if (current !== null) this.set({ subscription_id: row.subscriptionId }, current);
      }
    }),
  });
}

export const webhookLastContactAge = webhookGauge(
  'asana_stream_webhook_last_contact_age_seconds',
  'Per active subscription: seconds since ingest last heard from Asana on it (a delivery or a heartbeat, which Asana sends every 8 hours), or since it was made. Every replica reports every subscription: aggregate with min.',
  (row) => row.lastContactAgeSeconds,
);

export const webhookLastSuccessAge = webhookGauge(
  'asana_stream_webhook_last_success_age_seconds',
  "Per active subscription: seconds since the webhook's last successful delivery as Asana reported it to the monitor's last check (WEBHOOK_CHECK_INTERVAL_MS); absent before one.",
  (row) => row.lastSuccessAgeSeconds,
);

export const webhookFailing = webhookGauge(
  'asana_stream_webhook_failing',
  "Per active subscription: 1 while the monitor's last check found Asana retrying or failing the webhook's deliveries, else 0.",
  (row) => (row.failing ? 1 : 0),
);

/** Adds a resync's repairs by cause. */
export function countRepairs(counts: Record<RepairCause, number>): void {
  for (const cause of Object.keys(counts) as RepairCause[])
    if (counts[cause] > 0) repairs.labels(cause).inc(counts[cause]);
}
