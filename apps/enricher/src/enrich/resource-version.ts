import type { AsanaResource } from '@asana-stream/asana';
import type { ResourceStateMessage } from '@asana-stream/contracts';

export interface ResourceVersion {
  version: number;
  versionSource: ResourceStateMessage['versionSource'];
}

/**
 * The version that orders states of one resource: Asana's `modified_at` where the resource has
 * one (tasks, projects, …), else the time we fetched it (stories, users, tombstones).
 */
export function resourceVersion(resource: AsanaResource | null, fetchedAt: Date): ResourceVersion {
  const modifiedAt = resource?.modified_at;
  if (typeof modifiedAt === 'string') {
    const ms = Date.parse(modifiedAt);
    if (Number.isFinite(ms)) return { version: ms, versionSource: 'modified_at' };
  }
  return { version: fetchedAt.getTime(), versionSource: 'fetched_at' };
}
