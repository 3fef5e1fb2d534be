import { randomBytes } from 'node:crypto';
import { allTopics, TopicNames } from '@asana-stream/contracts';
import { dropDatabase } from '@asana-stream/db';
import { deleteTopics } from '@asana-stream/kafka';
import { freePort, runCli, TEST_SERVER_URL, testKafka } from '@asana-stream/testing';

/** The cli as operators run it; a command still running after 30 s fails the test. */
const cli = (env: Record<string, string>, ...args: string[]) => runCli(env, args, { timeoutMs: 30_000 });

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

function databaseUrl(name: string, password?: string): string {
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  if (password) url.password = password;
  return url.toString();
}

describe('asana-stream cli against missing or unreachable dependencies', () => {
  const prefix = `cli-${randomBytes(4).toString('hex')}.`;
  const database = `asana_stream_cli_${randomBytes(4).toString('hex')}`;
  const env = { DATABASE_URL: databaseUrl(database), KAFKA_TOPIC_PREFIX: prefix };

  afterAll(async () => {
    await deleteTopics(testKafka(), allTopics(), new TopicNames(prefix));
    await dropDatabase(databaseUrl(database));
  });

  it('status with no such database ends at once with one line saying to run setup', async () => {
    const run = await cli(env, 'status');
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(`^asana-stream: database "${database}" does not exist .*run \`asana-stream setup\`.*DATABASE_URL`),
      ),
    ]);
    expect(run.stdout).toBe('');
    expect(run.ms).toBeLessThan(10_000);
  });

  it('setup creates database, schema and topics without a single kafkajs error line', async () => {
    const run = await cli(env, 'setup');
    expect(run.code).toBe(0);
    expect(lines(run.stderr)).toEqual([
      'database created',
      expect.stringMatching(/^migrations applied: /),
      expect.stringMatching(
        new RegExp(`^topics created: ${prefix.replace('.', '\\.')}asana\\.events, .*; already there: 0$`),
      ),
    ]);
  });

  it('status after setup prints one line per reading and exits 0', async () => {
    const run = await cli(env, 'status', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      deliveries: 0,
      events: 0,
      enricherLag: 0,
      changes: 0,
      deadLetters: { 'asana.events.dlq': 0, 'asana.state.dlq': 0 },
      eventsApi: {
        followed: 0,
        failing: 0,
        resyncRequested: 0,
        eventsRead: 0,
        eventsPublished: 0,
        oldestPollAt: null,
        notFollowed: {},
      },
      resync: {
        awaiting: 0,
        running: 0,
        pages: 0,
        repairs: { missing: 0, stale: 0, vanished: 0 },
        oldestResyncAt: null,
        oldestSweepAt: null,
        openDivergences: 0,
        oldestDivergenceAgeSeconds: 0,
        resources: [],
      },
    });
    expect(run.stderr).toBe('');
  });

  it("status with another installation's topic prefix ends at once with one line naming the missing topics", async () => {
    const run = await cli({ ...env, KAFKA_TOPIC_PREFIX: 'no-such-install.' }, 'status');
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^asana-stream: ${allTopics().length} of the installation's topics do not exist at .*no-such-install\\.asana\\.events.*KAFKA_TOPIC_PREFIX`,
        ),
      ),
    ]);
    expect(run.ms).toBeLessThan(10_000);
  });

  it('status with no Postgres server answering ends within seconds, one line, no password shown', async () => {
    const port = await freePort();
    const run = await cli({ ...env, DATABASE_URL: `postgres://postgres:s3cret-pw@127.0.0.1:${port}/x` }, 'status');
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      `asana-stream: no Postgres server answers at 127.0.0.1:${port} (ECONNREFUSED): start it (on this machine: bash scripts/postgres.sh ensure) or set DATABASE_URL`,
    ]);
    expect(run.ms).toBeLessThan(10_000);
  });

  it('status and setup with no Kafka broker answering end within seconds with one line each', async () => {
    const port = await freePort();
    for (const command of ['status', 'setup']) {
      const run = await cli({ ...env, KAFKA_BROKERS: `127.0.0.1:${port}` }, command);
      expect({ command, code: run.code }).toEqual({ command, code: 1 });
      expect(
        lines(run.stderr).filter((line) => line.startsWith('asana-stream:') || line.startsWith('kafkajs')),
      ).toEqual([
        `asana-stream: no Kafka broker answers at 127.0.0.1:${port} (ECONNREFUSED): start it (on this machine: bash scripts/kafka.sh start) or set KAFKA_BROKERS`,
      ]);
      expect(run.ms).toBeLessThan(10_000);
    }
  });

  it('names a variable set but empty instead of trying the default broker', async () => {
    const run = await cli({ ...env, KAFKA_BROKERS: '' }, 'status');
    expect(run.code).toBe(78);
    expect(run.stderr).toContain('KAFKA_BROKERS="": is set but empty');
    expect(run.ms).toBeLessThan(10_000);
  });
});
