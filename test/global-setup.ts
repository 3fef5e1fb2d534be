import { randomBytes } from 'node:crypto';
import { prepareTemplateDatabase, TEST_RUN_ID_ENV } from '@asana-stream/testing';

/**
 * Once per jest run: the migrated template every test database is cloned from, and the run id
 * every test topic's name carries (the workers inherit the environment), so the teardown can
 * delete this run's topics.
 */
export default async function globalSetup(): Promise<void> {
  process.env[TEST_RUN_ID_ENV] ??= randomBytes(4).toString('hex');
  await prepareTemplateDatabase();
}
