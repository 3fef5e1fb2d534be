import type { AsanaWebhook } from '@asana-stream/asana';
import { AsanaStreamError } from '@asana-stream/errors';
import type { ClaimedResync } from './resync.repository';

/** Where the type of a watched resource can be learnt. */
export interface ResourceTypeSources {
  /** The webhook as Asana reports it (`GET /webhooks/{gid}`); null once Asana deleted it. */
  getWebhook(webhookGid: string): Promise<Pick<AsanaWebhook, 'resource'> | null>;
  /** Keeps the type on the resource's subscriptions that lack it. */
  remember(resourceGid: string, resourceType: string): Promise<void>;
}

/**
 * What a resource being resynced is: the type its subscriptions keep; else its webhook's, as
 * Asana reports it (then kept, for the sweeps and the next runs); else, with no webhook to ask,
 * null: not known, which `resyncKindFor` takes for a project, as every resource was before types
 * were kept. A webhook Asana no longer shows leaves the type unknown for now: a retriable error,
 * so the run is tried again later, by when the webhook monitor has made the webhook again, with
 * its type; guessing could make a tombstone of the wrong type.
 */
export async function watchedResourceType(
  claim: Pick<ClaimedResync, 'resourceGid' | 'resourceType' | 'webhookGid'>,
  sources: ResourceTypeSources,
): Promise<string | null> {
  if (claim.resourceType !== null || claim.webhookGid === null) return claim.resourceType;
  const webhook = await sources.getWebhook(claim.webhookGid);
  const resourceType = webhook?.resource?.resource_type;
  if (typeof resourceType !== 'string' || resourceType === '') {
    throw new AsanaStreamError(
      'NOT_VISIBLE',
      `the type of resource ${claim.resourceGid} is not known yet: Asana does not show its webhook ${claim.webhookGid}`,
      { retriable: true },
    );
  }
  await sources.remember(claim.resourceGid, resourceType);
  return resourceType;
}
