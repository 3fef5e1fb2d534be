import { prepareTemplateDatabase } from '@asana-stream/testing';

/** Once per jest run: the migrated template every test database is cloned from. */
export default async function globalSetup(): Promise<void> {
  await prepareTemplateDatabase();
}
