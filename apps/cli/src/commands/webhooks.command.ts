import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import {
  AsanaApiError,
  AsanaClient,
  isNotVisible,
  registerWebhook,
  WebhookRegistrationError,
  type AsanaWebhookFilter,
} from '@asana-stream/asana';
import type { CliConfig } from '@asana-stream/config';
import { SubscriptionEntity, subscriptionStore } from '@asana-stream/db';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';
import { webhookSecretCipher } from './secrets.command';
import { parseWebhookFilter, WEBHOOK_FILTER_HELP, WebhookFilterSyntaxError } from './webhook-filter';

/** A subscription as the cli shows it: everything but its secret, which is never printed. */
export function publicSubscription(subscription: SubscriptionEntity): Omit<SubscriptionEntity, 'secret'> {
  const { secret: _secret, ...shown } = subscription;
  return shown;
}

/**
 * Creates a webhook (`registerWebhook`: the row first, then Asana's create and handshake, secrets
 * compared), with Asana's `filters` (null or none: none), which the subscription keeps.
 */
export async function createWebhook(
  ctx: CliContext,
  resource: string,
  filters: readonly AsanaWebhookFilter[] | null = null,
): Promise<SubscriptionEntity> {
  const { config, say } = ctx;
  // Before anything is created: the secret ingest stores is compared, decrypted, with Asana's.
  const cipher = webhookSecretCipher(config, 'webhooks create');
  return withConnections(config, { database: true }, async ({ dataSource }) => {
    const asana = new AsanaClient({ baseUrl: config.asana.ASANA_BASE_URL, token: config.asana.ASANA_TOKEN });
    let registered;
    try {
      registered = await registerWebhook(
        asana,
        subscriptionStore(dataSource, cipher),
        resource,
        config.webhooks.INGEST_PUBLIC_URL,
        { say, filters },
      );
    } catch (error) {
      if (error instanceof WebhookRegistrationError) {
        // Asana refuses a webhook on a workspace, team or portfolio without filters (400).
        const refused = error.cause instanceof AsanaApiError && error.cause.status === 400;
        const hint =
          refused && !filters?.length
            ? ' (a webhook on a workspace, team or portfolio must have at least one --filter: see `webhooks create --help`)'
            : '';
        throw new CliFailure(`${error.message}${hint}`, { cause: error });
      }
      throw error;
    }
    return dataSource.getRepository(SubscriptionEntity).findOneByOrFail({ id: registered.subscriptionId });
  });
}

