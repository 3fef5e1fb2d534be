import { Client } from 'pg';
import { changeTopic, type TopicNames } from '@asana-stream/contracts';
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
  comparableRows,
  expectedRows,
  pipelineStatus,
  projectedTasks,
  createWebhook,
  simulatedProjectGids,
  simulatedTasks,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from './pipeline-harness';

jest.setTimeout(600_000);

const CHANGES = 150;

/**
 * Asana's webhooks lose, duplicate and reorder deliveries. Here the simulator drops, duplicates and
 * holds back a share of its deliveries while random changes run, and the pipeline must still
 * converge on Asana's state, in order: what the webhooks lost, the enricher reads back from the
 * Events API.
 */
describe('the pipeline under lost, duplicated and reordered webhook deliveries', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let receiver: OtlpReceiver;
  let pipeline: Pipeline | undefined;
  let changes: TopicRecorder;

  const taskTopic = () => names.physical(changeTopic('task').name);

  beforeAll(async () => {
    [db, names, receiver] = await Promise.all([createTestDatabase(), createTestTopics(), new OtlpReceiver().start()]);
    pipeline = await startPipeline(
      db,
      names,
      receiver,
      {
        SIM_FAULT_DROP_RATE: '0.1',
        SIM_FAULT_DUPLICATE_RATE: '0.3',
        SIM_FAULT_REORDER_RATE: '0.3',
        SIM_RANDOM_SEED: '42',
      },
      { EVENTS_POLL_INTERVAL_MS: '500' },
    );
    changes = await new TopicRecorder([taskTopic()]).start();
    const projects = await simulatedProjectGids(pipeline);
    for (const projectGid of projects) {
      expect((await createWebhook(pipeline, projectGid)).subscription.status).toBe('active');
    }
    // The follower holds a sync token for every project before anything changes, so the Events
    // API has every event the webhooks are about to lose.
    await waitFor('the Events API followed for every project', async () => {
      const client = new Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM event_streams WHERE sync_token IS NOT NULL AND resource_gid = ANY($1)',
          [projects],
        );
        return rows[0].n === projects.length;
      } finally {
        await client.end();
      }
    });
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await changes?.stop();
    await receiver?.stop();
    await db?.drop();
  });

  it("converges on the simulator's state after random changes, despite the faults", async () => {
    const started = await fetch(`${pipeline!.simulator.url}/_sim/traffic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ changes: CHANGES, ratePerSecond: 50 }),
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

    const sim = await simulatedTasks(pipeline!);
    expect(sim.length).toBeGreaterThan(10);
    expect(sim.some((t) => t.deleted)).toBe(true);
    // A deleted task's content is whatever it was when last fetched alive: once deleted, Asana's
    // API answers 404, so changes made just before a delete may never be seen. Only the
    // tombstone is comparable for those.
    const visible = <R extends { gid: string; deleted: boolean }>(rows: R[]) =>
      rows.map((row) => (row.deleted ? { gid: row.gid, deleted: true } : row));
    const want = JSON.stringify(visible(expectedRows(sim)));
    await waitFor(
      'Postgres to equal the simulator',
      async () => JSON.stringify(visible(comparableRows(await projectedTasks(db)))) === want,
      { timeoutMs: 90_000, intervalMs: 500 },
    );

    const faults = (await (await fetch(`${pipeline!.simulator.url}/_sim/faults`)).json()) as {
      data: { duplicated: number; reordered: number; dropped: number };
    };
    expect(faults.data.duplicated).toBeGreaterThan(3);
    expect(faults.data.reordered).toBeGreaterThan(3);
    expect(faults.data.dropped).toBeGreaterThan(3);
    // The lost events came back through the Events API: what the projection lacked was published.
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ published: number }>(
        'SELECT sum(events_published)::int AS published FROM event_streams',
      );
      expect(rows[0].published).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
  });

  it("publishes each task's changes on one partition with strictly increasing versions, ending at its state", async () => {
    // Drained: nothing left in a consumer or the outbox, and every change on the topic recorded.
    const status = await waitFor(
      'the pipeline to drain',
      async () => {
        const now = await pipelineStatus(pipeline!);
        return now.enricherLag === 0 && now.projectorLag === 0 && now.outbox.unpublished === 0 ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(status.events).toBeGreaterThan(CHANGES);
    // `status` shows the follower's work: every project followed, none failing, lost events brought back.
    expect(status.eventsApi).toMatchObject({ followed: (await simulatedProjectGids(pipeline!)).length, failing: 0 });
    expect(status.eventsApi.eventsPublished).toBeGreaterThan(0);
    const published = await totalEndOffset(testKafka(), [taskTopic()]);
    await waitFor(`${published} changes recorded`, () => changes.messages.length >= published);

    const byGid = changesInOrderByGid(changes.messages);
    const sim = new Map((await simulatedTasks(pipeline!)).map((task) => [task.gid, task]));
    expect([...byGid.keys()].sort()).toEqual([...sim.keys()].sort());
    for (const [gid, inOrder] of byGid) {
      // A task deleted before its first fetch starts (and may end) with a tombstone.
      expect(['created', 'deleted']).toContain(inOrder[0].action);
      const last = inOrder[inOrder.length - 1];
      const task = sim.get(gid)!;
      if (task.deleted) {
        expect({ gid, action: last.action, state: last.state }).toEqual({ gid, action: 'deleted', state: null });
      } else {
        expect({ gid, ...last.state }).toMatchObject({
          gid,
          name: task.name,
          completed: task.completed,
          assignee: task.assignee ? { gid: task.assignee.gid } : null,
        });
      }
    }
  });
});
