import {
  allTopics,
  changeTopic,
  deadLetterTopic,
  DEAD_LETTERED_TOPICS,
  TOPICS,
  type AsanaEventEnvelope,
  type ResourceChangeMessage,
  type TopicNames,
} from '@asana-stream/contracts';
import type { ResourceLookup } from '@asana-stream/lookup';
import { samplesOf, sumOf } from '@asana-stream/metrics';
import {
  createTestDatabase,
  createTestTopics,
  OtlpReceiver,
  rawValue,
  runCli,
  TopicRecorder,
  uniqueGid,
  waitFor,
  type ReceivedMessage,
  type TestDatabase,
} from '@asana-stream/testing';
import {
  appRoles,
  declaredFamilies,
  documentedExposers,
  documentedMetrics,
  fromKafkaLibrary,
  moved,
  PIPELINE_APPS,
  scrapeApps,
  type AppRoles,
  type DocumentedMetric,
  type PipelineAppName,
  type Scrape,
} from './metrics-scrape';
import {
  createWebhook,
  pipelineStatus,
  queryDatabase,
  SimulatedAsana,
  simulatedProjectGids,
  startPipeline,
  stopPipeline,
  type Pipeline,
  type PipelineStatus,
} from './pipeline-harness';

jest.setTimeout(600_000);

/** The simulator's delivery counters (`GET /_sim/deliveries`): what Asana sent ingest. */
interface SimulatedDeliveries {
  attempts: number;
  delivered: number;
  failed: number;
  events_delivered: number;
  heartbeats_delivered: number;
}

/** One quiet moment of the pipeline: every app scraped, with the status and the simulator's counts around it. */
interface Snapshot {
  metrics: Scrape;
  status: PipelineStatus;
  sim: SimulatedDeliveries;
}

const TASKS = 4;
/** Rounds of traffic: create, rename, comment, complete and delete. */
const ROUNDS = 4;
const TRACE_ID = /^[0-9a-f]{32}$/;
const traceIdOfHeader = (traceparent: string | undefined) =>
  /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/.exec(traceparent ?? '')?.[1];

/*
 * What an operator has to run the pipeline with, on the pipeline itself after real traffic: every
 * metric docs/architecture.md documents is served by the apps the docs say serve it, the main
 * flow's metrics move by exactly what went through (counted independently: the simulator's own
 * delivery log, the topics' offsets and Postgres through `asana-stream status`, the fanout topics
 * read back), and `asana-stream lookup <gid>` and fanout's `GET /lookup/:gid` show one task's whole
 * path: its deliveries' events with their traces, its projection row, its published changes.
 */
