import type { Admin, Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import type { CliConfig } from '@asana-stream/config';
import { createDataSource } from '@asana-stream/db';
import { createKafkaClient, type KafkaLogSink } from '@asana-stream/kafka';
import { DependencyUnavailableError } from './cli-failure';

/** What every command gets: validated config, progress output (stderr) and result output (stdout). */
export interface CliContext {
  config: CliConfig;
  say: (line: string) => void;
  print: (line: string) => void;
}

/**
 * kafkajs' own lines go to stderr only with LOG_LEVEL=debug: otherwise a broker that does not
 * answer would print a line per retry, and the command's own one-line outcome says it all.
 */
function kafkaLogSink(config: CliConfig): KafkaLogSink {
  if (config.log.LOG_LEVEL !== 'debug') return () => undefined;
  return (level, { msg, error }) =>
    process.stderr.write(`kafkajs ${level}: ${msg}${typeof error === 'string' ? ` (${error})` : ''}\n`);
}

/**
 * A Kafka client for one command: a broker that does not answer fails the command within
 * seconds (kafkajs' defaults retry for about half a minute).
 */
export function cliKafka(config: CliConfig): Kafka {
  return createKafkaClient({
    brokers: config.kafka.KAFKA_BROKERS,
    clientId: 'asana-stream-cli',
    log: kafkaLogSink(config),
    connectionTimeout: 3000,
    retries: 2,
  });
}

/**
 * Runs `work` with a connected Kafka admin client and/or database, opening each inside the
 * `try` so that whatever did open is closed again, whichever step fails.
 */
export async function withConnections<T>(
  config: CliConfig,
  needs: { kafka?: boolean; database?: boolean },
  work: (opened: { kafka: Kafka; admin: Admin; dataSource: DataSource }) => Promise<T>,
): Promise<T> {
  const kafka = needs.kafka ? cliKafka(config) : undefined;
  const admin = kafka?.admin();
  const dataSource = needs.database ? createDataSource(config.db.DATABASE_URL, 2, 5000) : undefined;
  try {
    await Promise.all([
      admin?.connect().catch((cause: unknown) => {
        throw new DependencyUnavailableError('kafka', config.kafka.KAFKA_BROKERS, cause);
      }),
      dataSource?.initialize().catch((cause: unknown) => {
        throw new DependencyUnavailableError('postgres', config.db.DATABASE_URL, cause);
      }),
    ]);
    return await work({ kafka: kafka!, admin: admin!, dataSource: dataSource! });
  } finally {
    await Promise.allSettled([admin?.disconnect(), dataSource?.isInitialized ? dataSource.destroy() : undefined]);
  }
}
