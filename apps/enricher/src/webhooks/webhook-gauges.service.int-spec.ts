import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDataSource } from '@asana-stream/db';
import { metricsRegistry } from '@asana-stream/metrics';
import { createTestDatabase, waitFor, type TestDatabase } from '@asana-stream/testing';
import { WebhookGaugesService } from './webhook-gauges.service';

const HOUR_S = 3600;

/** The gauge's samples as the registry serves them (its collect runs), by subscription id. */
async function samples(name: string): Promise<Record<string, number>> {
  const metric = metricsRegistry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  return Object.fromEntries(values.map((sample) => [String(sample.labels.subscription_id), sample.value]));
}

describe("the enricher's webhook gauges, read from the subscriptions in Postgres", () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let gauges: WebhookGaugesService;

  async function insertSubscription(fields: {
    status?: string;
    createdHoursAgo: number;
    deliveryHoursAgo?: number;
    heartbeatHoursAgo?: number;
    asanaHealth?: unknown;
    failing?: boolean;
  }): Promise<string> {
    const id = randomUUID();
    const ago = (hours: number | undefined) =>
      hours === undefined ? null : new Date(Date.now() - hours * HOUR_S * 1000);
    await dataSource.query(
      /* sql */ `INSERT INTO subscriptions (id, webhook_gid, resource_gid, target_url, secret, status, created_at,
         last_delivery_at, last_heartbeat_at, asana_health, failing_since)
       VALUES ($1::uuid, $2, '1200000000000001', 'http://ingest/webhooks/asana/' || $1::text, 's3cret', $3, $4, $5, $6, $7::jsonb, $8)`,
      [
        id,
        String(1300000000000000 + Math.floor(Math.random() * 1e9)),
        fields.status ?? 'active',
        ago(fields.createdHoursAgo),
        ago(fields.deliveryHoursAgo),
        ago(fields.heartbeatHoursAgo),
        fields.asanaHealth === undefined ? null : JSON.stringify(fields.asanaHealth),
        fields.failing ? new Date() : null,
      ],
    );
    return id;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = createDataSource(db.url, 2);
    await dataSource.initialize();
    gauges = new WebhookGaugesService(dataSource);
    gauges.onApplicationBootstrap();
  });

  afterAll(async () => {
    gauges?.onModuleDestroy();
    await dataSource?.destroy();
    await db?.drop();
  });

  it("gauges each active subscription's last contact, Asana's last success and failing, and leaves ended ones out", async () => {
    const quiet = await insertSubscription({
      createdHoursAgo: 48,
      deliveryHoursAgo: 10,
      heartbeatHoursAgo: 9.5,
      asanaHealth: { active: true, last_success_at: new Date(Date.now() - 9.5 * HOUR_S * 1000).toISOString() },
    });
    const busy = await insertSubscription({
      createdHoursAgo: 2,
      deliveryHoursAgo: 0,
      asanaHealth: { active: true, last_success_at: null, delivery_retry_count: 3 },
      failing: true,
    });
    const fresh = await insertSubscription({ createdHoursAgo: 1 });
    const ended = await insertSubscription({ status: 'deleted', createdHoursAgo: 100 });

    const contact = await samples('asana_stream_webhook_last_contact_age_seconds');
    const success = await samples('asana_stream_webhook_last_success_age_seconds');
    const failing = await samples('asana_stream_webhook_failing');

    expect(Object.keys(contact).sort()).toEqual([quiet, busy, fresh].sort());
    expect(contact[quiet]).toBeCloseTo(9.5 * HOUR_S, -1); // the heartbeat, later than the last delivery
    expect(contact[busy]).toBeLessThan(60);
    expect(contact[fresh]).toBeCloseTo(HOUR_S, -1); // never heard from: since it was made
    expect(success).toEqual({ [quiet]: expect.closeTo(9.5 * HOUR_S, -1) });
    expect(failing).toEqual({ [quiet]: 0, [busy]: 1, [fresh]: 0 });
    expect(contact[ended]).toBeUndefined();
  });

  it('gauges a subscription made since, and drops its series once it ends (the read is cached for a second)', async () => {
    const id = await insertSubscription({ createdHoursAgo: 1 });
    await waitFor('the new subscription to be gauged', async () =>
      id in (await samples('asana_stream_webhook_failing')) ? true : undefined,
    );

    await dataSource.query(/* sql */ `UPDATE subscriptions SET status = 'deleted' WHERE id = $1`, [id]);

    await waitFor('the ended subscription to leave the gauge', async () =>
      id in (await samples('asana_stream_webhook_failing')) ? undefined : true,
    );
  });
});
