import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Producer } from 'kafkajs';
import { TOPICS, type ResourceStateMessage, type TopicNames } from '@asana-stream/contracts';
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

interface RateLimitStats {
  admitted: number;
  rateLimited: number;
  concurrencyLimited: number;
}

async function apiStats(sim: SimulatorProcess): Promise<RateLimitStats> {
  const response = await fetch(`${sim.baseUrl}/_sim/rate-limits`);
  return ((await response.json()) as { data: RateLimitStats }).data;
}
const requestsOf = ({ admitted, rateLimited, concurrencyLimited }: RateLimitStats) =>
  admitted + rateLimited + concurrencyLimited;

/** `perGid` events for each gid, interleaved the way a burst of changes arrives. */
function burst(gids: string[], perGid: number) {
  const envelopes = gids.flatMap((gid) =>
    Array.from({ length: perGid }, (_, n) => {
      const envelope = asanaTaskEventEnvelope(gid);
      const created = new Date(Date.parse(envelope.event.created_at) + n).toISOString();
      const event = { ...envelope.event, created_at: created };
      return { ...envelope, event, eventId: `${gid}-${n}-${randomBytes(4).toString('hex')}` };
    }),
  );
  return envelopes.sort(() => Math.random() - 0.5);
}

// The enricher and the simulator run as processes through their production entrypoints (needs
// `npm run build`), and the simulator counts every API request it was sent.
describe('the enricher against Asana’s limits', () => {
  let names: TopicNames;
  let sim: SimulatorProcess;
  let db: TestDatabase;
  let producer: Producer;
  const enrichers: AppProcess[] = [];
  const logDir = join(REPO_ROOT, '.local/test-processes', `enricher-budget-${randomBytes(3).toString('hex')}`);

  async function startEnricher(env: Record<string, string>): Promise<AppProcess> {
    const enricher = new AppProcess({
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
        ...env,
      },
    });
    enrichers.push(enricher);
    return enricher.start();
  }

  async function send(envelopes: ReturnType<typeof burst>): Promise<void> {
    await producer.send({
      topic: names.physical(TOPICS.events.name),
      messages: envelopes.map((envelope) => ({ key: envelope.event.resource.gid, value: JSON.stringify(envelope) })),
    });
  }

  beforeEach(async () => {
    [names, db] = await Promise.all([createTestTopics(), createTestDatabase()]);
    sim = await startSimulatorProcess(
      { SIM_SEED_TASKS_PER_PROJECT: '150', SIM_RATE_LIMIT_REQUESTS: '0', SIM_MAX_CONCURRENT_READS: '8' },
      logDir,
    );
    producer = testKafka().producer();
    await producer.connect();
  });

  afterEach(async () => {
    await producer?.disconnect();
    await Promise.all(enrichers.splice(0).map((enricher) => enricher.stop()));
    await sim?.stop();
    await db?.drop();
  });

  it('answers a burst of 10 events per gid with one fetch per gid, never over its cap in flight', async () => {
    const gids = (await sim.firstProjectTaskGids()).slice(0, 100);
    expect(gids).toHaveLength(100);
    // The simulator refuses a 9th GET in flight with a 429: the enricher's cap keeps it at 8.
    await startEnricher({ ENRICHER_MAX_IN_FLIGHT: '8' });
    const states = await new TopicRecorder([names.physical(TOPICS.state.name)]).start();
    try {
      const envelopes = burst(gids, 10);
      const before = await apiStats(sim);
      await send(envelopes);
      const want = new Set(envelopes.map((e) => e.eventId));
      await waitFor(
        'a state answering every event',
        () => {
          const answered = new Set(states.messages.flatMap((m) => (m.value as ResourceStateMessage).causes));
          return [...want].every((id) => answered.has(id));
        },
        { timeoutMs: 60_000 },
      );
      const after = await apiStats(sim);
      const calls = requestsOf(after) - requestsOf(before);
      expect(calls / envelopes.length).toBeLessThanOrEqual(0.15);
      expect(after.concurrencyLimited).toBe(0);
      expect(after.rateLimited).toBe(0);
      // Each state's causes are its gid's events, in the order they were sent.
      const sentOrder = new Map(envelopes.map((e, i) => [e.eventId, i]));
      for (const message of states.messages) {
        const { gid, causes } = message.value as ResourceStateMessage;
        expect(message.key).toBe(gid);
        expect(causes.every((id) => id.startsWith(`${gid}-`))).toBe(true);
        const positions = causes.map((id) => sentOrder.get(id)!);
        expect(positions).toEqual([...positions].sort((a, b) => a - b));
      }
    } finally {
      await states.stop();
    }
  }, 120_000);

  it("keeps two enrichers sharing one token's budget in Postgres within it together", async () => {
    const gids = (await sim.firstProjectTaskGids()).slice(0, 150);
    const budget = {
      ASANA_REQUESTS_PER_MINUTE: '60', // 10 per 10-second window, for both together
      ASANA_BUDGET_DATABASE_URL: db.url,
      ENRICHER_MAX_IN_FLIGHT: '8',
    };
    await Promise.all([startEnricher(budget), startEnricher(budget)]);
    const states = await new TopicRecorder([names.physical(TOPICS.state.name)]).start();
    try {
      const before = await apiStats(sim);
      // One event per gid: every one costs a request, far more than the budget allows.
      await send(burst(gids, 1));
      // Both members have partitions and work: the first states show up.
      await waitFor('the first states', () => states.messages.length > 0, { timeoutMs: 30_000 });
      const started = Date.now();
      await new Promise((done) => setTimeout(done, 25_000));
      const elapsed = Date.now() - started;
      const calls = requestsOf(await apiStats(sim)) - requestsOf(before);
      // A window opens at most every 10 s, with 10 requests for both enrichers together: within
      // the ~25 s since the first request, 3 windows began. Each enricher on a budget of its own
      // would have made twice as many; and the budget is used, not left idle.
      const windows = Math.floor(elapsed / 10_000) + 1;
      expect(calls).toBeLessThanOrEqual(10 * windows);
      expect(calls).toBeGreaterThanOrEqual(10 * (windows - 1));
      expect(new Set(states.messages.map((m) => m.key)).size).toBe(calls);
    } finally {
      await states.stop();
    }
  }, 120_000);
});
