import { changeTopic, TOPICS, type AsanaEventEnvelope, type TopicNames } from '@asana-stream/contracts';
import { parseExposition, sumOf } from '@asana-stream/metrics';
import {
  createTestDatabase,
  createTestTopics,
  OtlpReceiver,
  testKafka,
  totalEndOffset,
  TopicRecorder,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import {
  changesInOrderByGid,
  createWebhook,
  pipelineStatus,
  projectedTasks,
  queryDatabase,
  simulatedProjectGids,
  simulatedTasks,
  startPipeline,
  stopPipeline,
  type Pipeline,
  type ProjectedTask,
  type SimulatedTask,
} from './pipeline-harness';

jest.setTimeout(600_000);

/**
 * The simulator's fast clock: a light sweep every 2 s stands for Asana-scale 15 minutes, so the
 * 24 s the webhooks stay silent below stand for a three-hour outage (Asana's incidents lost 8 to 17
 * hours of events at a time). Full resyncs come every minute instead of every day.
 */
const SWEEP_MS = 2_000;
const OUTAGE_MS = 24_000;

/**
 * Asana loses webhook deliveries: 10 % of them throughout, and every one for a multi-hour outage.
 * The Events API is read only hourly here, as if it had lost the same hours (its infrastructure is
 * the webhooks'), so what comes back comes back through reconciliation alone: light sweeps for
 * what was changed, the full resync for what was deleted. Nobody asks for anything: Postgres must
 * converge on its own, each repair reaching downstream once and in order.
 */
describe('the pipeline through a multi-hour webhook outage, reconciled by sweeps alone', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let receiver: OtlpReceiver;
  let pipeline: Pipeline | undefined;
  let recorder: TopicRecorder;

  const taskTopic = () => names.physical(changeTopic('task').name);
  const eventsTopic = () => names.physical(TOPICS.events.name);

  beforeAll(async () => {
    [db, names, receiver] = await Promise.all([createTestDatabase(), createTestTopics(), new OtlpReceiver().start()]);
    pipeline = await startPipeline(
      db,
      names,
      receiver,
      { SIM_FAULT_DROP_RATE: '0.1', SIM_RANDOM_SEED: '23' },
      {
        EVENTS_POLL_INTERVAL_MS: '3600000',
        RESYNC_SWEEP_INTERVAL_MS: String(SWEEP_MS),
        RESYNC_FULL_INTERVAL_MS: '60000',
      },
    );
    recorder = await new TopicRecorder([taskTopic(), eventsTopic()]).start();
    const projects = await simulatedProjectGids(pipeline);
    for (const projectGid of projects) {
      expect((await createWebhook(pipeline, projectGid)).subscription.status).toBe('active');
    }
    // Each project's first read of the Events API (a 412) asks for its first full resync, from
    // which the light sweeps go on.
    await waitFor('a first full resync of every project', async () => {
      const rows = await queryDatabase<{ n: number }>(
        db,
        /* sql */ `SELECT count(*)::int AS n FROM event_streams WHERE swept_through IS NOT NULL`,
      );
      return rows[0].n === projects.length;
    });
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await recorder?.stop();
    await receiver?.stop();
    await db?.drop();
  });

  async function traffic(changes: number, ratePerSecond: number): Promise<void> {
    const started = await fetch(`${pipeline!.simulator.url}/_sim/traffic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ changes, ratePerSecond }),
    });
    const { data: run } = (await started.json()) as { data: { id: string } };
    await waitFor(
      'the traffic run to finish',
      async () => {
        const response = await fetch(`${pipeline!.simulator.url}/_sim/traffic/${run.id}`);
        return ((await response.json()) as { data: { status: string } }).data.status === 'finished';
      },
      { timeoutMs: 60_000 },
    );
  }

  async function setDropRate(drop: number): Promise<{ dropped: number }> {
    const response = await fetch(`${pipeline!.simulator.url}/_sim/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ drop }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { data: { dropped: number } }).data;
  }

  it('converges on the simulator: every live task as Asana has it, every deleted one gone', async () => {
    await traffic(40, 10);
    const before = await setDropRate(1);
    const outageEnds = Date.now() + OUTAGE_MS;
    await traffic(60, 5);
    await new Promise((done) => setTimeout(done, Math.max(0, outageEnds - Date.now())));
    const during = await setDropRate(0.1);
    // Every delivery of the outage was lost (each carries one or a few of its 60 changes).
    expect(during.dropped - before.dropped).toBeGreaterThanOrEqual(20);
    await traffic(20, 10);

    const sim = await simulatedTasks(pipeline!);
    expect(sim.some((task) => task.deleted)).toBe(true);
    // A task created and deleted while nothing was delivered never reaches Postgres (Asana lists
    // no trashed task, and Postgres never held it live): absent and deleted are the same there.
    const want = JSON.stringify(comparable(sim));
    await waitFor(
      'Postgres to equal the simulator',
      async () => JSON.stringify(comparable(await projectedTasks(db))) === want,
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
  });

  it('reached the changes topic with each repair once, in per-gid order, and counted repairs by cause', async () => {
    const p = pipeline!;
    const status = await waitFor(
      'the pipeline to drain and every divergence to be resolved',
      async () => {
        const now = await pipelineStatus(p);
        return now.enricherLag === 0 &&
          now.projectorLag === 0 &&
          now.outbox.unpublished === 0 &&
          now.resync.openDivergences === 0
          ? now
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(status.resync.oldestDivergenceAgeSeconds).toBe(0);
    // Reconciliation did it: the Events API published nothing after its first read.
    expect(status.eventsApi.eventsPublished).toBe(0);
    for (const resource of status.resync.resources) {
      expect(resource).toMatchObject({ lastSweepAt: expect.any(String), lastFullResyncAt: expect.any(String) });
    }

    const published = await totalEndOffset(testKafka(), [taskTopic()]);
    const changes = () => recorder.messages.filter((m) => m.topic === taskTopic());
    await waitFor(`${published} changes recorded`, () => changes().length >= published);
    // One partition per gid, versions strictly increasing: no repair reached downstream twice,
    // however many sweeps sent it again before Postgres caught up.
    const byGid = changesInOrderByGid(changes());
    const repairs = recorder.messages
      .filter((m) => m.topic === eventsTopic())
      .map((m) => m.value as AsanaEventEnvelope)
      .filter((e) => e.source === 'resync' && e.event.resource.resource_type === 'task');
    expect(repairs.length).toBeGreaterThan(0);
    const projected = new Map((await projectedTasks(db)).map((row) => [row.gid, row]));
    for (const repair of repairs) {
      const { gid } = repair.event.resource;
      const downstream = byGid.get(gid) ?? [];
      const at = Date.parse(repair.event.created_at);
      // Each repair's version (or a newer one, when Asana changed it again) reached downstream, or
      // changed nothing downstream teams see (a comment bumps a task's modified_at only): then the
      // projector took it silently, and Postgres holds it.
      const reached =
        downstream.some((change) => change.version >= at || change.action === 'deleted') ||
        Number(projected.get(gid)?.version ?? 0) >= at;
      expect({ repair: repair.event, reached }).toEqual({
        repair: repair.event,
        reached: true,
        ...(reached ? {} : { downstream: downstream.map(({ action, version }) => ({ action, version })) }),
      });
      expect(downstream.filter((change) => change.version === at).length).toBeLessThanOrEqual(1);
    }

    // Repairs by cause, the same in the enricher's metrics, Postgres and `status`.
    const metrics = parseExposition(await (await fetch(`${p.enricher.url}/metrics`)).text());
    const byCause = Object.fromEntries(
      (['missing', 'stale', 'vanished'] as const).map((cause) => [
        cause,
        sumOf(metrics, 'asana_stream_resync_repairs_total', { cause }),
      ]),
    );
    expect(byCause).toEqual(status.resync.repairs);
    expect(byCause.missing + byCause.stale).toBeGreaterThan(0);
    expect(sumOf(metrics, 'asana_stream_resync_sweeps_total', { outcome: 'done' })).toBeGreaterThan(
      OUTAGE_MS / SWEEP_MS,
    );
    expect(sumOf(metrics, 'asana_stream_divergence_oldest_age_seconds', {})).toBe(0);
  });
});

/** Live tasks as comparable rows, by gid; a deleted or absent task is not in them. */
function comparable(rows: (ProjectedTask | SimulatedTask)[]) {
  return rows
    .filter((row) => !row.deleted)
    .map((row) => ({
      gid: row.gid,
      name: row.name,
      completed: row.completed,
      assignee: 'assignee_gid' in row ? row.assignee_gid : (row.assignee?.gid ?? null),
    }))
    .sort((a, b) => a.gid.localeCompare(b.gid));
}
