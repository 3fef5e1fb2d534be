import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Partitioners } from 'kafkajs';
import { Client } from 'pg';
import {
  allTopics,
  deadLetterTopic,
  TOPICS,
  type ResourceStateMessage,
  type TopicNames,
} from '@asana-stream/contracts';
import {
  createTestDatabase,
  createTestTopics,
  freePort,
  TEST_BROKERS,
  testKafka,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import { consumerGroupId } from './kafka-client';
import { deleteTopics } from './topic-admin';

const REPO_ROOT = resolve(__dirname, '../../..');

/**
 * A projector run as in production (`node dist/apps/projector/src/main.js`), as a child this test
 * can SIGKILL: a `kill -9` leaves no goodbye to the group coordinator, only a silent session.
 */
async function startProjector(env: Record<string, string>, logDir: string, n: number): Promise<ChildProcess> {
  const port = await freePort();
  const log = createWriteStream(join(logDir, `projector-${n}.log`), { flags: 'a' });
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/apps/projector/src/main.js')], {
    cwd: REPO_ROOT,
    // Only the app's own settings (node needs no PATH: it is started by its absolute path).
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  await waitFor(
    `projector ${n} to be ready (log: ${join(logDir, `projector-${n}.log`)})`,
    async () => {
      if (child.exitCode !== null) throw new Error(`projector ${n} exited with ${child.exitCode}`);
      return (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  return child;
}

function stateOf(gid: string, version: number): ResourceStateMessage {
  return {
    gid,
    type: 'task',
    version,
    versionSource: 'modified_at',
    deleted: false,
    state: { gid, resource_type: 'task', name: `task ${gid}`, completed: false },
    fetchedAt: new Date().toISOString(),
    causes: [],
  };
}

/** The state with a NUL in its name: JSON carries it, Postgres' text and jsonb do not. */
function withNul(message: ResourceStateMessage): ResourceStateMessage {
  return { ...message, state: { ...message.state!, name: 'before\u0000after' } };
}

describe('the projector on the consumer transport, as deployed', () => {
  let db: TestDatabase;
  let names: TopicNames;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await deleteTopics(testKafka(), allTopics(), names);
    await db.drop();
  });

  it('replaces a member killed with kill -9 within 15 s: states for gids on every partition are all applied', async () => {
    const logDir = join(REPO_ROOT, '.local/int', `failover-${names.prefix}`);
    mkdirSync(logDir, { recursive: true });
    const env = { DATABASE_URL: db.url, KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix };
    children.push(await startProjector(env, logDir, 1), await startProjector(env, logDir, 2));
    const groupId = consumerGroupId(names.prefix, 'projector');
    const admin = testKafka().admin();
    await admin.connect();
    try {
      // Both members hold partitions before one dies.
      await waitFor('a stable group of two members, each with partitions', async () => {
        const {
          groups: [group],
        } = await admin.describeGroups([groupId]);
        return group.state === 'Stable' && group.members.length === 2;
      });
    } finally {
      await admin.disconnect();
    }

    children[0].kill('SIGKILL');
    const killedAt = Date.now();

    const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const gids = Array.from({ length: 60 }, (_, i) => String(7_000_000 + i));
    let partitions: number[];
    try {
      const written = await producer.send({
        topic: names.physical(TOPICS.state.name),
        acks: -1,
        messages: gids.map((gid) => ({ key: gid, value: JSON.stringify(stateOf(gid, 1_795_000_000_000)) })),
      });
      partitions = written.map((metadata) => metadata.partition);
    } finally {
      await producer.disconnect();
    }
    expect(new Set(partitions).size).toBe(TOPICS.state.partitions);

    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await waitFor(
        'every state applied',
        async () => {
          const { rows } = await client.query<{ count: string }>(/* sql */ `SELECT count(*) FROM tasks`);
          return Number(rows[0].count) === gids.length;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      await client.end();
    }
    expect(Date.now() - killedAt).toBeLessThan(15_000);
  });

  it('dead-letters a state Postgres would refuse with its reason, as its handler threw it', async () => {
    // A NUL fits the contract (a string) but not Postgres' text or jsonb: the projector refuses it
    // as DATA_REJECTED. Its code in the dead-letter headers shows the handler's error reached the
    // transport whole (Nest's default filter would have made it an opaque UNKNOWN).
    const gid = '7100000';
    const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({
        topic: names.physical(TOPICS.state.name),
        acks: -1,
        messages: [{ key: gid, value: JSON.stringify(withNul(stateOf(gid, 0))) }],
      });
    } finally {
      await producer.disconnect();
    }
    const parked: Record<string, string>[] = [];
    const reader = testKafka().consumer({ groupId: `dlq-reader-${names.prefix}`, maxWaitTimeInMs: 100 });
    await reader.connect();
    try {
      await reader.subscribe({
        topics: [names.physical(deadLetterTopic(TOPICS.state.name).name)],
        fromBeginning: true,
      });
      await reader.run({
        eachMessage: async ({ message }) => {
          parked.push(Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])));
        },
      });
      await waitFor('the refused state in asana.state.dlq', () => parked.length > 0, { timeoutMs: 20_000 });
    } finally {
      await reader.disconnect();
    }
    expect(parked).toEqual([expect.objectContaining({ 'x-dlq-code': 'DATA_REJECTED', 'x-dlq-attempts': '1' })]);
  });
});
