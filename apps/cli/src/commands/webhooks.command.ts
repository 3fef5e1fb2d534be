import type { Command } from 'commander';
import { AsanaClient, registerWebhook, WebhookRegistrationError } from '@asana-stream/asana';
import { SubscriptionEntity, subscriptionStore } from '@asana-stream/db';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';

/** A subscription as the cli shows it: everything but its secret, which is never printed. */
export function publicSubscription(subscription: SubscriptionEntity): Omit<SubscriptionEntity, 'secret'> {
  const { secret: _secret, ...shown } = subscription;
  return shown;
}

/** Creates a webhook (`registerWebhook`: the row first, then Asana's create and handshake, secrets compared). */
export async function createWebhook(ctx: CliContext, resource: string): Promise<SubscriptionEntity> {
  const { config, say } = ctx;
  return withConnections(config, { database: true }, async ({ dataSource }) => {
    const asana = new AsanaClient({ baseUrl: config.asana.ASANA_BASE_URL, token: config.asana.ASANA_TOKEN });
    let registered;
    try {
      registered = await registerWebhook(
        asana,
        subscriptionStore(dataSource),
        resource,
        config.webhooks.INGEST_PUBLIC_URL,
        say,
      );
    } catch (error) {
      if (error instanceof WebhookRegistrationError) throw new CliFailure(error.message, { cause: error });
      throw error;
    }
    return dataSource.getRepository(SubscriptionEntity).findOneByOrFail({ id: registered.subscriptionId });
  });
}

export function registerWebhookCommands(program: Command, context: () => CliContext): void {
  const webhooks = program.command('webhooks').description('manage Asana webhooks that deliver to ingest');
  webhooks
    .command('create')
    .description('register a webhook on an Asana resource (a project or task gid); ingest must be running')
    .requiredOption('--resource <gid>', 'gid of the Asana resource to watch')
    .option('--json', 'print the subscription as JSON')
    .action(async (options: { resource: string; json?: boolean }) => {
      if (!/^\d+$/.test(options.resource))
        throw new CliFailure(`--resource must be an Asana gid (digits), got "${options.resource}"`);
      const ctx = context();
      const subscription = await createWebhook(ctx, options.resource);
      if (options.json) ctx.print(JSON.stringify(publicSubscription(subscription)));
    });
  webhooks
    .command('list')
    .description('list known subscriptions with their status and last contact')
    .action(async () => {
      const { config, print } = context();
      await withConnections(config, { database: true }, async ({ dataSource }) => {
        const rows = await dataSource.getRepository(SubscriptionEntity).find({ order: { createdAt: 'ASC' } });
        for (const row of rows) {
          print(
            [
              row.id,
              row.webhookGid ?? '-',
              row.resourceGid,
              row.status,
              row.lastDeliveryAt?.toISOString() ?? 'never',
            ].join('\t'),
          );
        }
      });
    });
}
