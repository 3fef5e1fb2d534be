import { signAsanaBody } from '@asana-stream/asana';
import { changeTopic, TOPICS, type ResourceChangeMessage, type TopicNames } from '@asana-stream/contracts';
import {
  createTestDatabase,
  createTestTopics,
  OtlpReceiver,
  stoppedCleanly,
  testKafka,
  testWebhookSecretCipher,
  totalEndOffset,
  TopicRecorder,
  waitFor,
  type ReceivedMessage,
  type TestDatabase,
} from '@asana-stream/testing';
import {
  changesInOrderByGid,
  comparableRows,
  createWebhook,
  expectedRows,
  pipelineStatus,
  projectedTasks,
  queryDatabase,
  recordedDeliveries,
  runCli,
  SimulatedAsana,
  simulatedProjectGids,
  simulatedTasks,
  startPipeline,
  stopPipeline,
  type Pipeline,
  type PipelineStatus,
} from './pipeline-harness';

jest.setTimeout(600_000);

/** What each change of a task must look like on `asana.changes.task`, in order. */
interface ExpectedChange {
  action: ResourceChangeMessage['action'];
  fields: string[];
}

const TASKS = 12;

describe('one Asana project, end to end through all four apps', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let receiver: OtlpReceiver;
  let pipeline: Pipeline | undefined;
  let asana: SimulatedAsana;
  let changes: TopicRecorder;
  let projectGid: string;
  let subscriptionId: string;
  const expected = new Map<string, ExpectedChange[]>();

  const taskChanges = (): ReceivedMessage[] =>
    changes.messages.filter((m) => m.topic === names.physical(changeTopic('task').name));

  /** Applies one round of changes, then waits until every one of them is on the fanout topic. */
  async function round(label: string, apply: () => Promise<ExpectedChange[][]>): Promise<void> {
    const before = taskChanges().length;
    const made = (await apply()).flat().length;
    await waitFor(`${label}: ${made} changes on the fanout topic`, () => taskChanges().length >= before + made, {
      timeoutMs: 60_000,
    });
  }

  function expect_(gid: string, change: ExpectedChange): ExpectedChange[] {
    const list = expected.get(gid) ?? [];
    list.push(change);
    expected.set(gid, list);
    return [change];
  }

  beforeAll(async () => {
    [db, names, receiver] = await Promise.all([createTestDatabase(), createTestTopics(), new OtlpReceiver().start()]);
    pipeline = await startPipeline(db, names, receiver);
    asana = new SimulatedAsana(`${pipeline.simulator.url}/api/1.0`);
    changes = await new TopicRecorder([
      names.physical(changeTopic('task').name),
      names.physical(changeTopic('project').name),
    ]).start();
    [projectGid] = await simulatedProjectGids(pipeline);
    const { subscription, output } = await createWebhook(pipeline, projectGid);
    expect(subscription.status).toBe('active');
    subscriptionId = subscription.id;
    // The secret Asana and ingest share is never printed, in --json or otherwise.
    const [{ secret: stored }] = await queryDatabase<{ secret: string }>(
      db,
      /* sql */ `SELECT secret FROM subscriptions WHERE id = '${subscription.id}'`,
    );
    // Stored encrypted (WEBHOOK_SECRET_KEYS); neither the secret nor its stored form is printed.
    expect(stored).toMatch(/^enc:v1:test:/);
    const secret = testWebhookSecretCipher().decrypt(subscription.id, stored);
    expect(secret).toMatch(/\S{16,}/);
    expect(output).not.toContain(secret);
    expect(output).not.toContain(stored);
    expect(subscription).not.toHaveProperty('secret');
    // The enricher's first read of the project's Events API asks for a resync (what happened before
    // it is unknown): it finds the project itself missing from Postgres. Done before any change.
    await waitFor(
      'the first resync of the project',
      async () => {
        const now = await pipelineStatus(pipeline!);
        const { resync } = now;
        return resync.oldestResyncAt !== null && resync.running === 0 && resync.awaiting === 0 ? now : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await changes?.stop();
    await receiver?.stop();
    await db?.drop();
  });

  it('carries at least 50 changes across at least 10 tasks, including deletes and undeletes', async () => {
    const me = await asana.call<{ gid: string }>('GET', '/users/me');
    const { data } = (await (await fetch(`${pipeline!.simulator.url}/_sim/state`)).json()) as {
      data: { users: { gid: string }[] };
    };
    const assignee = data.users.find((u) => u.gid !== me.gid)!.gid;
    const gids: string[] = [];

    await round('create', () =>
      Promise.all(
        Array.from({ length: TASKS }, async (_, i) => {
          const task = await asana.call<{ gid: string }>('POST', '/tasks', {
            name: `Task ${i}`,
            projects: [projectGid],
          });
          gids[i] = task.gid;
          return expect_(task.gid, { action: 'created', fields: [] });
        }),
      ),
    );
    await round('rename', () =>
      Promise.all(
        gids.map(async (gid, i) => {
          await asana.call('PUT', `/tasks/${gid}`, { name: `Task ${i} (renamed)` });
          return expect_(gid, { action: 'updated', fields: ['name'] });
        }),
      ),
    );
    await round('complete', () =>
      Promise.all(
        gids.map(async (gid) => {
          await asana.call('PUT', `/tasks/${gid}`, { completed: true });
          return expect_(gid, { action: 'updated', fields: ['completed', 'completed_at'] });
        }),
      ),
    );
    await round('assign', () =>
      Promise.all(
        gids.map(async (gid) => {
          await asana.call('PUT', `/tasks/${gid}`, { assignee });
          return expect_(gid, { action: 'updated', fields: ['assignee'] });
        }),
      ),
    );
    await round('delete some, rename the rest', () =>
      Promise.all(
        gids.map(async (gid, i) => {
          if (i < 3) {
            await asana.call('DELETE', `/tasks/${gid}`);
            return expect_(gid, { action: 'deleted', fields: [] });
          }
          await asana.call('PUT', `/tasks/${gid}`, { name: `Task ${i} (final)` });
          return expect_(gid, { action: 'updated', fields: ['name'] });
        }),
      ),
    );
    await round('undelete two', () =>
      Promise.all(
        gids.slice(0, 2).map(async (gid) => {
          const response = await fetch(`${pipeline!.simulator.url}/_sim/tasks/${gid}/undelete`, { method: 'POST' });
          expect(response.ok).toBe(true);
          return expect_(gid, { action: 'undeleted', fields: [] });
        }),
      ),
    );

    const total = [...expected.values()].flat().length;
    expect(expected.size).toBeGreaterThanOrEqual(10);
    expect(total).toBeGreaterThanOrEqual(50);
  });

  it('publishes every change of each task to the fanout topic once, in the order it happened', () => {
    const byGid = changesInOrderByGid(taskChanges());
    expect([...byGid.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [gid, wanted] of expected) {
      const inOrder = byGid.get(gid)!;
      expect(inOrder.map((c) => c.action)).toEqual(wanted.map((w) => w.action));
      inOrder.forEach((change, i) => {
        if (wanted[i].action === 'updated') expect(Object.keys(change.changes).sort()).toEqual(wanted[i].fields);
      });
    }
  });

  it("serves the topic's changes through fanout's Events API, once each, every task's in the topic's order", async () => {
    const token = (
      await runCli(pipeline!.cliEnv, 'consumers', 'create', '--name', 'e2e-reader', '--types', 'task')
    ).trim();
    const fromFeed: ResourceChangeMessage[] = [];
    let after = '';
    for (;;) {
      const response = await fetch(`${pipeline!.fanout.url}/events?limit=40${after ? `&after=${after}` : ''}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(200);
      const page = (await response.json()) as { changes: ResourceChangeMessage[]; next: string; hasMore: boolean };
      fromFeed.push(...page.changes);
      after = page.next;
      if (!page.hasMore) break;
    }
    const onTopic = [...changesInOrderByGid(taskChanges()).values()].flat();
    expect(fromFeed.map((c) => c.changeId).sort()).toEqual(onTopic.map((c) => c.changeId).sort());
    expect(new Set(fromFeed.map((c) => c.changeId)).size).toBe(fromFeed.length);
    for (const [gid, inOrder] of changesInOrderByGid(taskChanges())) {
      expect(fromFeed.filter((c) => c.gid === gid)).toEqual(inOrder);
    }
  });

  it("leaves Postgres equal to the simulator's state, tombstones included", async () => {
    const simTasks = (await simulatedTasks(pipeline!)).filter((t) => expected.has(t.gid));
    const rows = await projectedTasks(db);
    expect(comparableRows(rows)).toEqual(expectedRows(simTasks));
    expect(rows.filter((r) => r.deleted)).toHaveLength(1);
    const [{ unpublished }] = await queryDatabase<{ unpublished: string }>(
      db,
      /* sql */ `SELECT count(*) AS unpublished FROM outbox WHERE published_at IS NULL`,
    );
    expect(unpublished).toBe('0');
  });

  it('takes every delivery again when Asana redelivers it, and changes nothing downstream', async () => {
    /** Events reconciliation put on asana.events: read back from the Events API, or a resync's repairs. */
    const reconciled = ({ eventsApi, resync }: PipelineStatus) =>
      eventsApi.eventsPublished + resync.repairs.missing + resync.repairs.stale + resync.repairs.vanished;
    const status = () => pipelineStatus(pipeline!);
    const before = await status();
    const rowsBefore = await projectedTasks(db);
    const records = await recordedDeliveries(names, before.deliveries);
    const replayed = records.filter((r) => Number(r.headers.eventCount) > 0);

    // Byte for byte what Asana sent, with its signature: what Asana's retry of a delivery looks like.
    for (const record of replayed) {
      const response = await fetch(`${pipeline!.ingest.url}/webhooks/asana/${record.headers.subscriptionId}`, {
        method: 'POST',
        headers: {
          'content-type': record.headers['content-type'] ?? 'application/json',
          'x-hook-signature': record.headers['x-hook-signature'] ?? '',
        },
        body: record.value,
      });
      expect(response.status).toBe(200);
    }
    const replayedEvents = replayed.reduce((sum, r) => sum + Number(r.headers.eventCount), 0);
    // Every webhook event of the test so far (deletes and undeletes included) arrives a second time;
    // the rest of asana.events is what reconciliation published (the first resync's repair).
    expect(reconciled(before)).toBeGreaterThan(0);
    expect(replayedEvents).toBe(before.events - reconciled(before));
    expect(replayedEvents).toBeGreaterThanOrEqual(50);

    // Every stage sees the events again: ingest publishes them, the enricher fetches and
    // publishes their state again, and the projector consumes all of it.
    const after = await waitFor(
      `${replayedEvents} replayed events through the enricher and the projector`,
      async () => {
        const now = await status();
        const drained = now.enricherLag === 0 && now.projectorLag === 0 && now.outbox.unpublished === 0;
        // ingest published them before answering 200; drained lags then mean both consumers
        // committed past them, the projector only once its transaction did.
        const expected = before.events + replayedEvents + reconciled(now) - reconciled(before);
        return drained && now.events === expected && now.states > before.states ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // The enricher fetches once per gid of a batch, whatever the number of its events there: at
    // most as many states as the first time, and at least one.
    expect(after.states - before.states).toBeGreaterThan(0);
    expect(after.states - before.states).toBeLessThanOrEqual(before.states);
    // ...and nothing changes: no outbox row, no change on any fanout topic, the same rows.
    expect(after.outbox.total).toBe(before.outbox.total);
    expect(after.changes).toBe(before.changes);
    // The rows read the same. A live row keeps its version (Asana's modified_at did not move); a
    // deleted one may only move its version forward: the enricher's new 404 is newer evidence
    // of the delete, versioned by its fetch time.
    const rowsAfter = await projectedTasks(db);
    const withoutVersion = (rows: typeof rowsBefore) => rows.map(({ version: _, ...rest }) => rest);
    expect(withoutVersion(rowsAfter)).toEqual(withoutVersion(rowsBefore));
    rowsAfter.forEach((row, i) => {
      if (row.deleted) expect(BigInt(row.version)).toBeGreaterThanOrEqual(BigInt(rowsBefore[i].version));
      else expect(row.version).toBe(rowsBefore[i].version);
    });
  });

  it('rejects a delivery with a tampered signature with 401 and publishes nothing', async () => {
    const topics = [TOPICS.events.name, TOPICS.deliveries.name].map((t) => names.physical(t));
    const body = JSON.stringify({
      events: [
        {
          user: null,
          created_at: new Date().toISOString(),
          action: 'changed',
          resource: { gid: '1299999999999999', resource_type: 'task', resource_subtype: 'default_task' },
          parent: null,
          change: { field: 'name', action: 'changed' },
        },
      ],
    });
    const before = await totalEndOffset(testKafka(), topics);
    const response = await fetch(`${pipeline!.ingest.url}/webhooks/asana/${subscriptionId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hook-signature': signAsanaBody('not-the-secret', body) },
      body,
    });
    expect(response.status).toBe(401);
    // ingest publishes before it answers: had it accepted the delivery, the offsets would have moved by now.
    expect(await totalEndOffset(testKafka(), topics)).toBe(before);
  });

  it('traces one delivery as one trace from the POST into ingest to the fanout publish', async () => {
    const services = ['asana-stream-ingest', 'asana-stream-enricher', 'asana-stream-projector', 'asana-stream-fanout'];
    const complete = await waitFor(
      'a trace with spans from all four apps',
      () => {
        const byTrace = new Map<string, Set<string>>();
        for (const span of receiver.spans)
          byTrace.set(span.traceId, (byTrace.get(span.traceId) ?? new Set()).add(span.service));
        const full = [...byTrace.entries()].filter(([, seen]) => services.every((s) => seen.has(s))).map(([id]) => id);
        return full.length > 0 ? full : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const spans = receiver.spans.filter((s) => s.traceId === complete[0]);
    const server = spans.find((s) => s.service === 'asana-stream-ingest' && s.kind === 2);
    expect(server?.name).toMatch(/POST/);
    // The trace's root is Asana's POST arriving at ingest (Asana sends no trace context): every
    // other span descends from it.
    expect(server?.parentSpanId).toBe('');
    const ids = new Set(spans.map((s) => s.spanId));
    expect(spans.filter((s) => !ids.has(s.parentSpanId))).toEqual([server]);
    // The enricher's call to Asana's API is part of it (SpanKind.CLIENT = 3).
    const asanaCall = spans.find((s) => s.service === 'asana-stream-enricher' && s.kind === 3);
    expect(String(asanaCall?.attributes['url.full'])).toMatch(/\/api\/1\.0\/(tasks|projects)\/\d+/);
    const fanoutSend = spans.find((s) => s.service === 'asana-stream-fanout' && s.name.startsWith('send '));
    expect(fanoutSend?.name).toBe(`send ${names.physical(changeTopic('task').name)}`);
  });

  it('shuts every app down cleanly on SIGTERM', async () => {
    const exits = await stopPipeline(pipeline);
    pipeline = undefined;
    expect(exits.map(stoppedCleanly)).toEqual([true, true, true, true, true]);
  });
});
