/** Shapes of Asana's webhook deliveries and REST resources, as documented by Asana (see asana-contract). */

export interface AsanaResourceRef {
  gid: string;
  resource_type: string;
  resource_subtype?: string | null;
}

export type AsanaEventAction = 'changed' | 'added' | 'removed' | 'deleted' | 'undeleted';

export interface AsanaEventChange {
  field: string;
  action: 'changed' | 'added' | 'removed';
  new_value?: AsanaResourceRef | null;
  added_value?: AsanaResourceRef | null;
  removed_value?: AsanaResourceRef | null;
}

/** One compact event: it names what changed but carries no resource state. */
export interface AsanaEvent {
  user: AsanaResourceRef | null;
  created_at: string;
  action: AsanaEventAction;
  resource: AsanaResourceRef;
  parent: AsanaResourceRef | null;
  change?: AsanaEventChange;
}

/** A webhook delivery body. `{"events": []}` is a heartbeat. */
export interface AsanaDelivery {
  events: AsanaEvent[];
}

/** Any Asana resource as returned by the REST API: `gid` always, the rest per `opt_fields`. */
export interface AsanaResource {
  gid: string;
  resource_type?: string;
  modified_at?: string | null;
  [field: string]: unknown;
}

/** The webhook object returned by `POST /webhooks` and `GET /webhooks/{gid}`. */
export interface AsanaWebhook {
  gid: string;
  resource_type: 'webhook';
  active: boolean;
  resource: AsanaResourceRef & { name?: string };
  target: string;
  created_at: string;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_failure_content: string;
  delivery_retry_count: number;
  next_attempt_after: string | null;
  failure_deletion_timestamp: string | null;
  filters: AsanaWebhookFilter[];
}

/** A webhook as lists show it (`GET /webhooks?workspace=`). */
export type AsanaWebhookCompact = Pick<AsanaWebhook, 'gid' | 'resource_type' | 'active' | 'resource' | 'target'>;

export interface AsanaWebhookFilter {
  resource_type?: string;
  resource_subtype?: string;
  action?: string;
  fields?: string[];
}

/** Header names of Asana's webhook protocol (Node lower-cases incoming header names). */
export const ASANA_HOOK_SECRET_HEADER = 'x-hook-secret';
export const ASANA_HOOK_SIGNATURE_HEADER = 'x-hook-signature';
