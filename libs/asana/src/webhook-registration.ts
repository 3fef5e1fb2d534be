import { randomUUID } from 'node:crypto';
import type { AsanaClient } from './asana-client';
import type { AsanaWebhookFilter } from './types';

/** Where subscriptions are kept (libs/db: `subscriptionStore`). */
export interface SubscriptionStore {
  /**
   * A subscription pending its handshake, so ingest answers Asana's handshake for it; `filters`
   * (null: none) are kept with it, so that the webhook can be made again with the same ones.
   */
  insertPending(
    id: string,
    resourceGid: string,
    targetUrl: string,
    filters: readonly AsanaWebhookFilter[] | null,
  ): Promise<void>;
  /**
   * The secret ingest stored at the handshake, decrypted, or null when none arrived; rejects when
   * it cannot be decrypted here.
   */
  secretOf(id: string): Promise<string | null>;
  /** The webhook is live; `resourceType` is what it watches (Asana's `resource.resource_type`), null if Asana said nothing. */
  activate(id: string, webhookGid: string, resourceType: string | null): Promise<void>;
  markDeleted(id: string): Promise<void>;
}

export interface RegisteredWebhook {
  subscriptionId: string;
  webhookGid: string;
  targetUrl: string;
  /** What the webhook watches, as Asana's create answer said (null: it did not). */
  resourceType: string | null;
}

/** Why a webhook could not be registered; the subscription is marked deleted. */
export class WebhookRegistrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookRegistrationError';
  }
}

export interface RegisterOptions {
  /** Progress lines for an operator. */
  say?: (line: string) => void;
  /**
   * Asana's webhook `filters` (OR-ed; a workspace, team or portfolio webhook must have some), sent
   * with the create and kept with the subscription; none (null or empty): none sent.
   */
  filters?: readonly AsanaWebhookFilter[] | null;
}

/**
 * Registers a webhook on `resourceGid` the safe way: the subscription row exists (pending) before
 * Asana's handshake reaches ingest, and the secret ingest stored must equal the one in Asana's 201
 * (else the webhook is deleted again: someone else answered the handshake). Ingest must be
 * reachable at `ingestPublicUrl`: Asana handshakes inside its create call.
 */
export async function registerWebhook(
  asana: Pick<AsanaClient, 'createWebhook' | 'deleteWebhook'>,
  store: SubscriptionStore,
  resourceGid: string,
  ingestPublicUrl: string,
  { say = () => undefined, filters = null }: RegisterOptions = {},
): Promise<RegisteredWebhook> {
  const subscriptionId = randomUUID();
  const targetUrl = `${ingestPublicUrl.replace(/\/+$/, '')}/webhooks/asana/${subscriptionId}`;
  const kept = filters && filters.length > 0 ? filters.map((filter) => ({ ...filter })) : null;
  await store.insertPending(subscriptionId, resourceGid, targetUrl, kept);
  say(
    `subscription ${subscriptionId} pending; asking Asana to create a webhook on ${resourceGid} → ${targetUrl}` +
      (kept ? ` (filters ${JSON.stringify(kept)})` : ''),
  );
  let created;
  try {
    created = await asana.createWebhook(resourceGid, targetUrl, kept ?? undefined);
  } catch (error) {
    await store.markDeleted(subscriptionId);
    throw new WebhookRegistrationError(`Asana did not create the webhook: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let stored: string | null;
  try {
    stored = await store.secretOf(subscriptionId);
  } catch (error) {
    // Unreadable here (this process's WEBHOOK_SECRET_KEYS differs from ingest's): unchecked, the
    // webhook must not stay.
    await asana.deleteWebhook(created.webhook.gid);
    await store.markDeleted(subscriptionId);
    throw new WebhookRegistrationError(
      `the handshake secret ingest stored could not be read (webhook deleted again): ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (stored !== created.secret) {
    await asana.deleteWebhook(created.webhook.gid);
    await store.markDeleted(subscriptionId);
    throw new WebhookRegistrationError(
      'the handshake secret ingest stored differs from the one Asana returned: webhook deleted again',
    );
  }
  await store.activate(subscriptionId, created.webhook.gid, created.webhook.resource?.resource_type ?? null);
  say(`webhook ${created.webhook.gid} active (subscription ${subscriptionId})`);
  return {
    subscriptionId,
    webhookGid: created.webhook.gid,
    targetUrl,
    resourceType: created.webhook.resource?.resource_type ?? null,
  };
}
