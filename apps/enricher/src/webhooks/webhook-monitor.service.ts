import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AsanaClient, registerWebhook } from '@asana-stream/asana';
import { APP_CONFIG, WebhookSecretCipher, type EnricherConfig } from '@asana-stream/config';
import { requestResync, subscriptionStore } from '@asana-stream/db';
import { classifyError } from '@asana-stream/errors';
import { PacedResourceFetcher } from '../enrich/paced-resource-fetcher';
import { webhookChecks, webhooksRecreated } from '../enricher-metrics';
import { judgeWebhook, reportedHealth } from './webhook-health';
import { WebhookMonitorRepository, type CheckedSubscription } from './webhook-monitor.repository';
import { ReconcilerLoop } from '../reconciler-loop';

/** Subscriptions one replica checks per round. */
const CLAIM_LIMIT = 20;

/**
 * Watches every active subscription's webhook in Asana (WEBHOOK_CHECK_INTERVAL_MS; each checked by
 * one replica per interval): keeps the health Asana reports; a webhook Asana deleted (after 24
 * hours of failed deliveries) is created again through ingest (INGEST_PUBLIC_URL), its
 * subscription replaced, and its resource resynced for what was lost; a webhook that starts
 * failing, or falls silent for longer than Asana's heartbeat allows, gets its resource resynced.
 * Runs under EVENTS_FOLLOW, with the follower and the resyncs.
 */
@Injectable()
export class WebhookMonitorService extends ReconcilerLoop {
  private readonly log = new Logger(WebhookMonitorService.name);
  private readonly subscriptions: WebhookMonitorRepository;
  /** Opens the secret ingest stores at the handshake of a webhook created again, to compare it with Asana's. */
  private readonly secrets: WebhookSecretCipher;

  constructor(
    private readonly dataSource: DataSource,
    private readonly asana: AsanaClient,
    private readonly pacer: PacedResourceFetcher,
    @Inject(APP_CONFIG) private readonly config: EnricherConfig,
  ) {
    super(config);
    this.subscriptions = new WebhookMonitorRepository(dataSource);
    this.secrets = WebhookSecretCipher.fromKeyRing(config.secrets.WEBHOOK_SECRET_KEYS);
  }

  private get intervalMs(): number {
    return this.config.follower.WEBHOOK_CHECK_INTERVAL_MS;
  }

  protected async run(signal: AbortSignal): Promise<void> {
    const tickMs = Math.min(Math.max(Math.floor(this.intervalMs / 4), 50), 10_000);
    while (!signal.aborted) {
      try {
        for (const subscription of await this.subscriptions.claimDue(this.intervalMs, CLAIM_LIMIT)) {
          if (signal.aborted) break;
          await this.check(subscription, signal);
        }
      } catch (error) {
        if (signal.aborted) break;
        this.log.warn({
          msg: 'could not look for webhooks to check; trying again',
          error: classifyError(error).toJSON(),
        });
      }
      await this.pause(tickMs, signal);
    }
  }

  private async check(subscription: CheckedSubscription, signal: AbortSignal): Promise<void> {
    const where = {
      subscriptionId: subscription.id,
      webhookGid: subscription.webhookGid,
      resourceGid: subscription.resourceGid,
    };
    try {
      const webhook = await this.pacer.run(
        (cancel) => this.asana.getWebhook(subscription.webhookGid, { signal: cancel }),
        { signal, purpose: 'webhooks' },
      );
      if (webhook === null) {
        webhookChecks.labels('deleted').inc();
        await this.replaceDeleted(subscription, signal);
        return;
      }
      const resourceType = webhook.resource?.resource_type;
      if (subscription.resourceType === null && typeof resourceType === 'string') {
        await this.subscriptions.rememberResourceType(subscription.id, resourceType);
      }
      const verdict = judgeWebhook(webhook, subscription, new Date());
      webhookChecks.labels(verdict.failing ? 'failing' : verdict.silent ? 'silent' : 'healthy').inc();
      await this.subscriptions.recordHealth(subscription.id, reportedHealth(webhook), verdict.failing, verdict.silent);
      if (verdict.resyncReason) {
        await requestResync(this.dataSource, subscription.resourceGid, verdict.resyncReason);
        this.log.warn({ msg: 'webhook unhealthy: resync asked for', ...where, reason: verdict.resyncReason });
      }
    } catch (error) {
      if (signal.aborted) return;
      webhookChecks.labels('error').inc();
      this.log.warn({
        msg: 'could not check the webhook; the next round tries again',
        ...where,
        error: classifyError(error).toJSON(),
      });
    }
  }

  /** Asana deleted the webhook: events since are lost. A new one, then a resync of the gap. */
  private async replaceDeleted(subscription: CheckedSubscription, signal: AbortSignal): Promise<void> {
    const where = {
      subscriptionId: subscription.id,
      webhookGid: subscription.webhookGid,
      resourceGid: subscription.resourceGid,
    };
    this.log.warn({ msg: 'Asana deleted the webhook: creating it again', ...where });
    await requestResync(
      this.dataSource,
      subscription.resourceGid,
      `Asana deleted the webhook ${subscription.webhookGid}: events since its last delivery may be lost`,
    );
    try {
      const registered = await this.pacer.run(
        () =>
          registerWebhook(
            this.asana,
            subscriptionStore(this.dataSource, this.secrets),
            subscription.resourceGid,
            this.config.webhooks.INGEST_PUBLIC_URL,
            // The same filters: a workspace's webhook cannot be made without.
            { filters: subscription.filters },
          ),
        { signal, purpose: 'webhooks' },
      );
      await this.subscriptions.replace(subscription.id, registered.subscriptionId);
      webhooksRecreated.labels('created').inc();
      this.log.log({
        msg: 'webhook created again',
        ...where,
        newSubscriptionId: registered.subscriptionId,
        newWebhookGid: registered.webhookGid,
      });
    } catch (error) {
      const failure = classifyError(error);
      webhooksRecreated.labels('failed').inc();
      await this.subscriptions.recordDeletedByAsana(subscription.id, `${failure.code}: ${failure.message}`);
      this.log.warn({
        msg: 'Asana deleted the webhook and it could not be created again yet; the next round tries again',
        ...where,
        error: failure.toJSON(),
      });
    }
  }
}
