import { fieldTree, selectFields, type FieldTree, type JsonObject } from '../workspace/opt-fields';
import type { WorkspaceService } from '../workspace/workspace.service';
import type { WebhookRecord } from './webhook.store';

const RESOURCE_REF = ['resource.resource_type', 'resource.name'];

const WEBHOOK_FULL = fieldTree([
  'resource_type',
  'active',
  'resource',
  ...RESOURCE_REF,
  'target',
  'created_at',
  'last_success_at',
  'last_failure_at',
  'last_failure_content',
  'delivery_retry_count',
  'next_attempt_after',
  'failure_deletion_timestamp',
  'filters',
]);
const WEBHOOK_COMPACT = fieldTree(['resource_type', 'active', 'resource', ...RESOURCE_REF, 'target']);

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Webhooks as Asana shows them: full from create/get/update, compact in lists; never the secret. */
export class WebhookPresenter {
  constructor(private readonly workspace: WorkspaceService) {}

  full(webhook: WebhookRecord, fields: FieldTree = WEBHOOK_FULL): JsonObject {
    return selectFields(this.expand(webhook), fields);
  }

  compact(webhook: WebhookRecord, fields: FieldTree = WEBHOOK_COMPACT): JsonObject {
    return selectFields(this.expand(webhook), fields);
  }

  private expand(webhook: WebhookRecord): JsonObject {
    return {
      gid: webhook.gid,
      resource_type: 'webhook',
      active: true,
      resource: {
        gid: webhook.resourceGid,
        resource_type: webhook.resourceType,
        name: this.workspace.describeResource(webhook.resourceGid)?.name ?? webhook.resourceName,
      },
      target: webhook.target,
      created_at: iso(webhook.createdAt),
      last_success_at: iso(webhook.lastSuccessAt),
      last_failure_at: iso(webhook.lastFailureAt),
      last_failure_content: webhook.lastFailureContent,
      delivery_retry_count: webhook.deliveryRetryCount,
      next_attempt_after: iso(webhook.nextAttemptAfter),
      failure_deletion_timestamp: iso(webhook.failureDeletionTimestamp),
      filters: webhook.filters.map((filter) => ({ ...filter })),
    };
  }
}
