import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { AsanaClient } from '@asana-stream/asana';
import { SubscriptionEntity } from '@asana-stream/db';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';

/** A subscription as the cli shows it: everything but its secret, which is never printed. */
export function publicSubscription(subscription: SubscriptionEntity): Omit<SubscriptionEntity, 'secret'> {
  const { secret: _secret, ...shown } = subscription;
  return shown;
}

/**
 * Creates a webhook the safe way: the subscription row exists (pending) before Asana's
 * handshake reaches ingest, and the secret ingest stored must equal the one in Asana's 201.
 */
export async function createWebhook(ctx: CliContext, resource: string): Promise<SubscriptionEntity> {
  const { config, say } = ctx;
  return withConnections(config, { database: true }, async ({ dataSource }) => {
    const subscriptions = dataSource.getRepository(SubscriptionEntity);
    const id = randomUUID();
    const targetUrl = `${config.webhooks.INGEST_PUBLIC_URL.replace(/\/+$/, '')}/webhooks/asana/${id}`;
    await subscriptions.insert({ id, resourceGid: resource, targetUrl, status: 'pending_handshake' });
    say(`subscription ${id} pending; asking Asana to create a webhook on ${resource} → ${targetUrl}`);
    const asana = new AsanaClient({ baseUrl: config.asana.ASANA_BASE_URL, token: config.asana.ASANA_TOKEN });
    let created;
    try {
      created = await asana.createWebhook(resource, targetUrl);
    } catch (error) {
      await subscriptions.update({ id }, { status: 'deleted' });
      throw new CliFailure(`Asana did not create the webhook: ${(error as Error).message}`, { cause: error });
    }
    const stored = await subscriptions.findOneByOrFail({ id });
    if (stored.secret !== created.secret) {
      await asana.deleteWebhook(created.webhook.gid);
      await subscriptions.update({ id }, { status: 'deleted' });
      throw new CliFailure(
        'the handshake secret ingest stored differs from the one Asana returned: webhook deleted again',
      );
    }
    await subscriptions.update({ id }, { webhookGid: created.webhook.gid, status: 'active' });
    say(`webhook ${created.webhook.gid} active (subscription ${id})`);
    return subscriptions.findOneByOrFail({ id });
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
