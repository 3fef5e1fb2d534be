import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { deadLetterTopic, TOPICS, type TopicNames } from '@asana-stream/contracts';
import {
  AppProcess,
  asanaTaskEventEnvelope,
  createTestDatabase,
  createTestTopics,
  freePort,
  startSimulatorProcess,
  testKafka,
  TopicRecorder,
  waitFor,
  TEST_BROKERS,
  type SimulatorProcess,
  type TestDatabase,
} from '@asana-stream/testing';

const REPO_ROOT = resolve(__dirname, '../../../..');

// The enricher, the simulator and the cli run as processes through their production entrypoints
// (needs `npm run build`), as they are deployed and operated.
describe('an Asana resource the API refuses for good', () => {
  let names: TopicNames;
  let sim: SimulatorProcess;
  let db: TestDatabase;
  let enricher: AppProcess;
  const kafka = testKafka();
  const logDir = join(REPO_ROOT, '.local/test-processes', `enricher-dlq-${randomBytes(3).toString('hex')}`);

  beforeAll(async () => {
    [names, db] = await Promise.all([createTestTopics(), createTestDatabase()]);
    sim = await startSimulatorProcess({}, logDir);
    enricher = await new AppProcess({
      app: 'enricher',
      port: await freePort(),
      logDir,
      env: {
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: names.prefix,
        ASANA_BASE_URL: sim.apiUrl,
        ASANA_TOKEN: sim.token,
        DATABASE_URL: db.url,
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
    }).start();
  });

  afterAll(async () => {
    await enricher?.stop();
    await sim?.stop();
    await db?.drop();
  });

  it("sends only that gid's event to asana.events.dlq, others flow, and a re-drive applies it once Asana answers", async () => {
    const [refused, ...others] = (await sim.firstProjectTaskGids()).slice(0, 4);
    // Asana answers 400 for this one task on every request, forever; every other task is served.
    await sim.setApiFailures({ gid: refused, count: 'forever', status: 400 });
    const envelopes = new Map([refused, ...others].map((gid) => [gid, asanaTaskEventEnvelope(gid)]));
    const states = await new TopicRecorder([names.physical(TOPICS.state.name)]).start();
    const deadLetters = await new TopicRecorder([names.physical(deadLetterTopic(TOPICS.events.name).name)]).start();
    try {
      const producer = kafka.producer();
      await producer.connect();
      try {
        // The refused gid first, so the others' events are behind it wherever they share a partition.
        await producer.send({
          topic: names.physical(TOPICS.events.name),
          messages: [...envelopes].map(([gid, envelope]) => ({ key: gid, value: JSON.stringify(envelope) })),
        });
      } finally {
        await producer.disconnect();
      }

      await waitFor('every other gid to reach asana.state', () =>
        others.every((gid) => states.messages.some((m) => m.key === gid)),
      );
      const [dead] = await waitFor('the refused event in the dead-letter topic', () =>
        deadLetters.messages.length > 0 ? deadLetters.messages : undefined,
      );
      expect(dead.key).toBe(refused);
      expect(dead.value).toMatchObject({ event: { resource: { gid: refused } } });
      expect(dead.headers).toMatchObject({
        'x-dlq-code': 'REJECTED',
        'x-dlq-source-topic': names.physical(TOPICS.events.name),
        'x-dlq-attempts': expect.stringMatching(/^\d+$/),
        'x-dlq-first-failure-at': expect.any(String),
        'x-dlq-last-failure-at': expect.any(String),
      });
      expect(dead.headers['x-dlq-source-offset']).toMatch(/^\d+$/);
      expect(deadLetters.messages).toHaveLength(1);
      expect(states.messages.some((m) => m.key === refused)).toBe(false);

      // Asana serves the task again; the operator re-drives what the DLQ holds.
      await sim.setApiFailures({ gid: refused, count: 0 });
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [join(REPO_ROOT, 'dist/apps/cli/src/main.js'), 'dlq', 'redrive', 'asana.events', '--all'],
        {
          cwd: REPO_ROOT,
          env: { PATH: process.env.PATH ?? '', KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix },
          timeout: 30_000,
        },
      );
      expect(`${stdout}${stderr}`).toMatch(/1/);
      const applied = await waitFor('the re-driven event to reach asana.state', () =>
        states.messages.find((m) => m.key === refused),
      );
      expect(applied.value).toMatchObject({ gid: refused, deleted: false, causes: [envelopes.get(refused)!.eventId] });
      expect(deadLetters.messages).toHaveLength(1);
    } finally {
      await states.stop();
      await deadLetters.stop();
    }
  }, 120_000);
});
