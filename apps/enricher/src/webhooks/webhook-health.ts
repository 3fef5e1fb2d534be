import type { AsanaWebhook } from '@asana-stream/asana';

/** Asana calls every webhook at least this often (a heartbeat when nothing happened). */
export const ASANA_HEARTBEAT_INTERVAL_MS = 8 * 60 * 60 * 1000;
/** Silence tolerated beyond it before the resource is resynced. */
export const SILENCE_MARGIN_MS = 60 * 60 * 1000;

/** What a subscription knew before this check. */
export interface KnownSubscription {
  createdAt: Date;
  lastDeliveryAt: Date | null;
  lastHeartbeatAt: Date | null;
  failingSince: Date | null;
  silentSince: Date | null;
}

/** What one check of a webhook found, and what to do about it. */
export interface HealthVerdict {
  /** Asana reports failed deliveries it is still retrying (or failed since its last success). */
  failing: boolean;
  /** Nothing (no delivery, no heartbeat) reached ingest for longer than Asana's heartbeat allows. */
  silent: boolean;
  /** A failure or a silence started with this check: the resource is resynced once for it. */
  resyncReason: string | null;
}

/**
 * Judges a webhook Asana still has (`GET /webhooks/{gid}`) against what ingest heard: failing
 * when Asana has deliveries to retry or failed after its last success; silent when neither a
 * delivery nor a heartbeat arrived for longer than Asana's 8-hour heartbeat plus an hour. Each
 * start of either calls for one resync, since events may be lost meanwhile.
 */
export function judgeWebhook(webhook: AsanaWebhook, known: KnownSubscription, now: Date): HealthVerdict {
  const lastSuccess = webhook.last_success_at ? Date.parse(webhook.last_success_at) : null;
  const lastFailure = webhook.last_failure_at ? Date.parse(webhook.last_failure_at) : null;
  const failing =
    (webhook.delivery_retry_count ?? 0) > 0 ||
    (lastFailure !== null && (lastSuccess === null || lastFailure > lastSuccess));
  const heard = Math.max(
    known.createdAt.getTime(),
    known.lastDeliveryAt?.getTime() ?? 0,
    known.lastHeartbeatAt?.getTime() ?? 0,
  );
  const silent = now.getTime() - heard > ASANA_HEARTBEAT_INTERVAL_MS + SILENCE_MARGIN_MS;
  let resyncReason: string | null = null;
  if (failing && known.failingSince === null) {
    const why = webhook.last_failure_content ? `: ${webhook.last_failure_content.slice(0, 200)}` : '';
    resyncReason = `Asana reports the webhook failing (${webhook.delivery_retry_count ?? 0} retries pending)${why}`;
  } else if (silent && known.silentSince === null) {
    resyncReason = `no delivery or heartbeat from the webhook since ${new Date(heard).toISOString()}`;
  }
  return { failing, silent, resyncReason };
}

/** The part of Asana's webhook kept as its health (no target, no filters). */
export function reportedHealth(webhook: AsanaWebhook) {
  return {
    active: webhook.active,
    last_success_at: webhook.last_success_at,
    last_failure_at: webhook.last_failure_at,
    last_failure_content: webhook.last_failure_content?.slice(0, 500) ?? null,
    delivery_retry_count: webhook.delivery_retry_count,
    next_attempt_after: webhook.next_attempt_after,
    failure_deletion_timestamp: webhook.failure_deletion_timestamp,
  };
}