export function registerWebhookCommands(program: Command, context: () => CliContext): void {
  const webhooks = program.command('webhooks').description('manage Asana webhooks that deliver to ingest');
  webhooks
    .command('create')
    .description(
      'register a webhook on an Asana resource (a project, task, or, with --filter, a workspace gid); ingest must be running. The filters are kept: a webhook made again (Asana deleted it, or `webhooks rotate`) gets the same ones',
    )
    .requiredOption('--resource <gid>', 'gid of the Asana resource to watch')
    .option('--filter <filter>', WEBHOOK_FILTER_HELP, (given: string, all: string[] = []) => [...all, given])
    .option('--json', 'print the subscription as JSON')
    .action(async (options: { resource: string; filter?: string[]; json?: boolean }) => {
      if (!/^\d+$/.test(options.resource))
        throw new CliFailure(`--resource must be an Asana gid (digits), got "${options.resource}"`);
      const filters = parseFilters(options.filter ?? []);
      const ctx = context();
      const subscription = await createWebhook(ctx, options.resource, filters);
      if (options.json) ctx.print(JSON.stringify(publicSubscription(subscription)));
    });
  webhooks
    .command('list')
    .description(
      'list subscriptions: status, webhook, resource, last contact and the health Asana last reported; with --workspace, also what Asana has that differs (drift)',
    )
    .option('--workspace <gid>', "compare with Asana's own list of the workspace's webhooks")
    .option('--all', 'include deleted subscriptions')
    .option('--json', 'print JSON')
    .action(async (options: { workspace?: string; all?: boolean; json?: boolean }) => {
      const { config, print } = context();
      if (options.workspace !== undefined && !GID.test(options.workspace)) {
        throw new CliFailure(`--workspace takes an Asana gid (digits), got "${options.workspace}"`);
      }
      const rows = await withConnections(config, { database: true }, ({ dataSource }) =>
        dataSource.getRepository(SubscriptionEntity).find({ order: { createdAt: 'ASC' } }),
      );
      const shown = options.all ? rows : rows.filter((row) => row.status !== 'deleted');
      const drift = options.workspace ? await driftWith(asanaOf(config), options.workspace, rows, config) : undefined;
      if (options.json) {
        print(JSON.stringify({ subscriptions: shown.map(publicSubscription), ...(drift ? { drift } : {}) }));
        return;
      }
      for (const row of shown) {
        print(
          [
            row.id,
            row.webhookGid ?? '-',
            row.resourceGid,
            row.status,
            row.lastDeliveryAt?.toISOString() ?? 'never',
            healthSummary(row),
          ].join('\t'),
        );
      }
      for (const line of drift ?? []) print(`drift: ${line.problem} (${line.webhookGid ?? line.subscriptionId})`);
    });
  webhooks
    .command('show')
    .description('one subscription (never its secret), with its webhook as Asana reports it now')
    .argument('<subscription-id>')
    .action(async (id: string) => {
      const { config, print } = context();
      const row = await findSubscription(config, id);
      const asana = row.webhookGid ? await asanaOf(config).getWebhook(row.webhookGid) : null;
      print(JSON.stringify({ subscription: publicSubscription(row), asana: asana ?? 'not in Asana' }, null, 2));
    });
  webhooks
    .command('delete')
    .description("delete a subscription's webhook in Asana and end the subscription")
    .argument('<subscription-id>')
    .action(async (id: string) => {
      const { config, print } = context();
      const row = await findSubscription(config, id);
      if (row.status === 'deleted') throw new CliFailure(`subscription ${id} is already deleted`);
      if (row.webhookGid) await deleteInAsana(asanaOf(config), row.webhookGid);
      await withConnections(config, { database: true }, ({ dataSource }) =>
        dataSource
          .getRepository(SubscriptionEntity)
          .update({ id }, { status: 'deleted', deletedReason: 'deleted by an operator' }),
      );
      print(`subscription ${id} deleted${row.webhookGid ? ` (webhook ${row.webhookGid} deleted in Asana)` : ''}`);
    });
  webhooks
    .command('rotate')
    .description(
      "replace a subscription's webhook (and its secret) without a gap: a new webhook on the same resource first, both delivering a moment (duplicates collapse), then the old one deleted",
    )
    .argument('<subscription-id>')
    .option(
      '--overlap <seconds>',
      'longest both webhooks deliver before the old one is deleted; it ends sooner once the old one delivered after the new one was made, with no retry pending',
      '60',
    )
    .option('--json', 'print the new subscription as JSON')
    .action(async (id: string, options: { overlap: string; json?: boolean }) => {
      const ctx = context();
      const overlapS = Number(options.overlap);
      if (!Number.isFinite(overlapS) || overlapS < 0 || overlapS > 3600) {
        throw new CliFailure(`--overlap takes seconds from 0 to 3600, got "${options.overlap}"`);
      }
      const old = await findSubscription(ctx.config, id);
      if (old.status !== 'active')
        throw new CliFailure(`subscription ${id} is ${old.status}: only an active one rotates`);
      // The same filters as the old webhook's (a workspace's cannot be made without).
      const created = await createWebhook(ctx, old.resourceGid, old.filters);
      const asana = asanaOf(ctx.config);
      if (old.webhookGid) {
        await overlap(asana, old.webhookGid, created.webhookGid!, overlapS * 1000, ctx.say);
        await deleteInAsana(asana, old.webhookGid);
      }
      await withConnections(ctx.config, { database: true }, ({ dataSource }) =>
        dataSource
          .getRepository(SubscriptionEntity)
          .update({ id }, { status: 'deleted', deletedReason: 'rotated', replacedBy: created.id }),
      );
      ctx.say(`subscription ${id} rotated: ${created.id} (webhook ${created.webhookGid}) replaces it`);
      if (options.json) ctx.print(JSON.stringify(publicSubscription(created)));
    });
}

/** Every `--filter` given, parsed (null: none); the first malformed one fails the command, saying why. */
function parseFilters(given: readonly string[]): AsanaWebhookFilter[] | null {
  if (given.length === 0) return null;
  return given.map((one) => {
    try {
      return parseWebhookFilter(one);
    } catch (error) {
      if (error instanceof WebhookFilterSyntaxError) throw new CliFailure(error.message, { cause: error });
      throw error;
    }
  });
}

