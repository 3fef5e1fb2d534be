import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createDataSource } from '@asana-stream/db';

/**
 * The Postgres server the tests use: `DATABASE_URL`'s server (default the machine's). Tests never
 * touch that database itself: each test file gets a database of its own on the same server.
 */
export const TEST_SERVER_URL = (() => {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  url.pathname = '/postgres';
  return url.toString();
})();
/**
 * The migrated template of this jest run: named per run (globalSetup passes the name to the
 * workers through the environment), so two runs on one server never drop each other's.
 */
const TEMPLATE_ENV = 'ASANA_STREAM_TEST_TEMPLATE';
const templateName = (): string => {
  const name = process.env[TEMPLATE_ENV];
  if (!name)
    throw new Error(`${TEMPLATE_ENV} is unset: jest's globalSetup (test/global-setup.ts) prepares the template`);
  return name;
};

function urlFor(database: string): string {
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: urlFor('postgres') });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/** Creates this run's migrated template database, which every test database is cloned from (jest globalSetup). */
export async function prepareTemplateDatabase(): Promise<void> {
  process.env[TEMPLATE_ENV] = `asana_stream_test_template_${randomBytes(4).toString('hex')}`;
  const template = templateName();
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${template}`));
  const dataSource = createDataSource(urlFor(template), 1);
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'all' });
  } finally {
    await dataSource.destroy();
  }
}

/** Drops this run's template (jest globalTeardown). */
export async function dropTemplateDatabase(): Promise<void> {
  const template = templateName();
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`));
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, cloned from the template. Drop it in afterAll. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `asana_stream_test_${randomBytes(5).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${templateName()}`));
  return {
    name,
    url: urlFor(name),
    drop: () => withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
