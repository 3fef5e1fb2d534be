import { EVENTS_API_RESOURCE_TYPES } from '@asana-stream/db';

/**
 * Whether the follower polls Asana's Events API for a watched resource of this type (its
 * webhook's `resource.resource_type`): only for the types `GET /events?resource=` takes (a task,
 * project or goal, `EVENTS_API_RESOURCE_TYPES`); Asana answers 400 for any other (a workspace,
 * team, portfolio, …), so polling one would only fail forever. A type not known (a subscription
 * made before types were kept, with no webhook to ask Asana about) is taken for a project, as the
 * resync takes it (`resyncKindFor`), and as every resource was before types were kept.
 */
export function followsEventsOf(resourceType: string | null): boolean {
  return EVENTS_API_RESOURCE_TYPES.includes(resourceType ?? 'project');
}

/** Why a resource of this type is not followed, for its log line. */
export function notFollowedReason(resourceType: string): string {
  return `Asana's Events API takes a ${EVENTS_API_RESOURCE_TYPES.join(', ')}, not a ${resourceType}: its webhook and resyncs still cover it`;
}
