import { Command, CommanderError } from 'commander';
import { ConfigError, loadAppConfig } from '@asana-stream/config';
import { EXIT_CONFIG } from '@asana-stream/runtime';
import type { CliContext } from './cli-context';
import { describeCliFailure } from './cli-failure';
import { registerConsumersCommands } from './commands/consumers.command';
import { registerDlqCommands } from './commands/dlq.command';
import { registerLookupCommand } from './commands/lookup.command';
import { registerOutboxCommands } from './commands/outbox.command';
import { registerReconcileCommand } from './commands/reconcile.command';
import { registerReplayCommand } from './commands/replay.command';
import { registerRoutesCommands } from './commands/routes.command';
import { registerSecretsCommands } from './commands/secrets.command';
import { registerSetupCommands } from './commands/setup.command';
import { registerStatusCommand } from './commands/status.command';
import { registerWebhookCommands } from './commands/webhooks.command';

const program = new Command('asana-stream')
  .description(
    'Operate asana-stream: schema, topics, Asana webhooks, dead letters, parked outbox rows, and one resource looked up by gid.\nConfiguration comes from the environment (DATABASE_URL, KAFKA_BROKERS, ASANA_BASE_URL, ASANA_TOKEN, INGEST_PUBLIC_URL, KAFKA_TOPIC_PREFIX; WEBHOOK_SECRET_KEYS for the commands that read webhook secrets).',
  )
  .showHelpAfterError()
  .exitOverride();

let context: CliContext | undefined;
function getContext(): CliContext {
  // Validated on first use, so `--help` works with no environment at all.
  context ??= {
    config: loadAppConfig('cli', { ASANA_TOKEN: needsNoToken() ? '-' : undefined, ...process.env }),
    say: (line) => process.stderr.write(`${line}\n`),
    print: (line) => process.stdout.write(`${line}\n`),
  };
  return context;
}

/** Commands that never call Asana's API do not need a token. */
function needsNoToken(): boolean {
  const [command, sub] = process.argv.slice(2);
  return (
    [
      'setup',
      'reset',
      'db',
      'topics',
      'status',
      'dlq',
      'outbox',
      'lookup',
      'secrets',
      'consumers',
      'routes',
      'replay',
      'reconcile',
    ].includes(command) ||
    (command === 'webhooks' && sub === 'list')
  );
}

registerSetupCommands(program, getContext);
registerWebhookCommands(program, getContext);
registerStatusCommand(program, getContext);
registerDlqCommands(program, getContext);
registerOutboxCommands(program, getContext);
registerConsumersCommands(program, getContext);
registerLookupCommand(program, getContext);
registerReconcileCommand(program, getContext);
registerSecretsCommands(program, getContext);
registerRoutesCommands(program, getContext);
registerReplayCommand(program, getContext);

program
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = EXIT_CONFIG;
      return;
    }
    process.stderr.write(`asana-stream: ${describeCliFailure(error)}\n`);
    if (process.env.LOG_LEVEL === 'debug') process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    // Every command closes what it opened; should a client library still hold a timer or a
    // socket (kafkajs reconnecting), the command is over all the same.
    setTimeout(() => process.exit(), 1000).unref();
  });
