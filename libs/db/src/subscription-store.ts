import type { DataSource } from 'typeorm';
import type { WebhookSecretCipher } from '@asana-stream/config';
import type { WebhookFilter } from './entities/subscription.entity';
import { SubscriptionEntity } from './entities/subscription.entity';

/**
 * `subscriptions` as webhook registration (`registerWebhook` of `@asana-stream/asana`) needs it.
 * Secrets are stored encrypted by ingest; `cipher` opens them (one stored before encryption is
 * read as it is) and throws a WebhookSecretError when this process's keys cannot.
 */
export function subscriptionStore(dataSource: DataSource, cipher: Pick<WebhookSecretCipher, 'decrypt'>) {
  const subscriptions = dataSource.getRepository(SubscriptionEntity);
  return {
    async insertPending(
      id: string,
      resourceGid: string,
      targetUrl: string,
      filters: readonly WebhookFilter[] | null,
    ): Promise<void> {
      await subscriptions.insert({
        id,
        resourceGid,
        targetUrl,
        filters: filters ? filters.map((filter) => ({ ...filter })) : null,
        status: 'pending_handshake',
      });
    },
    async secretOf(id: string): Promise<string | null> {
      const { secret } = await subscriptions.findOneByOrFail({ id });
      return secret === null ? null : cipher.decrypt(id, secret);
    },
    async activate(id: string, webhookGid: string, resourceType: string | null): Promise<void> {
      await subscriptions.update({ id }, { webhookGid, resourceType, status: 'active' });
    },
    async markDeleted(id: string): Promise<void> {
      await subscriptions.update({ id }, { status: 'deleted' });
    },
  };
}
