import { randomBytes } from 'node:crypto';
import { TEST_SERVER_URL } from '@asana-stream/testing';
import {
  assertSchemaCurrent,
  createDataSource,
  DatabaseNotReadyError,
  dropDatabase,
  ensureDatabaseExists,
} from './data-source';

const urlOf = (name: string) => {
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
};

describe('preparing the database', () => {
  const url = urlOf(`asana_stream_prep_${randomBytes(4).toString('hex')}`);

  afterAll(async () => {
    await dropDatabase(url);
  });

  it('creates the database when it is missing, and only then', async () => {
    expect(await ensureDatabaseExists(url)).toBe(true);
    expect(await ensureDatabaseExists(url)).toBe(false);
  });

  it('refuses to serve from a schema with pending migrations, saying how to apply them', async () => {
    const dataSource = createDataSource(url, 1);
    await dataSource.initialize();
    try {
      await expect(assertSchemaCurrent(dataSource)).rejects.toThrow(/npm run db:migrate/);
      await dataSource.runMigrations({ transaction: 'all' });
      await expect(assertSchemaCurrent(dataSource)).resolves.toBeUndefined();
    } finally {
      await dataSource.destroy();
    }
  });

  it('says how to start Postgres when no server answers', async () => {
    const error = await ensureDatabaseExists('postgres://postgres@127.0.0.1:1/nothing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseNotReadyError);
    expect((error as Error).message).toMatch(/pg_ctlcluster|DATABASE_URL/);
  });

  it('drops the database, and reports when there was none', async () => {
    expect(await dropDatabase(url)).toBe(true);
    expect(await dropDatabase(url)).toBe(false);
  });
});
