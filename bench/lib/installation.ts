import { randomBytes } from 'node:crypto';
import { TopicNames } from '@asana-stream/contracts';
import type { BenchContext, Installation } from './benchmark';
import { runToCompletion } from './processes';

const CLI = 'apps/cli/src/main.js';

/**
 * A bench installation made the way operators make one: `asana-stream setup` creates and
 * migrates a database of its own and the topology's topics under the bench prefix. `remove`
 * is `asana-stream reset --yes`: those topics and that database go.
 */
export async function createInstallation(
  ctx: Pick<BenchContext, 'prefix' | 'brokers' | 'postgresServerUrl' | 'logDir'>,
  /** More variables for the installation's apps (`--traced`: where they export their spans). */
  appEnv: Record<string, string> = {},
): Promise<Installation & { remove(): Promise<void> }> {
  const database = `asana_stream_${ctx.prefix.replace(/[^a-z0-9]/gi, '_').replace(/_+$/, '')}`;
  const url = new URL(ctx.postgresServerUrl);
  url.pathname = `/${database}`;
  const env = {
    DATABASE_URL: url.toString(),
    KAFKA_BROKERS: ctx.brokers,
    KAFKA_TOPIC_PREFIX: ctx.prefix,
    // ingest encrypts the handshake secrets it stores; a key of the run's own does, as in production.
    WEBHOOK_SECRET_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    ...appEnv,
  };
  const cli = (name: string, ...args: string[]) =>
    runToCompletion({ name, entry: CLI, args, env, logDir: ctx.logDir }, 120_000);
  await cli('cli-setup', 'setup');
  return {
    names: new TopicNames(ctx.prefix),
    databaseUrl: env.DATABASE_URL,
    env,
    remove: () => cli('cli-reset', 'reset', '--yes'),
  };
}
