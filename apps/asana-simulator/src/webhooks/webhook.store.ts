import type { AsanaWebhookFilter } from '@asana-stream/asana';

export interface WebhookRecord {
  gid: string;
  resourceGid: string;
  resourceType: string;
  /** The resource's name when the webhook was made, shown if the resource is gone since. */
  resourceName: string;
  target: string;
  /** Sent once, in the handshake and the 201; signs every delivery. */
  secret: string;
  filters: AsanaWebhookFilter[];
  createdAt: number;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastFailureContent: string;
  deliveryRetryCount: number;
  nextAttemptAfter: number | null;
  failureDeletionTimestamp: number | null;
}

/** The live webhooks, in creation order; a deleted webhook is gone (Asana has no webhook trash). */
export class WebhookStore {
  private readonly webhooks = new Map<string, WebhookRecord>();

  add(webhook: WebhookRecord): void {
    this.webhooks.set(webhook.gid, webhook);
  }

  get(gid: string): WebhookRecord | undefined {
    return this.webhooks.get(gid);
  }

  remove(gid: string): boolean {
    return this.webhooks.delete(gid);
  }

  all(): WebhookRecord[] {
    return [...this.webhooks.values()];
  }
}
