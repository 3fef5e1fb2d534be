import type { DataSource } from 'typeorm';
import type { WebhookFilter } from '@asana-stream/db';
import type { KnownSubscription } from './webhook-health';

export interface CheckedSubscription extends KnownSubscription {
  id: string;
  webhookGid: string;
  resourceGid: string;
  /** What the webhook watches; null until learnt from Asana (a subscription made before it was kept). */
  resourceType: string | null;
  /** The filters its webhook was created with (null: none), for making it again. */
  filters: WebhookFilter[] | null;
}

/** `subscriptions` as the webhook monitor reads and marks them (migration WebhookHealth1764806400000). */
export class WebhookMonitorRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The active subscriptions whose webhook is due a check, stamped as checked now so that other
   * replicas pass them by (`FOR UPDATE SKIP LOCKED`): each is checked by one replica per interval.
   */
  async claimDue(intervalMs: number, limit: number): Promise<CheckedSubscription[]> {
    const [rows] = await this.dataSource.query<
      [
        {
          id: string;
          webhook_gid: string;
          resource_gid: string;
          resource_type: string | null;
          filters: WebhookFilter[] | null;
          created_at: Date;
          last_delivery_at: Date | null;
          last_heartbeat_at: Date | null;
          failing_since: Date | null;
          silent_since: Date | null;
        }[],
        number,
      ]
    >(
      /* sql */ `
      UPDATE subscriptions s SET health_checked_at = now()
      WHERE s.id IN (
        SELECT id FROM subscriptions
        WHERE status = 'active' AND webhook_gid IS NOT NULL
          AND (health_checked_at IS NULL OR health_checked_at < now() - make_interval(secs => $1::double precision / 1000))
        ORDER BY health_checked_at NULLS FIRST
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
      RETURNING s.id, s.webhook_gid, s.resource_gid, s.resource_type, s.filters, s.created_at, s.last_delivery_at, s.last_heartbeat_at,
                s.failing_since, s.silent_since`,
      [intervalMs, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      webhookGid: row.webhook_gid,
      resourceGid: row.resource_gid,
      resourceType: row.resource_type,
      filters: row.filters,
      createdAt: row.created_at,
      lastDeliveryAt: row.last_delivery_at,
      lastHeartbeatAt: row.last_heartbeat_at,
      failingSince: row.failing_since,
      silentSince: row.silent_since,
    }));
  }

  /** Keeps what Asana reported and whether the webhook is failing or silent (since when). */
  async recordHealth(id: string, health: unknown, failing: boolean, silent: boolean): Promise<void> {
    await this.dataSource.query(
      /* sql */ `
      UPDATE subscriptions SET asana_health = $2::jsonb,
        failing_since = CASE WHEN $3 THEN COALESCE(failing_since, now()) END,
        silent_since = CASE WHEN $4 THEN COALESCE(silent_since, now()) END
      WHERE id = $1`,
      [id, JSON.stringify(health), failing, silent],
    );
  }

  /**
   * Fills in what a subscription's webhook watches, as Asana reports it, where it was not kept
   * (subscriptions made before it was): the resync needs it to know how to list the resource.
   */
  async rememberResourceType(id: string, resourceType: string): Promise<void> {
    await this.dataSource.query(
      /* sql */ `UPDATE subscriptions SET resource_type = $2 WHERE id = $1 AND resource_type IS NULL`,
      [id, resourceType],
    );
  }

  /** Asana deleted the webhook; a new one could not be made yet (the next check tries again). */
  async recordDeletedByAsana(id: string, error: string): Promise<void> {
    await this.dataSource.query(
      /* sql */ `UPDATE subscriptions SET asana_health = jsonb_build_object('deleted_by_asana', true, 'recreate_error', $2::text)
        WHERE id = $1`,
      [id, error],
    );
  }

  /** The subscription of a webhook Asana deleted ends, replaced by the new one. */
  async replace(id: string, replacedBy: string): Promise<void> {
    await this.dataSource.query(
      /* sql */ `UPDATE subscriptions SET status = 'deleted', deleted_reason = 'deleted by Asana', replaced_by = $2,
        asana_health = jsonb_build_object('deleted_by_asana', true)
        WHERE id = $1`,
      [id, replacedBy],
    );
  }
}
