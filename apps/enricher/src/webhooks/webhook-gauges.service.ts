import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { readWebhookHealthFrom, type WebhookHealthRow } from '../enricher-metrics';

/**
 * One statement over the active subscriptions (a handful). What ingest heard is its columns; what
 * Asana reported is the monitor's last `asana_health`. Ages by Postgres' clock, which wrote both.
 */
const WEBHOOK_HEALTH_SQL = /* sql */ `
  SELECT id::text AS subscription_id,
         GREATEST(extract(epoch FROM now() - GREATEST(created_at, last_delivery_at, last_heartbeat_at)), 0)::float8
           AS last_contact_age_seconds,
         CASE WHEN jsonb_typeof(asana_health -> 'last_success_at') = 'string'
              THEN GREATEST(extract(epoch FROM now() - (asana_health ->> 'last_success_at')::timestamptz), 0)::float8
         END AS last_success_age_seconds,
         failing_since IS NOT NULL AS failing
  FROM subscriptions WHERE status = 'active'
  ORDER BY id`;

/**
 * Lets the webhook gauges (`enricher-metrics.ts`) read the subscriptions while the app runs, with
 * EVENTS_FOLLOW on or off: ingest keeps the contact times either way.
 */
@Injectable()
export class WebhookGaugesService implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    readWebhookHealthFrom(() => this.read());
  }

  onModuleDestroy(): void {
    readWebhookHealthFrom(undefined);
  }

  async read(): Promise<WebhookHealthRow[]> {
    const rows = await this.dataSource.query<
      {
        subscription_id: string;
        last_contact_age_seconds: number;
        last_success_age_seconds: number | null;
        failing: boolean;
      }[]
    >(WEBHOOK_HEALTH_SQL);
    return rows.map((row) => ({
      subscriptionId: row.subscription_id,
      lastContactAgeSeconds: row.last_contact_age_seconds,
      lastSuccessAgeSeconds: row.last_success_age_seconds,
      failing: row.failing,
    }));
  }
}
