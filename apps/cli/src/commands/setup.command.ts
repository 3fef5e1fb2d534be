import type { Command } from 'commander';
import { type CliConfig } from '@asana-stream/config';
import { allTopics, TopicNames } from '@asana-stream/contracts';
import { dropDatabase, ensureDatabaseExists } from '@asana-stream/db';
import { deleteTopics, ensureTopics } from '@asana-stream/kafka';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure, DependencyUnavailableError } from '../cli-failure';

/** Creates the database if missing and applies pending migrations. */
export async function migrateDatabase(config: CliContext['config'], say: CliContext['say']): Promise<void> {
  const created = await ensureDatabaseExists(config.db.DATABASE_URL).catch((cause: unknown) => {
    throw new DependencyUnavailableError('postgres', config.db.DATABASE_URL, cause);
  });
  if (created) say('database created');
  await withConnections(config, { database: true }, async ({ dataSource }) => {
    const applied = await dataSource.runMigrations({ transaction: 'all' });
    say(applied.length ? `migrations applied: ${applied.map((m) => m.name).join(', ')}` : 'schema is current');
  });
}

/** Creates every topic of the topology that is missing. */
export async function createTopics(config: CliConfig, say: CliContext['say']): Promise<void> {
  const result = await withConnections(config, { kafka: true }, ({ kafka }) =>
    ensureTopics(kafka, allTopics(), new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX)),
  );
  say(
    `topics created: ${result.created.length ? result.created.join(', ') : 'none'}; already there: ${result.existing.length}`,
  );
}

export function registerSetupCommands(program: Command, context: () => CliContext): void {
  program
    .command('setup')
    .description('prepare a fresh installation: create the database, run migrations, create the Kafka topics')
    .action(async () => {
      const { config, say } = context();
      await migrateDatabase(config, say);
      await createTopics(config, say);
    });

  program
    .command('reset')
    .description("DESTRUCTIVE: delete this installation's topics (KAFKA_TOPIC_PREFIX) and drop its database")
    .option('--yes', 'confirm: everything in those topics and that database is lost')
    .action(async (options: { yes?: boolean }) => {
      const { config, say } = context();
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const database = new URL(config.db.DATABASE_URL).pathname.slice(1);
      if (!options.yes) {
        throw new CliFailure(
          `reset deletes topics ${names.physical('asana.*')} and database "${database}"; run again with --yes to do it`,
        );
      }
      const deleted = await withConnections(config, { kafka: true }, ({ kafka }) =>
        deleteTopics(kafka, allTopics(), names),
      );
      say(`topics deleted: ${deleted.length ? deleted.join(', ') : 'none'}`);
      const dropped = await dropDatabase(config.db.DATABASE_URL).catch((cause: unknown) => {
        throw new DependencyUnavailableError('postgres', config.db.DATABASE_URL, cause);
      });
      say(dropped ? `database "${database}" dropped` : `no database "${database}"`);
    });

  const db = program.command('db').description('database schema');
  db.command('migrate')
    .description('create the database if missing and apply pending TypeORM migrations')
    .action(async () => {
      const { config, say } = context();
      await migrateDatabase(config, say);
    });

  const topics = program.command('topics').description('Kafka topics of the topology');
  topics
    .command('create')
    .description('create missing topics with their partitions and configs (auto-creation stays off)')
    .action(async () => {
      const { config, say } = context();
      await createTopics(config, say);
    });
}