const GID = /^\d{1,32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function asanaOf(config: CliConfig): AsanaClient {
  return new AsanaClient({ baseUrl: config.asana.ASANA_BASE_URL, token: config.asana.ASANA_TOKEN });
}

async function findSubscription(config: CliConfig, id: string): Promise<SubscriptionEntity> {
  if (!UUID.test(id)) throw new CliFailure(`a subscription id is a UUID (see \`webhooks list\`), got "${id}"`);
  const row = await withConnections(config, { database: true }, ({ dataSource }) =>
    dataSource.getRepository(SubscriptionEntity).findOneBy({ id }),
  );
  if (!row) throw new CliFailure(`no subscription ${id} (see \`webhooks list --all\`)`);
  return row;
}

/**
 * Waits while both webhooks deliver, so that events the old one had taken before the new one
 * existed are delivered before it is deleted (deleting a webhook drops what it has not delivered):
 * until the old one has succeeded after the new one was made (Asana's own clock on both sides)
 * with no retry pending, or `maxMs`.
 */
async function overlap(
  asana: AsanaClient,
  oldGid: string,
  newGid: string,
  maxMs: number,
  say: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + maxMs;
  const created = (await asana.getWebhook(newGid))?.created_at;
  const since = created ? Date.parse(created) : NaN;
  say(`both webhooks deliver now; the old one goes once it has delivered what it holds (at most ${maxMs / 1000} s)`);
  while (Date.now() < deadline) {
    const old = await asana.getWebhook(oldGid);
    if (old === null) return;
    const lastSuccess = old.last_success_at ? Date.parse(old.last_success_at) : NaN;
    if (lastSuccess >= since && (old.delivery_retry_count ?? 0) === 0) return;
    await sleep(Math.min(500, Math.max(deadline - Date.now(), 0)));
  }
}

/** Deletes a webhook in Asana; one Asana already deleted is as good. */
async function deleteInAsana(asana: AsanaClient, webhookGid: string): Promise<void> {
  try {
    await asana.deleteWebhook(webhookGid);
  } catch (error) {
    if (isNotVisible(error)) return;
    throw new CliFailure(`Asana did not delete webhook ${webhookGid}: ${(error as Error).message}`, { cause: error });
  }
}

/** One short column: what Asana last said of the webhook, or why the subscription ended. */
function healthSummary(row: SubscriptionEntity): string {
  if (row.status === 'deleted') {
    return `ended: ${row.deletedReason ?? 'deleted'}${row.replacedBy ? `, replaced by ${row.replacedBy}` : ''}`;
  }
  if (row.asanaHealth?.deleted_by_asana) return 'deleted by Asana: being created again';
  if (row.failingSince) {
    return `failing since ${row.failingSince.toISOString()} (${Number(row.asanaHealth?.delivery_retry_count ?? 0)} retries pending)`;
  }
  if (row.silentSince) return `silent since ${row.silentSince.toISOString()}`;
  return row.healthCheckedAt ? `healthy at ${row.healthCheckedAt.toISOString()}` : 'not checked yet';
}

export interface Drift {
  problem: string;
  subscriptionId?: string;
  webhookGid?: string;
}

/**
 * What differs between our subscriptions and Asana's list of the workspace's webhooks: an active
 * subscription whose webhook Asana lacks, and a webhook delivering to our ingest that no active
 * subscription knows (a leftover: it delivers with a secret ingest no longer accepts).
 */
async function driftWith(
  asana: AsanaClient,
  workspaceGid: string,
  rows: SubscriptionEntity[],
  config: CliConfig,
): Promise<Drift[]> {
  const theirs = await asana.listWebhooks(workspaceGid);
  const theirGids = new Set(theirs.map((webhook) => webhook.gid));
  const active = rows.filter((row) => row.status === 'active');
  const ourGids = new Set(active.map((row) => row.webhookGid));
  const ingest = `${config.webhooks.INGEST_PUBLIC_URL.replace(/\/+$/, '')}/webhooks/asana/`;
  const drift: Drift[] = [];
  for (const row of active) {
    if (row.webhookGid && !theirGids.has(row.webhookGid)) {
      drift.push({
        problem: 'active here, but Asana has no such webhook',
        subscriptionId: row.id,
        webhookGid: row.webhookGid,
      });
    }
  }
  for (const webhook of theirs) {
    if (webhook.target.startsWith(ingest) && !ourGids.has(webhook.gid)) {
      drift.push({ problem: 'delivers to this ingest, but no active subscription knows it', webhookGid: webhook.gid });
    }
  }
  return drift;
}