describe('operating the pipeline: its metrics and lookup by gid', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let receiver: OtlpReceiver;
  let pipeline: Pipeline | undefined;
  let asana: SimulatedAsana;
  /** Every fanout topic, `asana.events`; and `asana.deliveries` (raw bodies). */
  let recorder: TopicRecorder;
  let deliveries: TopicRecorder<Buffer>;
  let roles: AppRoles;
  let subscriptionId: string;
  let before: Snapshot;
  let after: Snapshot;
  const taskGids: string[] = [];

  const urls = () =>
    Object.fromEntries(PIPELINE_APPS.map((app) => [app, pipeline![app].url])) as Record<PipelineAppName, string>;
  const changeTopics = () =>
    allTopics()
      .filter((t) => t.name.startsWith('asana.changes.'))
      .map((t) => names.physical(t.name));
  const changesOnTopics = (): ReceivedMessage[] => {
    const topics = new Set(changeTopics());
    return recorder.messages.filter((m) => topics.has(m.topic));
  };
  const eventsOnTopic = () => recorder.messages.filter((m) => m.topic === names.physical(TOPICS.events.name));

  async function simulatedDeliveries(): Promise<SimulatedDeliveries> {
    const response = await fetch(`${pipeline!.simulator.url}/_sim/deliveries`);
    return ((await response.json()) as { data: { counts: SimulatedDeliveries } }).data.counts;
  }

  /** What must not move between two reads for the pipeline to be quiet. */
  const flowed = (status: PipelineStatus, sim: SimulatedDeliveries) =>
    JSON.stringify([
      status.deliveries,
      status.events,
      status.states,
      status.outbox.total,
      status.changes,
      sim.attempts,
      sim.delivered,
      sim.events_delivered,
    ]);

  /**
   * Waits until the pipeline is drained (both consumers caught up, the outbox published, no
   * resync running) and stays so between two reads, then scrapes every app; the scrape counts
   * only if nothing flowed meanwhile (a read of Asana's Events API may publish at any time).
   */
  async function quietSnapshot(label: string): Promise<Snapshot> {
    let previous: string | undefined;
    return waitFor(
      `${label}: the pipeline drained and quiet, scraped in between`,
      async () => {
        const [status, sim] = await Promise.all([pipelineStatus(pipeline!), simulatedDeliveries()]);
        const drained =
          status.enricherLag === 0 &&
          status.projectorLag === 0 &&
          status.outbox.unpublished === 0 &&
          status.resync.running === 0 &&
          status.resync.awaiting === 0;
        const now = flowed(status, sim);
        const quiet = drained && now === previous;
        previous = drained ? now : undefined;
        if (!quiet) return undefined;
        const metrics = await scrapeApps(urls());
        const [statusAfter, simAfter] = await Promise.all([pipelineStatus(pipeline!), simulatedDeliveries()]);
        if (flowed(statusAfter, simAfter) !== now) {
          previous = undefined;
          return undefined;
        }
        return { metrics, status, sim };
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
  }

  beforeAll(async () => {
    [db, names, receiver] = await Promise.all([createTestDatabase(), createTestTopics(), new OtlpReceiver().start()]);
    pipeline = await startPipeline(db, names, receiver);
    asana = new SimulatedAsana(`${pipeline.simulator.url}/api/1.0`);
    [recorder, deliveries] = await Promise.all([
      new TopicRecorder([...changeTopics(), names.physical(TOPICS.events.name)]).start(),
      new TopicRecorder([names.physical(TOPICS.deliveries.name)], rawValue).start(),
    ]);
    roles = await appRoles(urls());
    const [projectGid] = await simulatedProjectGids(pipeline);
    const { subscription } = await createWebhook(pipeline, projectGid);
    expect(subscription.status).toBe('active');
    subscriptionId = subscription.id;
    // The enricher's first read of the project's Events API asks for a resync; it ends before traffic.
    await waitFor(
      'the first resync of the project',
      async () => (await pipelineStatus(pipeline!)).resync.oldestResyncAt !== null,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    before = await quietSnapshot('before the traffic');

    // The traffic, in rounds (each round's changes on the fanout topic before the next, so no two
    // of one task meet in one fetch): tasks created, renamed, commented on, one completed, one deleted.
    const taskTopic = names.physical(changeTopic('task').name);
    const taskChanges = () => changesOnTopics().filter((m) => m.topic === taskTopic);
    async function round(label: string, changes: number, apply: () => Promise<unknown>): Promise<void> {
      const from = taskChanges().length;
      await apply();
      await waitFor(
        `${label}: ${changes} task changes on the fanout topic`,
        () => {
          if (taskChanges().length >= from + changes) return true;
          // What arrived, should the wait time out.
          lastSeen = taskChanges()
            .slice(from)
            .map((m) => `${m.key} ${(m.value as ResourceChangeMessage).action}`);
          return false;
        },
        { timeoutMs: 60_000 },
      );
    }
    let lastSeen: string[] = [];
    try {
      await round('create', TASKS, async () => {
        for (let i = 0; i < TASKS; i++) {
          const task = await asana.call<{ gid: string }>('POST', '/tasks', {
            name: `Operate ${i}`,
            projects: [projectGid],
          });
          taskGids.push(task.gid);
        }
      });
      await round('rename', TASKS, () =>
        Promise.all(taskGids.map((gid, i) => asana.call('PUT', `/tasks/${gid}`, { name: `Operate ${i} (renamed)` }))),
      );
      // Comments are stories of their own: waited for in Postgres, the task changes they may bring not counted on.
      await Promise.all(
        taskGids.map((gid, i) => asana.call('POST', `/tasks/${gid}/stories`, { text: `On task ${i}` })),
      );
      await waitFor(
        `${TASKS} comments projected`,
        async () => {
          const [{ n }] = await queryDatabase<{ n: string }>(
            db,
            /* sql */ `SELECT count(*) AS n FROM resources WHERE type = 'story'`,
          );
          return Number(n) >= TASKS;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      await round('complete one, delete one', 2, () =>
        Promise.all([
          asana.call('PUT', `/tasks/${taskGids[1]}`, { completed: true }),
          asana.call('DELETE', `/tasks/${taskGids[TASKS - 1]}`),
        ]),
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; task changes seen: ${JSON.stringify(lastSeen)}`, { cause: error });
    }
    after = await quietSnapshot('after the traffic');
    // The recorders read everything the topics hold at that moment.
    await waitFor(
      'the recorders to have read every change, event and delivery',
      () =>
        changesOnTopics().length === after.status.changes &&
        eventsOnTopic().length === after.status.events &&
        deliveries.messages.length === after.status.deliveries,
      { timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await Promise.all([recorder?.stop(), deliveries?.stop()]);
    await receiver?.stop();
    await db?.drop();
  });

  describe('metrics', () => {
    let documented: DocumentedMetric[];
    let exposers: Map<string, PipelineAppName[]>;

    beforeAll(() => {
      documented = documentedMetrics();
      exposers = documentedExposers(documented, roles);
    });

    it('reads the documented table whole, and the apps do what their readiness checks say', () => {
      // A table the parser lost rows of would check little: it documents every family of every layer.
      expect(documented.length).toBeGreaterThanOrEqual(40);
      expect(new Set(documented.map((m) => m.name)).size).toBe(documented.length);
      expect(roles).toEqual({ consumes: ['enricher', 'projector'], publishes: ['ingest', 'enricher', 'fanout'] });
    });

    it.each(['before', 'after'] as const)(
      'serves every documented metric from each app the docs name, with its documented type (%s the traffic)',
      (when) => {
        const scrape = (when === 'before' ? before : after).metrics;
        const missing: string[] = [];
        const wrongType: string[] = [];
        for (const metric of documented) {
          for (const app of exposers.get(metric.name)!) {
            const type = scrape[app].types.get(metric.name);
            if (type === undefined || !scrape[app].help.has(metric.name)) missing.push(`${app}: ${metric.name}`);
            else if (type !== metric.type)
              wrongType.push(`${app}: ${metric.name} is a ${type}, documented ${metric.type}`);
          }
        }
        expect(missing).toEqual([]);
        expect(wrongType).toEqual([]);
      },
    );

    it('serves an app-specific metric from its app only, and every app the pipeline has serves one', () => {
      const { metrics } = after;
      const misplaced: string[] = [];
      for (const metric of documented) {
        // Declared by every app; where they have samples is checked with the gauges below.
        if (fromKafkaLibrary(metric.name)) continue;
        const expected = exposers.get(metric.name)!;
        const serving = PIPELINE_APPS.filter((app) => metrics[app].types.has(metric.name));
        if (JSON.stringify(serving) !== JSON.stringify(PIPELINE_APPS.filter((app) => expected.includes(app)))) {
          misplaced.push(`${metric.name}: served by ${serving.join(', ')}, documented for ${expected.join(', ')}`);
        }
      }
      expect(misplaced).toEqual([]);
      const owning = new Set([...exposers.values()].flat());
      expect([...owning].sort()).toEqual([...PIPELINE_APPS].sort());
    });

    it('documents every asana_stream_ metric an app serves in the table', () => {
      const table = new Set(documented.map((m) => m.name));
      const undocumented = PIPELINE_APPS.flatMap((app) =>
        [...declaredFamilies(after.metrics[app]).keys()]
          .filter((name) => !table.has(name))
          .map((name) => `${app}: ${name}`),
      );
      expect(undocumented).toEqual([]);
    });

    it('labels every sample with its app and the documented labels only', () => {
      const wrong: string[] = [];
      for (const app of PIPELINE_APPS) {
        const { metrics } = after;
        for (const metric of documented) {
          const suffixes = metric.type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
          for (const suffix of suffixes) {
            for (const sample of samplesOf(metrics[app], `${metric.name}${suffix}`)) {
              const { app: label, le, ...rest } = sample.labels;
              const expected = [...metric.labels].sort();
              if (label !== app) wrong.push(`${app}: ${sample.name} has app="${label}"`);
              if ((suffix === '_bucket') !== (le !== undefined)) wrong.push(`${app}: ${sample.name} le="${le}"`);
              if (JSON.stringify(Object.keys(rest).sort()) !== JSON.stringify(expected)) {
                wrong.push(
                  `${app}: ${sample.name}{${Object.keys(rest).join(',')}}, documented {${expected.join(',')}}`,
                );
              }
            }
          }
        }
      }
      expect(wrong).toEqual([]);
    });

    it("moves ingest's metrics by exactly the deliveries and events the simulator sent", () => {
      const sent = after.sim.delivered - before.sim.delivered;
      const events = after.sim.events_delivered - before.sim.events_delivered;
      const m = (name: string, labels?: Record<string, string>) =>
        moved(before.metrics, after.metrics, 'ingest', name, labels);
      // At least one delivery a round: each round waited for the one before to flow through.
      expect(sent).toBeGreaterThanOrEqual(ROUNDS);
      expect({
        accepted: m('asana_stream_ingest_deliveries_total', { outcome: 'accepted', status_class: '2xx' }),
        // Every try the simulator made was answered and counted, whatever the answer.
        answered: m('asana_stream_ingest_deliveries_total'),
        heartbeats: m('asana_stream_ingest_heartbeats_total'),
        durations: m('asana_stream_ingest_delivery_duration_seconds_count', { status_class: '2xx' }),
        deliveriesMeasured: m('asana_stream_ingest_delivery_events_count'),
        eventsMeasured: m('asana_stream_ingest_delivery_events_sum'),
        deliveriesPublished: m('asana_stream_kafka_publish_messages_total', {
          topic: names.physical(TOPICS.deliveries.name),
          outcome: 'acked',
        }),
        eventsPublished: m('asana_stream_kafka_publish_messages_total', {
          topic: names.physical(TOPICS.events.name),
          outcome: 'acked',
        }),
        onDeliveriesTopic: after.status.deliveries - before.status.deliveries,
      }).toEqual({
        accepted: sent,
        answered: after.sim.attempts - before.sim.attempts,
        heartbeats: after.sim.heartbeats_delivered - before.sim.heartbeats_delivered,
        durations: sent,
        deliveriesMeasured: sent,
        eventsMeasured: events,
        deliveriesPublished: sent,
        eventsPublished: events,
        onDeliveriesTopic: sent,
      });
      expect(m('asana_stream_kafka_publish_requests_total', { outcome: 'acked' })).toBeGreaterThan(0);
      expect(m('asana_stream_kafka_publish_request_duration_seconds_count', { outcome: 'acked' })).toBeGreaterThan(0);
      expect(samplesOf(after.metrics.ingest, 'asana_stream_ingest_last_delivery_age_seconds')).toEqual([
        expect.objectContaining({ labels: { app: 'ingest', subscription_id: subscriptionId } }),
      ]);
    });

    it("moves the enricher's metrics by exactly what it consumed and published, and counts its calls to Asana", () => {
      const m = (name: string, labels?: Record<string, string>) =>
        moved(before.metrics, after.metrics, 'enricher', name, labels);
      const eventsTopic = names.physical(TOPICS.events.name);
      const consumed = after.status.events - before.status.events;
      const ingestPublished = moved(
        before.metrics,
        after.metrics,
        'ingest',
        'asana_stream_kafka_publish_messages_total',
        {
          topic: eventsTopic,
          outcome: 'acked',
        },
      );
      expect(consumed).toBeGreaterThan(0);
      expect({
        done: m('asana_stream_kafka_consumer_messages_total', { topic: eventsTopic, outcome: 'done' }),
        deadLettered: m('asana_stream_kafka_consumer_messages_total', { outcome: 'dead_lettered' }),
        deadLetters: m('asana_stream_kafka_consumer_dead_letters_total'),
        statesPublished: m('asana_stream_kafka_publish_messages_total', {
          topic: names.physical(TOPICS.state.name),
          outcome: 'acked',
        }),
        // What reached asana.events besides ingest's: the Events API's and the resyncs' events.
        eventsPublished: m('asana_stream_kafka_publish_messages_total', { topic: eventsTopic, outcome: 'acked' }),
      }).toEqual({
        done: consumed,
        deadLettered: 0,
        deadLetters: 0,
        statesPublished: after.status.states - before.status.states,
        eventsPublished: consumed - ingestPublished,
      });
      expect(after.status.states - before.status.states).toBeGreaterThan(0);
      expect(m('asana_stream_kafka_consumer_handler_duration_seconds_count', { topic: eventsTopic })).toBeGreaterThan(
        0,
      );
      expect(m('asana_stream_kafka_consumer_batch_duration_seconds_count', { topic: eventsTopic })).toBeGreaterThan(0);
      const enrichCalls = m('asana_stream_asana_requests_total', { purpose: 'enrich', outcome: 'ok' });
      expect(enrichCalls).toBeGreaterThan(0);
      expect(m('asana_stream_asana_request_duration_seconds_count', { purpose: 'enrich' })).toBeGreaterThanOrEqual(
        enrichCalls,
      );
      // The resync before the traffic and the Events API's first read happened, and are counted.
      expect(sumOf(after.metrics.enricher, 'asana_stream_resyncs_total', { outcome: 'done' })).toBeGreaterThanOrEqual(
        1,
      );
      // Each resource followed on Asana's Events API was read a first time, which restarts its stream.
      expect(after.status.eventsApi.followed).toBeGreaterThan(0);
      expect(sumOf(after.metrics.enricher, 'asana_stream_events_api_restarts_total', { reason: 'first_read' })).toBe(
        after.status.eventsApi.followed,
      );
      expect(
        sumOf(after.metrics.enricher, 'asana_stream_asana_requests_total', { purpose: 'events', outcome: 'ok' }),
      ).toBeGreaterThan(0);
    });

    it("moves the projector's metrics by exactly the states it consumed and the outbox rows it wrote", () => {
      const m = (name: string, labels?: Record<string, string>) =>
        moved(before.metrics, after.metrics, 'projector', name, labels);
      const stateTopic = names.physical(TOPICS.state.name);
      const states = after.status.states - before.status.states;
      expect({
        done: m('asana_stream_kafka_consumer_messages_total', { topic: stateTopic, outcome: 'done' }),
        deadLettered: m('asana_stream_kafka_consumer_messages_total', { outcome: 'dead_lettered' }),
        applyOutcomes: m('asana_stream_projector_messages_total'),
        rejected: m('asana_stream_projector_messages_total', { outcome: 'rejected' }),
        outboxRows: m('asana_stream_projector_outbox_rows_total'),
      }).toEqual({
        done: states,
        deadLettered: 0,
        applyOutcomes: states,
        rejected: 0,
        outboxRows: after.status.outbox.total - before.status.outbox.total,
      });
      // Every task change of the traffic was applied: the projector wrote at least one row for each.
      expect(m('asana_stream_projector_messages_total', { outcome: 'applied' })).toBeGreaterThanOrEqual(TASKS * 2 + 2);
      expect(m('asana_stream_projector_batch_apply_duration_seconds_count', { result: 'committed' })).toBeGreaterThan(
        0,
      );
      expect(m('asana_stream_kafka_consumer_handler_duration_seconds_count', { topic: stateTopic })).toBeGreaterThan(0);
      expect(m('asana_stream_kafka_consumer_batch_duration_seconds_count', { topic: stateTopic })).toBeGreaterThan(0);
    });

    it("moves the fanout's metrics by exactly the changes read back from the fanout topics", () => {
      const m = (name: string, labels?: Record<string, string>) =>
        moved(before.metrics, after.metrics, 'fanout', name, labels);
      const changes = after.status.changes - before.status.changes;
      const acked = changeTopics().reduce(
        (sum, topic) => sum + m('asana_stream_kafka_publish_messages_total', { topic, outcome: 'acked' }),
        0,
      );
      expect(changes).toBeGreaterThanOrEqual(TASKS * 2 + 2);
      expect({
        published: m('asana_stream_fanout_rows_total', { outcome: 'published' }),
        refusedOrParked:
          m('asana_stream_fanout_rows_total') - m('asana_stream_fanout_rows_total', { outcome: 'published' }),
        acked,
        freshness: m('asana_stream_fanout_freshness_seconds_count'),
      }).toEqual({ published: changes, refusedOrParked: 0, acked: changes, freshness: changes });
      // What the fanout topics hold, read back: each change once.
      const changeIds = changesOnTopics().map((c) => (c.value as ResourceChangeMessage).changeId);
      expect(new Set(changeIds).size).toBe(after.status.changes);
      // Each change of the traffic answers Asana events: its end-to-end freshness is measured.
      const answered = m('asana_stream_end_to_end_freshness_seconds_count');
      expect(answered).toBeGreaterThanOrEqual(TASKS * 2 + 2);
      expect(answered).toBeLessThanOrEqual(changes);
      const batches = m('asana_stream_fanout_batch_duration_seconds_count', { result: 'ok' });
      expect(batches).toBeGreaterThan(0);
      expect(batches).toBeLessThanOrEqual(changes);
    });

    it('shows the drained pipeline in its gauges', () => {
      const { metrics } = after;
      expect({
        unpublished: sumOf(metrics.fanout, 'asana_stream_fanout_unpublished_rows'),
        parked: sumOf(metrics.fanout, 'asana_stream_fanout_parked_rows'),
        oldest: sumOf(metrics.fanout, 'asana_stream_fanout_oldest_unpublished_age_seconds'),
      }).toEqual({ unpublished: 0, parked: 0, oldest: 0 });
      for (const app of roles.consumes) {
        // One consumer per consuming app, ready and not halted, with nothing left to do.
        expect(samplesOf(metrics[app], 'asana_stream_kafka_consumer_ready').map((s) => s.value)).toEqual([1]);
        expect(samplesOf(metrics[app], 'asana_stream_kafka_consumer_halted').map((s) => s.value)).toEqual([0]);
        expect(samplesOf(metrics[app], 'asana_stream_kafka_consumer_lag_messages').length).toBeGreaterThan(0);
        expect(sumOf(metrics[app], 'asana_stream_kafka_consumer_lag_messages')).toBe(0);
      }
      for (const app of PIPELINE_APPS.filter((a) => !roles.consumes.includes(a))) {
        expect(samplesOf(metrics[app], 'asana_stream_kafka_consumer_ready')).toEqual([]);
        expect(samplesOf(metrics[app], 'asana_stream_dead_letters_pending')).toEqual([]);
      }
      // The dead-letter depth, per topic the consuming app's messages come from, is zero.
      const depth = (app: PipelineAppName) =>
        samplesOf(metrics[app], 'asana_stream_dead_letters_pending').map((s) => [s.labels.topic, s.value]);
      expect(Object.fromEntries(roles.consumes.flatMap(depth))).toEqual(
        Object.fromEntries(DEAD_LETTERED_TOPICS.map((topic) => [deadLetterTopic(topic).name, 0])),
      );
      expect(sumOf(metrics.enricher, 'asana_stream_divergences_open')).toBe(0);
      expect(samplesOf(metrics.enricher, 'asana_stream_webhook_last_contact_age_seconds')).toEqual([
        expect.objectContaining({ labels: { app: 'enricher', subscription_id: subscriptionId } }),
      ]);
    });
  });

  describe('lookup by gid', () => {
    /** A task created, renamed, commented on and completed during the traffic. */
    let gid: string;
    let fromCli: ResourceLookup;

    beforeAll(() => {
      gid = taskGids[1];
    });

    it("shows a task's whole path: its deliveries' events and traces, its row, its published changes, no dead letter", async () => {
      const run = await runCli(pipeline!.cliEnv, ['lookup', gid, '--json']);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      fromCli = JSON.parse(run.stdout) as ResourceLookup;
      expect(fromCli).toMatchObject({ gid, found: true });

      // Its events on asana.events, each in the delivery ingest received it in, under that delivery's trace.
      const events = eventsOnTopic()
        .filter((m) => m.key === gid)
        .sort((a, b) => Number(a.offset) - Number(b.offset));
      expect(events.length).toBeGreaterThanOrEqual(3);
      expect(fromCli.events.scanned).toMatchObject({ topic: TOPICS.events.name, fromEarliest: true, complete: true });
      expect(
        fromCli.events.entries.map(({ offset, eventId, source, deliveryId, subscriptionId: sub, traceId }) => ({
          offset,
          eventId,
          source,
          deliveryId,
          subscriptionId: sub,
          traceId,
        })),
      ).toEqual(
        events.map((m) => {
          const envelope = m.value as AsanaEventEnvelope;
          return {
            offset: m.offset,
            eventId: envelope.eventId,
            source: envelope.source,
            deliveryId: envelope.deliveryId ?? null,
            subscriptionId: envelope.subscriptionId ?? null,
            traceId: traceIdOfHeader(m.headers.traceparent),
          };
        }),
      );
      const fromWebhook = fromCli.events.entries.filter((e) => e.source === 'webhook');
      expect(fromWebhook.length).toBeGreaterThanOrEqual(3);
      const deliveryTraces = new Map(
        deliveries.messages.map((d) => [d.headers.deliveryId, traceIdOfHeader(d.headers.traceparent)]),
      );
      for (const event of fromCli.events.entries) expect(event.traceId).toMatch(TRACE_ID);
      for (const event of fromWebhook) {
        expect(event.subscriptionId).toBe(subscriptionId);
        expect({ event: event.eventId, trace: deliveryTraces.get(event.deliveryId!) }).toEqual({
          event: event.eventId,
          trace: event.traceId,
        });
      }

      // Its projection row, as Postgres holds it now.
      const [row] = await queryDatabase<{ version: string; state: unknown; deleted_at: Date | null; updated_at: Date }>(
        db,
        /* sql */ `SELECT version, state, deleted_at, updated_at FROM tasks WHERE gid = '${gid}'`,
      );
      expect(fromCli.projections).toEqual([
        {
          table: 'tasks',
          type: 'task',
          version: Number(row.version),
          deletedAt: null,
          updatedAt: row.updated_at.toISOString(),
          state: row.state,
        },
      ]);
      expect(row.state).toMatchObject({ gid, name: 'Operate 1 (renamed)', completed: true });

      // Its outbox changes: the messages read from the fanout topic for it, each published.
      const published = changesOnTopics()
        .filter((m) => m.key === gid)
        .sort((a, b) => Number(a.offset) - Number(b.offset))
        .map((m) => m.value as ResourceChangeMessage);
      // Created, then updated (renamed, completed: one change or two, as the enricher's fetches fell).
      expect(published.map((c) => c.action)).toEqual(['created', ...published.slice(1).map(() => 'updated')]);
      expect(published.length).toBeGreaterThanOrEqual(2);
      expect(fromCli.outbox.total).toBe(published.length);
      expect(
        fromCli.outbox.rows.map(({ id, type, action, version, fields, state, attempts, lastError }) => ({
          id,
          type,
          action,
          version,
          fields,
          state,
          attempts,
          lastError,
        })),
      ).toEqual(
        published.map((c) => ({
          id: c.changeId,
          type: 'task',
          action: c.action,
          version: c.version,
          fields: Object.keys(c.changes ?? {}).sort(),
          state: 'published',
          attempts: 0,
          lastError: null,
        })),
      );
      // Each change carries on the trace of one of the task's events.
      const eventTraces = new Set(fromCli.events.entries.map((e) => e.traceId));
      for (const change of fromCli.outbox.rows) {
        expect(change.publishedAt).not.toBeNull();
        expect({ change: change.id, traceKnown: eventTraces.has(change.traceId) }).toEqual({
          change: change.id,
          traceKnown: true,
        });
      }

      // No dead letter, and both dead-letter topics were read whole to say so.
      expect(fromCli.deadLetters.entries).toEqual([]);
      expect(fromCli.deadLetters.scanned.map((s) => [s.topic, s.fromEarliest, s.complete])).toEqual(
        DEAD_LETTERED_TOPICS.map((topic) => [deadLetterTopic(topic).name, true, true]),
      );

      // The text form an operator reads says the same.
      const text = await runCli(pipeline!.cliEnv, ['lookup', gid]);
      expect(text.code).toBe(0);
      for (const event of fromCli.events.entries) expect(text.stdout).toContain(`trace ${event.traceId}`);
      for (const change of fromCli.outbox.rows) expect(text.stdout).toContain(`${change.id}  ${change.action}`);
      expect(text.stdout.match(/ PUBLISHED /g)).toHaveLength(published.length);
      expect(text.stdout).toContain('dead letters: 0');
    });

    it("answers GET /lookup/:gid on the fanout with the cli's document", async () => {
      const response = await fetch(`${pipeline!.fanout.url}/lookup/${gid}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(fromCli);
    });

    it('answers a gid nothing is known about as documented: exit 1 from the cli, 404 from the fanout', async () => {
      const unknown = uniqueGid();
      const [text, json, response] = await Promise.all([
        runCli(pipeline!.cliEnv, ['lookup', unknown]),
        runCli(pipeline!.cliEnv, ['lookup', unknown, '--json']),
        fetch(`${pipeline!.fanout.url}/lookup/${unknown}`),
      ]);
      expect(text.code).toBe(1);
      expect(text.stdout).toBe('');
      expect(text.stderr).toMatch(new RegExp(`^asana-stream: nothing known about gid ${unknown}: `));
      expect(json.code).toBe(1);
      const document = JSON.parse(json.stdout) as ResourceLookup;
      expect(document).toMatchObject({
        gid: unknown,
        found: false,
        projections: [],
        outbox: { total: 0, rows: [] },
        deadLetters: { entries: [] },
        events: { entries: [] },
      });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual(document);
    });
  });
});
