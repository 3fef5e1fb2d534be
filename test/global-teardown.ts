import { dropTemplateDatabase } from '@asana-stream/testing';

/** Once per jest run, after every test: this run's template database goes. */
export default async function globalTeardown(): Promise<void> {
  await dropTemplateDatabase();
}
