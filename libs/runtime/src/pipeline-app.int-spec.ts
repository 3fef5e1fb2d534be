import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TopicNames } from '@asana-stream/contracts';
import { dropDatabase, ensureDatabaseExists } from '@asana-stream/db';
import { parseExposition, samplesOf, sumOf } from '@asana-stream/metrics';
import {
  AppProcess,
  createTestDatabase,
  createTestTopics,
  freePort,
  stoppedCleanly,
  TEST_BROKERS,
  TEST_SERVER_URL,
  TEST_WEBHOOK_SECRET_KEYS,
  type TestDatabase,
} from '@asana-stream/testing';

/*
 * The pipeline apps as they are deployed: `node dist/apps/<app>/src/main.js` (run `npm run build`
 * first), started by the shared bootstrap, against the real broker and Postgres, or against ports
 * where nothing answers.
 */

const REPO_ROOT = resolve(__dirname, '../../..');
const LOG_DIR = join(REPO_ROOT, '.local/test-processes', `pipeline-app-${randomBytes(4).toString('hex')}`);
/** Few, quick attempts: the default (10 attempts 3 s apart) would make each case take 30 s. */
const QUICK_WAIT = { STARTUP_CONNECT_ATTEMPTS: '3', STARTUP_CONNECT_INTERVAL_MS: '200' };
/** Node's start, three attempts 200 ms apart and the exit, with room for a busy machine. */
const EXIT_BOUND_MS = 15_000;

interface Exited {
  code: number | null;
  elapsedMs: number;
  output: string;
  lines: { level: string; message: { msg: string } & Record<string, unknown>; context?: string }[];
}

/** Runs an app until it exits on its own (it is killed after 60 s), with everything it printed. */
async function runUntilExit(app: string, env: Record<string, string>): Promise<Exited> {
  const started = Date.now();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/apps', app, 'src/main.js')], {
    cwd: REPO_ROOT,
    // Only what the case sets (and the test key ingest and the enricher require): the test run's
    // own environment must not leak into the app.
    env: { HOST: '127.0.0.1', PORT: String(await freePort()), WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((done) => child.once('close', (exitCode) => done(exitCode)));
  clearTimeout(killer);
  const lines = output
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Exited['lines'][number]);
  return { code, elapsedMs: Date.now() - started, output, lines };
}

const messages = (run: Exited) => run.lines.map((line) => line.message.msg ?? line.message);

/**
 * The messages, less the real test broker's own waits: where Kafka is not the subject, a broker
 * slow to answer on a busy machine (one `waiting for kafka` line, then it answers) is not a failure.
 */
const messagesBesidesTestBroker = (run: Exited) =>
  messages(run).filter((message) => !String(message).startsWith(`waiting for kafka at ${TEST_BROKERS} `));

/** A port on this machine where nothing listens. */
const closedAddress = async () => `127.0.0.1:${await freePort()}`;

