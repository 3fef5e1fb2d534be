import type { DataSource } from 'typeorm';
import { SubscriptionEntity } from './entities/subscription.entity';

/** `subscriptions` as webhook registration (`registerWebhook` of `@asana-stream/asana`) needs it. */
export function subscriptionStore(dataSource: DataSource) {
  const subscriptions = dataSource.getRepository(SubscriptionEntity);
  return {
    async insertPending(id: string, resourceGid: string, targetUrl: string): Promise<void> {
      await subscriptions.insert({ id, resourceGid, targetUrl, status: 'pending_handshake' });
    },
    async secretOf(id: string): Promise<string | null> {
      return (await subscriptions.findOneByOrFail({ id })).secret;
    },
    async activate(id: string, webhookGid: string): Promise<void> {
      await subscriptions.update({ id }, { webhookGid, status: 'active' });
    },
    async markDeleted(id: string): Promise<void> {
      await subscriptions.update({ id }, { status: 'deleted' });
    },
  };
}
