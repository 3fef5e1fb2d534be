import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { createTestDatabase, waitFor, type TestDatabase } from '@asana-stream/testing';
import { NOTIFICATIONS_APPLICATION_NAME, PgNotifications } from './pg-notifications';

/**
 * The fanout's notification connection on the real server: every channel of the process on one
 * connection, waits woken per channel, a lost connection made again with every channel, and a
 * stop that ends every wait.
 */
describe('PgNotifications (real Postgres)', () => {
  /** Longer than any test: a wait that returns was woken, not timed out. */
  const FOREVER_MS = 600_000;
  let db: TestDatabase;
  let sql: Client;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    db = await createTestDatabase();
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  /** The listener's backends on the test database. */
  const listenerBackends = async (): Promise<number[]> =>
    (
      await sql.query<{ pid: number }>(
        /* sql */ `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
        [NOTIFICATIONS_APPLICATION_NAME],
      )
    ).rows.map((r) => r.pid);

  const notify = (channel: string): Promise<unknown> => sql.query(/* sql */ `SELECT pg_notify($1, '')`, [channel]);

  it('listens on every channel over one connection and wakes only the channel notified', async () => {
    const listener = new PgNotifications(db.url);
    try {
      const [outbox, feed] = [listener.channel('test_outbox'), listener.channel('test_feed')];
      expect(listener.channel('test_outbox')).toBe(outbox);
      await outbox.start();
      await feed.start();
      expect(await listenerBackends()).toHaveLength(1);

      const [outboxSeen, feedSeen] = [outbox.seen, feed.seen];
      const woken = outbox.wait(FOREVER_MS, outboxSeen);
      await notify('test_outbox');
      await woken;
      expect(outbox.seen).toBe(outboxSeen + 1);
      expect(feed.seen).toBe(feedSeen);

      // A notification while nobody waited ends the next wait at once (`since` is older).
      await notify('test_feed');
      await waitFor('the feed notification', () => feed.seen === feedSeen + 1);
      await feed.wait(FOREVER_MS, feedSeen);
    } finally {
      await listener.stop();
    }
    await waitFor('the connection closed', async () => (await listenerBackends()).length === 0);
  });

  it('listens on a channel asked for after it connected, on the same connection', async () => {
    const listener = new PgNotifications(db.url);
    try {
      await listener.channel('test_first').start();
      const [backend] = await listenerBackends();
      const late = listener.channel('test_late');
      expect(listener.listensTo('test_late')).toBe(false);
      const seen = late.seen;
      const woken = late.wait(FOREVER_MS, seen); // connects the channel first
      await waitFor('LISTEN on the late channel', () => listener.listensTo('test_late'));
      await notify('test_late');
      await woken;
      expect(late.seen).toBe(seen + 1);
      expect(await listenerBackends()).toEqual([backend]);
    } finally {
      await listener.stop();
    }
  });

  it('connects again after its connection is lost, and listens on every channel again', async () => {
    const listener = new PgNotifications(db.url);
    try {
      const [a, b] = [listener.channel('test_a'), listener.channel('test_b')];
      await listener.start();
      const [lost] = await listenerBackends();
      await sql.query(/* sql */ `SELECT pg_terminate_backend($1)`, [lost]);
      await waitFor('the loss noticed', () => !listener.listensTo('test_a') && !listener.listensTo('test_b'));

      // The next wait makes the connection again, with both channels.
      const seen = b.seen;
      const woken = b.wait(FOREVER_MS, seen);
      await waitFor('listening again', () => listener.listensTo('test_a') && listener.listensTo('test_b'));
      const backends = await listenerBackends();
      expect(backends).toHaveLength(1);
      expect(backends[0]).not.toBe(lost);
      await notify('test_b');
      await woken;
      const aSeen = a.seen;
      await notify('test_a');
      await a.wait(FOREVER_MS, aSeen);
    } finally {
      await listener.stop();
    }
  });

  it('ends every wait on stop, and answers later waits at once', async () => {
    const listener = new PgNotifications(db.url);
    const [a, b] = [listener.channel('test_stop_a'), listener.channel('test_stop_b')];
    await listener.start();
    const waits = [a.wait(FOREVER_MS), b.wait(FOREVER_MS)];
    await listener.stop();
    await Promise.all(waits);
    await a.wait(FOREVER_MS);
    expect(listener.listensTo('test_stop_a')).toBe(false);
    await waitFor('the connection closed', async () => (await listenerBackends()).length === 0);
  });

  it('while Postgres cannot be reached: start rejects, and waits still end at their timeout (polling)', async () => {
    const unreachable = new URL(db.url);
    unreachable.port = '1'; // nothing listens there
    const listener = new PgNotifications(unreachable.toString());
    try {
      const channel = listener.channel('test_unreachable');
      await expect(channel.start()).rejects.toThrow();
      const seen = channel.seen;
      await channel.wait(50, seen);
      expect(channel.seen).toBe(seen);
      expect(listener.listensTo('test_unreachable')).toBe(false);
    } finally {
      await listener.stop();
    }
  });
});
