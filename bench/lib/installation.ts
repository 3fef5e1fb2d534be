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
  /** Where the apps export their spans (`--traced`); without it they make none, as deployed without one. */
  otlpEndpoint?: string,
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
    ...(otlpEndpoint ? { ...samplerSettings(process.env), OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint } : {}),
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

/** `OTEL_TRACES_SAMPLER` and its argument from the bench's environment, for a traced run to try a sampler. */
function samplerSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const names = ['OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'] as const;
  return Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
}
