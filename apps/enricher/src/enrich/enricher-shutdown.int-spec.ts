import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { TOPICS, type ResourceStateMessage, type TopicNames } from '@asana-stream/contracts';
import {
  AppProcess,
  asanaTaskEventEnvelope,
  createTestDatabase,
  createTestTopics,
  freePort,
  startSimulatorProcess,
  stoppedCleanly,
  testKafka,
  TopicRecorder,
  totalEndOffset,
  waitFor,
  TEST_BROKERS,
  type SimulatorProcess,
  type TestDatabase,
} from '@asana-stream/testing';

const REPO_ROOT = resolve(__dirname, '../../../..');
/** What the enricher logs when Asana's API fails and every request waits (PacedResourceFetcher). */
const HOLDING_FOR_OUTAGE = "Asana's API is failing: holding every request to it";

/** The enricher's committed offset per partition of `topic`; '-1' where it never committed. */
async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets.partitions.sort((a, b) => a.partition - b.partition).map(({ offset }) => offset);
  } finally {
    await admin.disconnect();
  }
}

// The pods' grace period: Kubernetes sends SIGKILL this long after SIGTERM.
const GRACE_PERIOD_MS = 30_000;

// The enricher and the simulator run as processes through their production entrypoints, so
// SIGTERM takes Nest's real shutdown path (hooks, then the consumer's close, then the re-raised
// signal); needs `npm run build`.
describe('the enricher stopped during an Asana outage', () => {
  let names: TopicNames;
  let sim: SimulatorProcess;
  let db: TestDatabase;
  const enrichers: AppProcess[] = [];
  const kafka = testKafka();
  const logDir = join(REPO_ROOT, '.local/test-processes', `enricher-shutdown-${randomBytes(3).toString('hex')}`);

  beforeAll(async () => {
    [names, db] = await Promise.all([createTestTopics(), createTestDatabase()]);
    sim = await startSimulatorProcess({}, logDir);
  });

  afterAll(async () => {
    await Promise.all(enrichers.map((enricher) => enricher.stop()));
    await sim?.stop();
    await db?.drop();
  });

  async function startEnricher(name: string): Promise<AppProcess> {
    const enricher = new AppProcess({
      app: 'enricher',
      port: await freePort(),
      logDir: join(logDir, name),
      env: {
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: names.prefix,
        ASANA_BASE_URL: sim.apiUrl,
        ASANA_TOKEN: sim.token,
        DATABASE_URL: db.url,
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
    });
    enrichers.push(enricher);
    return enricher.start();
  }

  it('exits within seconds on SIGTERM, commits nothing, and the next enricher publishes the state once Asana is back', async () => {
    const eventsTopic = names.physical(TOPICS.events.name);
    const stateTopic = names.physical(TOPICS.state.name);
    const groupId = `${names.prefix}asana-stream-enricher`;
    const [gid] = await sim.firstProjectTaskGids();
    // A lasting outage: every API request answers 503 until cancelled.
    await sim.setApiFailures({ count: 'forever', status: 503 });
    const first = await startEnricher('first');

    const envelope = asanaTaskEventEnvelope(gid);
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: eventsTopic, messages: [{ key: gid, value: JSON.stringify(envelope) }] });
    } finally {
      await producer.disconnect();
    }
    await waitFor('the enricher to hold its fetch for the outage', () =>
      readFileSync(first.logFile, 'utf8').includes(HOLDING_FOR_OUTAGE),
    );

    const stopping = Date.now();
    const exit = await first.stop(GRACE_PERIOD_MS);
    const tookMs = Date.now() - stopping;

    // Nest re-raises SIGTERM once its hooks and closes have run: a clean stop ends with that signal.
    expect(exit).toMatchObject({ forced: false });
    expect(stoppedCleanly(exit)).toBe(true);
    expect(tookMs).toBeLessThan(10_000);
    // The event was neither committed nor turned into a state: it waits for the next consumer.
    expect(new Set(await committedOffsets(kafka, groupId, eventsTopic))).toEqual(new Set(['-1']));
    expect(await totalEndOffset(kafka, [stateTopic])).toBe(0);

    await sim.setApiFailures({ count: 0 });
    const recorder = await new TopicRecorder([stateTopic]).start();
    try {
      await startEnricher('second');
      const published = await waitFor('the state of the event to reach asana.state', () =>
        recorder.messages.find((message) => message.key === gid),
      );
      expect(published.value).toMatchObject({ gid, type: 'task', deleted: false, causes: [envelope.eventId] });
      expect((published.value as ResourceStateMessage).state).toMatchObject({ gid });
    } finally {
      await recorder.stop();
    }
    await waitFor('the event to be committed', async () =>
      (await committedOffsets(kafka, groupId, eventsTopic)).includes('1'),
    );
  }, 120_000);
});