describe('a pipeline app whose dependency never answers', () => {
  it('logs one line per retry, then one fatal line naming Postgres, where and what to check, and exits 1', async () => {
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const postgres = await closedAddress();

    const run = await runUntilExit('projector', {
      ...QUICK_WAIT,
      DATABASE_URL: `postgres://asana:${password}@${postgres}/asana_stream`,
      KAFKA_BROKERS: TEST_BROKERS,
    });

    expect(messagesBesidesTestBroker(run)).toEqual([
      `waiting for postgres at ${postgres} (attempt 1/3): connect ECONNREFUSED`,
      `waiting for postgres at ${postgres} (attempt 2/3): connect ECONNREFUSED`,
      expect.stringMatching(
        new RegExp(
          `^projector cannot start: postgres at ${postgres} did not answer after 3 attempts over \\d+(\\.\\d)? s ` +
            `\\(connect ECONNREFUSED\\); check that it runs and DATABASE_URL$`,
        ),
      ),
    ]);
    expect(
      run.lines
        .filter((line) => !String(line.message.msg ?? line.message).startsWith(`waiting for kafka at ${TEST_BROKERS} `))
        .map((line) => line.level),
    ).toEqual(['warn', 'warn', 'fatal']);
    expect(run.code).toBe(1);
    expect(run.elapsedMs).toBeLessThan(EXIT_BOUND_MS);
    expect(run.output).not.toContain(password);
    expect(run.output).not.toMatch(/stack|\n\s+at /);
  });

  it('logs one line per retry, then one fatal line naming Kafka, where and what to check, and exits 1', async () => {
    const kafka = await closedAddress();

    // Postgres answers (the enricher's Events API follower keeps its place there): only Kafka does not.
    const db = await createTestDatabase();
    let run: Exited;
    try {
      run = await runUntilExit('enricher', {
        ...QUICK_WAIT,
        KAFKA_BROKERS: kafka,
        DATABASE_URL: db.url,
        ASANA_TOKEN: 'unused',
      });
    } finally {
      await db.drop();
    }

    expect(messages(run)).toEqual([
      `waiting for kafka at ${kafka} (attempt 1/3): connect ECONNREFUSED`,
      `waiting for kafka at ${kafka} (attempt 2/3): connect ECONNREFUSED`,
      expect.stringMatching(
        new RegExp(
          `^enricher cannot start: kafka at ${kafka} did not answer after 3 attempts over \\d+(\\.\\d)? s ` +
            `\\(connect ECONNREFUSED\\); check that it runs and KAFKA_BROKERS$`,
        ),
      ),
    ]);
    expect(run.code).toBe(1);
    expect(run.elapsedMs).toBeLessThan(EXIT_BOUND_MS);
    expect(run.output).not.toContain('unused');
    expect(run.output).not.toMatch(/stack|\n\s+at /);
  });

  it('waits for Postgres and Kafka at the same time and names both in its one fatal line', async () => {
    const [postgres, kafka] = [await closedAddress(), await closedAddress()];

    const run = await runUntilExit('fanout', {
      ...QUICK_WAIT,
      DATABASE_URL: `postgres://postgres@${postgres}/asana_stream`,
      KAFKA_BROKERS: kafka,
    });

    const fatal = run.lines.filter((line) => line.level === 'fatal');
    expect(fatal.map((line) => line.message.msg)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^fanout cannot start: postgres at ${postgres} did not answer .*DATABASE_URL; ` +
            `kafka at ${kafka} did not answer .*KAFKA_BROKERS$`,
        ),
      ),
    ]);
    expect(run.lines.filter((line) => line.level === 'warn')).toHaveLength(4);
    expect(run.code).toBe(1);
    expect(run.elapsedMs).toBeLessThan(EXIT_BOUND_MS);
  });
});

describe('a pipeline app whose database has pending migrations', () => {
  const url = (() => {
    const target = new URL(TEST_SERVER_URL);
    target.pathname = `/asana_stream_unmigrated_${randomBytes(4).toString('hex')}`;
    return target.toString();
  })();

  beforeAll(async () => {
    await ensureDatabaseExists(url);
  });
  afterAll(async () => {
    await dropDatabase(url);
  });

  it('refuses to start and says how to migrate', async () => {
    const run = await runUntilExit('ingest', { ...QUICK_WAIT, DATABASE_URL: url, KAFKA_BROKERS: TEST_BROKERS });

    expect(messagesBesidesTestBroker(run)).toEqual([
      expect.stringMatching(/^ingest cannot start: the database schema is not current: run `npm run db:migrate`/),
    ]);
    expect(run.code).toBe(1);
  });
});

describe('the pipeline apps with their dependencies up', () => {
  let db: TestDatabase;
  let names: TopicNames;

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('start ready with a check for each dependency they were given, say so once, and stop on SIGTERM', async () => {
    const env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: TEST_BROKERS,
      KAFKA_TOPIC_PREFIX: names.prefix,
      ASANA_TOKEN: 'unused',
      ASANA_BASE_URL: 'http://127.0.0.1:9/api/1.0',
    };
    const apps = await Promise.all(
      ['ingest', 'enricher', 'projector', 'fanout'].map(
        async (app) => new AppProcess({ app, env, logDir: LOG_DIR, port: await freePort() }),
      ),
    );
    try {
      await Promise.all(apps.map((app) => app.start()));

      const checks = await Promise.all(
        apps.map(async (app) => {
          const body = (await (await fetch(`${app.url}/health/ready`)).json()) as { info: Record<string, unknown> };
          return Object.keys(body.info).sort();
        }),
      );
      expect(checks).toEqual([
        // ingest serves known subscriptions from its cache while Postgres is down.
        ['kafka-producer'],
        ['kafka-consumer', 'kafka-producer'],
        ['database', 'kafka-consumer'],
        ['database', 'kafka-producer', 'outbox-relay'],
      ]);

      // GET /metrics on the same port: Prometheus text, every sample labelled with its app.
      const scraped = await Promise.all(
        apps.map(async (app) => {
          const response = await fetch(`${app.url}/metrics`);
          return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
        }),
      );
      expect(scraped.map(({ status }) => status)).toEqual([200, 200, 200, 200]);
      for (const { type } of scraped) expect(type).toMatch(/^text\/plain;.*version=0\.0\.4/);
      const expositions = scraped.map(({ text }) => parseExposition(text));
      expositions.forEach((exposition, index) => {
        const app = ['ingest', 'enricher', 'projector', 'fanout'][index];
        expect(samplesOf(exposition, 'process_cpu_user_seconds_total', { app })).toHaveLength(1);
        expect(exposition.samples.filter((sample) => sample.labels.app !== app)).toEqual([]);
      });
      const consumerReady = (index: number, app: string) =>
        sumOf(expositions[index], 'asana_stream_kafka_consumer_ready', { group: `${names.prefix}asana-stream-${app}` });
      expect([consumerReady(1, 'enricher'), consumerReady(2, 'projector')]).toEqual([1, 1]);
    } finally {
      const exits = await Promise.all(apps.map((app) => app.stop()));
      expect(exits.map(stoppedCleanly)).toEqual([true, true, true, true]);
    }
    const startedLines = apps.map((app) =>
      readFileSync(app.logFile, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => (JSON.parse(line) as { message: unknown }).message)
        .filter((message) => /^\w+ started$/.test((message as { msg?: string }).msg ?? '')),
    );
    const [ingest, enricher, projector, fanout] = apps.map((app) => Number(new URL(app.url).port));
    expect(startedLines).toEqual([
      [{ msg: 'ingest started', port: ingest }],
      [
        {
          msg: 'enricher started',
          port: enricher,
          groupId: `${names.prefix}asana-stream-enricher`,
          asana: env.ASANA_BASE_URL,
        },
      ],
      [{ msg: 'projector started', port: projector, groupId: `${names.prefix}asana-stream-projector` }],
      [{ msg: 'fanout started', port: fanout }],
    ]);
  }, 120_000);
});
