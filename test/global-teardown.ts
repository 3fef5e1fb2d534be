import { deleteTopicsByPrefix, dropTemplateDatabase, testRunTopicPrefix } from '@asana-stream/testing';

/**
 * Once per jest run, after every test: this run's template database and this run's topics go.
 * A broker that cannot be reached only costs a warning: the tests have already reported.
 */
export default async function globalTeardown(): Promise<void> {
  await dropTemplateDatabase();
  try {
    await deleteTopicsByPrefix(testRunTopicPrefix());
  } catch (error) {
    process.stderr.write(`test teardown: could not delete this run's test topics: ${(error as Error).message}\n`);
  }
}
