import { readFileSync } from 'node:fs';
import type { TopicNames } from '@asana-stream/contracts';
import { parseExposition, sumOf } from '@asana-stream/metrics';
import { createTestDatabase, createTestTopics, OtlpReceiver, waitFor, type TestDatabase } from '@asana-stream/testing';
import {
  comparableRows,
  createWebhook,
  expectedRows,
  pipelineStatus,
  projectedTasks,
  queryDatabase,
  simulatedProjectGids,
  simulatedTasks,
  SIM_TOKEN,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from './pipeline-harness';

jest.setTimeout(600_000);

interface SubscriptionRow {
  id: string;
  webhook_gid: string | null;
  status: string;
  deleted_reason: string | null;
  replaced_by: string | null;
}

/**
 * Asana deletes a webhook whose deliveries failed for its whole retry window (24 hours; 3 s on the
 * simulator's fast clock here). With ingest down that long, the enricher's webhook monitor finds
 * the webhook gone, creates it again once ingest answers the handshake, and resyncs the project
 * for what was lost meanwhile: Postgres ends equal to the simulator.
 */
describe('a webhook Asana deleted after its deliveries kept failing', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let receiver: OtlpReceiver;
  let pipeline: Pipeline | undefined;

  beforeAll(async () => {
    [db, names, receiver] = await Promise.all([createTestDatabase(), createTestTopics(), new OtlpReceiver().start()]);
    pipeline = await startPipeline(
      db,
      names,
      receiver,
      { SIM_RETRY_BASE_MS: '100', SIM_RETRY_MAX_MS: '300', SIM_RETRY_WINDOW_MS: '3000', SIM_RANDOM_SEED: '7' },
      { EVENTS_POLL_INTERVAL_MS: '500', WEBHOOK_CHECK_INTERVAL_MS: '500' },
    );
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await receiver?.stop();
    await db?.drop();
  });

  const subscriptions = () =>
    queryDatabase<SubscriptionRow>(
      db,
      /* sql */ `SELECT id, webhook_gid, status, deleted_reason, replaced_by FROM subscriptions ORDER BY created_at`,
    );

  async function traffic(changes: number): Promise<void> {
    const started = await fetch(`${pipeline!.simulator.url}/_sim/traffic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ changes, ratePerSecond: 40 }),
    });
    const { data: run } = (await started.json()) as { data: { id: string } };
    await waitFor('the traffic run to finish', async () => {
      const response = await fetch(`${pipeline!.simulator.url}/_sim/traffic/${run.id}`);
      return ((await response.json()) as { data: { status: string } }).data.status === 'finished';
    });
  }

  it('is created again through ingest, its project resynced, and Postgres ends equal to the simulator', async () => {
    const p = pipeline!;
    const projects = await simulatedProjectGids(p);
    for (const project of projects) expect((await createWebhook(p, project)).subscription.status).toBe('active');
    const original = await subscriptions();
    await traffic(20);

    // Ingest goes away for longer than Asana's retry window: every delivery fails until Asana
    // gives up and deletes the webhooks.
    await p.ingest.stop();
    await traffic(30);
    await waitFor(
      'Asana to delete every webhook',
      async () => {
        const response = await fetch(`${p.simulator.url}/_sim/deliveries`);
        const { data } = (await response.json()) as { data: { counts: { webhooks_expired: number } } };
        return data.counts.webhooks_expired >= projects.length;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await p.ingest.start();

    // The monitor finds each webhook gone and makes a new one (its handshake through ingest).
    const after = await waitFor(
      'every deleted webhook replaced',
      async () => {
        const rows = await subscriptions();
        const replaced = original.map((o) => rows.find((r) => r.id === o.id)!);
        return replaced.every((r) => r.status === 'deleted' && r.replaced_by !== null) ? rows : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // Attempts made while ingest could not answer Asana's handshake ended as deleted subscriptions;
    // nothing is left pending, and each old subscription names the one that replaced it.
    const replacements = after.filter((r) => r.status === 'active');
    expect(replacements).toHaveLength(projects.length);
    expect(after.filter((r) => r.status === 'pending_handshake')).toEqual([]);
    for (const row of replacements) expect(row.webhook_gid).toEqual(expect.any(String));
    expect(original.map((o) => after.find((r) => r.id === o.id)!.replaced_by).sort()).toEqual(
      replacements.map((r) => r.id).sort(),
    );
    for (const row of after.filter((r) => original.some((o) => o.id === r.id))) {
      expect(row.deleted_reason).toBe('deleted by Asana');
    }
    // Asana has the new webhooks.
    for (const row of replacements) {
      const response = await fetch(`${p.simulator.url}/api/1.0/webhooks/${row.webhook_gid}`, {
        headers: { authorization: `Bearer ${SIM_TOKEN}` },
      });
      expect(response.status).toBe(200);
    }

    // New changes arrive through the new webhooks, and what was lost is repaired.
    await traffic(20);
    const sim = await simulatedTasks(p);
    const visible = <R extends { gid: string; deleted: boolean }>(rows: R[]) =>
      rows.map((row) => (row.deleted ? { gid: row.gid, deleted: true } : row));
    const want = JSON.stringify(visible(expectedRows(sim)));
    await waitFor(
      'Postgres to equal the simulator',
      async () => JSON.stringify(visible(comparableRows(await projectedTasks(db)))) === want,
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const delivered = await queryDatabase<{ n: string }>(
      db,
      /* sql */ `SELECT count(*) AS n FROM subscriptions WHERE last_delivery_at IS NOT NULL AND id IN (${replacements
        .map((r) => `'${r.id}'`)
        .join(',')})`,
    );
    expect(Number(delivered[0].n)).toBeGreaterThan(0);

    // The enricher resynced each project because its webhook was deleted.
    const reasons = readFileSync(p.enricher.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"resync started"'))
      .map((line) => (JSON.parse(line) as { message: { reason: string } }).message.reason);
    for (const row of original) {
      expect(reasons).toContainEqual(
        `Asana deleted the webhook ${row.webhook_gid}: events since its last delivery may be lost`,
      );
    }
    const status = await pipelineStatus(p);
    expect(status.resync.running).toBe(0);
    // The enricher's metrics say the same: webhooks found deleted, each created again once.
    const metrics = parseExposition(await (await fetch(`${p.enricher.url}/metrics`)).text());
    expect(sumOf(metrics, 'asana_stream_webhooks_recreated_total', { outcome: 'created' })).toBe(projects.length);
    expect(sumOf(metrics, 'asana_stream_webhook_checks_total', { verdict: 'deleted' })).toBeGreaterThanOrEqual(
      projects.length,
    );
  });
});
