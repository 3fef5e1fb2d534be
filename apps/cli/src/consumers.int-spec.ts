import { createDataSource, findEventsApiConsumer } from '@asana-stream/db';
import { createTestDatabase, runCli, type TestDatabase } from '@asana-stream/testing';

describe('asana-stream consumers (who may read the Events API)', () => {
  let db: TestDatabase;
  const cli = (...args: string[]) => runCli({ DATABASE_URL: db.url }, args);

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('creates a consumer whose printed token is the one the API accepts, lists it without the token, and deletes it', async () => {
    const created = await cli('consumers', 'create', '--name', 'billing-sync', '--types', 'task,project');
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^asev_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('billing-sync created; it may read task, project');

    const dataSource = createDataSource(db.url, 1);
    await dataSource.initialize();
    try {
      expect(await findEventsApiConsumer(dataSource, token)).toMatchObject({
        name: 'billing-sync',
        types: ['task', 'project'],
      });
      expect(await findEventsApiConsumer(dataSource, `${token}x`)).toBeNull();
      // Only a hash is stored.
      const stored = await dataSource.query<{ text: string }[]>(
        /* sql */ `SELECT row_to_json(c)::text AS text FROM events_api_consumers c`,
      );
      expect(stored[0].text).not.toContain(token.slice(5));
    } finally {
      await dataSource.destroy();
    }

    const listed = await cli('consumers', 'list', '--json');
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(token);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ name: 'billing-sync', types: ['task', 'project'] }),
    ]);

    const again = await cli('consumers', 'create', '--name', 'billing-sync');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('consumers delete --name billing-sync');

    expect((await cli('consumers', 'delete', '--name', 'billing-sync')).code).toBe(0);
    const missing = await cli('consumers', 'delete', '--name', 'billing-sync');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no consumer named billing-sync');
    expect((await cli('consumers', 'list')).stdout).toContain('no consumers');
  });

  it.each([
    [['consumers', 'create', '--name', 'Billing Sync'], "a consumer's name is"],
    [['consumers', 'create', '--name', 'ok', '--types', 'task,Project!'], '--types takes resource types'],
    [['consumers', 'create', '--name', 'ok', '--routes', 'billing,Bad Route'], '--routes takes route names'],
  ])('refuses %j with a message saying what is wrong', async (args, message) => {
    const run = await cli(...args);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(message);
  });
});
