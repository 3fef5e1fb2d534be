import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { Client } from 'pg';
import { deadLetterTopic, TOPICS, type AsanaEventEnvelope, type TopicNames } from '@asana-stream/contracts';
import { AsanaStreamError } from '@asana-stream/errors';
import { deadLetterRecord } from '@asana-stream/kafka';
import { asanaTaskEvent } from './asana-fixtures';
import { testKafka } from './test-kafka';
import type { TestDatabase } from './test-database';

/** A numeric gid no other test uses. */
export const uniqueGid = (): string =>
  `12${BigInt(`0x${randomBytes(6).toString('hex')}`)
    .toString()
    .padStart(14, '0')}`;

/** A valid W3C traceparent and the trace id in it. */
export function traceparentFor(): { traceparent: string; traceId: string } {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
}

/** What `seedLookupFixture` wrote about its gid, to compare a lookup's answer with. */
export interface LookupFixture {
  gid: string;
  /** The events of the gid on `asana.events`, in the order written, with their trace ids. */
  events: { eventId: string; field: string; traceId: string; deliveryId: string; subscriptionId: string }[];
  /** Outbox ids by what the relay did with them. */
  outbox: { published: string; parked: string; pending: string };
  outboxTraceId: string;
  deadLetters: { topic: string; code: string; traceId: string }[];
  /** Events of other gids written between the gid's, to the same topic. */
  others: number;
}

/**
 * Gives one task everything `asana-stream lookup` lists, as the pipeline would have left it: a
 * projection row, three outbox rows (published, parked, and one pending behind the parked one,
 * which the relay therefore leaves alone), three events on `asana.events` among other gids' (each
 * with its own trace and delivery), and one dead letter on each dead-letter topic.
 */
export async function seedLookupFixture(db: TestDatabase, names: TopicNames): Promise<LookupFixture> {
  const gid = uniqueGid();
  const outboxTrace = traceparentFor();
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  let outbox: LookupFixture['outbox'];
  try {
    await pg.query(
      /* sql */ `INSERT INTO tasks (gid, name, completed, state, version, updated_at) VALUES ($1, 'Fixture task', false, $2, $3, now())`,
      [gid, JSON.stringify({ gid, resource_type: 'task', name: 'Fixture task' }), 1_764_000_000_000],
    );
    const insert = async (version: number, extra: string) => {
      const change = {
        schema: 1,
        gid,
        type: 'task',
        action: 'updated',
        version,
        changes: { name: { from: 'a', to: 'b' } },
      };
      const { rows } = await pg.query<{ id: string }>(
        /* sql */ `INSERT INTO outbox (gid, type, change, traceparent${extra ? `, ${extra}` : ''})
                   VALUES ($1, 'task', $2, $3${extra ? ', now()' : ''}) RETURNING id`,
        [gid, JSON.stringify(change), outboxTrace.traceparent],
      );
      return rows[0].id;
    };
    const published = await insert(1, 'published_at');
    const parked = await insert(2, 'parked_at');
    await pg.query(
      /* sql */ `UPDATE outbox SET attempts = 1, last_error = 'MESSAGE_TOO_LARGE: refused' WHERE id = $1`,
      [parked],
    );
    const pending = await insert(3, '');
    outbox = { published, parked, pending };
  } finally {
    await pg.end();
  }

  const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
  await producer.connect();
  const events: LookupFixture['events'] = [];
  const deadLetters: LookupFixture['deadLetters'] = [];
  let others = 0;
  try {
    for (const field of ['name', 'notes', 'completed']) {
      const noise = uniqueGid();
      await producer.send({
        topic: names.physical(TOPICS.events.name),
        messages: [{ key: noise, value: JSON.stringify({ eventId: `other-${noise}` }) }],
      });
      others++;
      const trace = traceparentFor();
      const event = asanaTaskEvent({
        resource: { gid, resource_type: 'task', resource_subtype: 'default_task' },
        change: { field, action: 'changed' },
      });
      const envelope: AsanaEventEnvelope = {
        eventId: `event-${gid}-${field}`,
        source: 'webhook',
        subscriptionId: `sub-${field}`,
        deliveryId: `delivery-${field}`,
        receivedAt: new Date().toISOString(),
        event,
      };
      await producer.send({
        topic: names.physical(TOPICS.events.name),
        messages: [{ key: gid, value: JSON.stringify(envelope), headers: { traceparent: trace.traceparent } }],
      });
      events.push({
        eventId: envelope.eventId,
        field,
        traceId: trace.traceId,
        deliveryId: envelope.deliveryId!,
        subscriptionId: envelope.subscriptionId!,
      });
    }
    for (const [source, code] of [
      [TOPICS.events.name, 'REJECTED'],
      [TOPICS.state.name, 'DATA_REJECTED'],
    ] as const) {
      const trace = traceparentFor();
      const failedAt = new Date();
      const record = deadLetterRecord(
        {
          topic: names.physical(source),
          partition: 0,
          message: {
            key: Buffer.from(gid),
            value: Buffer.from('{}'),
            headers: { traceparent: trace.traceparent },
            offset: '7',
            timestamp: String(failedAt.getTime()),
            attributes: 0,
          },
        },
        new AsanaStreamError(code, `refused for the fixture (${code})`),
        { attempts: 1, firstFailureAt: failedAt, lastFailureAt: failedAt },
      );
      await producer.send({ topic: names.physical(deadLetterTopic(source).name), messages: [record] });
      deadLetters.push({ topic: deadLetterTopic(source).name, code, traceId: trace.traceId });
    }
  } finally {
    await producer.disconnect();
  }
  return { gid, events, outbox, outboxTraceId: outboxTrace.traceId, deadLetters, others };
}
