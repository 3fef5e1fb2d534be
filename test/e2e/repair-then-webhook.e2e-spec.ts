import type { TopicNames } from '@asana-stream/contracts';
import { createTestDatabase, createTestTopics, OtlpReceiver, waitFor, type TestDatabase } from '@asana-stream/testing';
import {
  comparableRows,
  createWebhook,
  expectedRows,
  pipelineStatus,
  projectedTasks,
  SimulatedAsana,
  simulatedProjectGids,
  simulatedTasks,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from './pipeline-harness';

jest.setTimeout(600_000);

/**
 * The Events API follower brings changes first (webhook deliveries wait 15 s in the simulator's
 * batching window, the follower polls every 200 ms); when the webhook delivers the same events
 * later, every stage takes them again and nothing changes downstream: no outbox row, no change.
 */
describe('a repair that a webhook delivers again later', () => {
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
      // Deliveries wait well past the repair's own deadline (12 s), even on a loaded machine.
      { SIM_DELIVERY_DELAY_MS: '15000' },
      { EVENTS_POLL_INTERVAL_MS: '200' },
    );
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await receiver?.stop();
    await db?.drop();
  });

  it('causes no extra change downstream', async () => {
    const p = pipeline!;
    const [project] = await simulatedProjectGids(p);
    await createWebhook(p, project);
    const quiet = await waitFor('the first resync done and the first deliveries in', async () => {
      const now = await pipelineStatus(p);
      const drained = now.enricherLag === 0 && now.projectorLag === 0 && now.outbox.unpublished === 0;
      return now.resync.oldestResyncAt !== null && now.resync.running === 0 && drained ? now : undefined;
    });

    const asana = new SimulatedAsana(`${p.simulator.url}/api/1.0`);
    const changingFrom = Date.now();
    for (let n = 0; n < 3; n++) {
      const { gid } = await asana.call<{ gid: string }>('POST', '/tasks', { name: `Task ${n}`, projects: [project] });
      await asana.call('PUT', `/tasks/${gid}`, { name: `Task ${n} (renamed)` });
    }
    const want = JSON.stringify(expectedRows(await simulatedTasks(p)));
    // Through the Events API, before any webhook delivery of these changes.
    const repaired = await waitFor(
      'Postgres to equal the simulator through the Events API',
      async () => {
        if (JSON.stringify(comparableRows(await projectedTasks(db))) !== want) return undefined;
        const now = await pipelineStatus(p);
        return now.outbox.unpublished === 0 ? now : undefined;
      },
      { timeoutMs: 12_000, intervalMs: 100 },
    );
    // Before the first change's delivery was due: the webhook had delivered none of them yet.
    expect(Date.now() - changingFrom).toBeLessThan(15_000);
    expect(repaired.deliveries).toBe(quiet.deliveries);
    expect(repaired.eventsApi.eventsPublished).toBeGreaterThan(quiet.eventsApi.eventsPublished);

    // The webhook delivers the same changes: taken, enriched and projected again, changing nothing.
    const after = await waitFor(
      'the webhook deliveries through every stage',
      async () => {
        const now = await pipelineStatus(p);
        const drained = now.enricherLag === 0 && now.projectorLag === 0 && now.outbox.unpublished === 0;
        return drained && now.deliveries > repaired.deliveries && now.events > repaired.events ? now : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 200 },
    );
    expect(after.outbox.total).toBe(repaired.outbox.total);
    expect(after.changes).toBe(repaired.changes);
    expect(JSON.stringify(comparableRows(await projectedTasks(db)))).toBe(want);
  });
});
