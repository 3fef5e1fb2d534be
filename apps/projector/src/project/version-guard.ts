import type { AsanaResource } from '@asana-stream/asana';
import { rankVersion, type ChangeAction, type FieldChange, type ResourceStateMessage } from '@asana-stream/contracts';
import { diffStates } from './state-diff';

/** What the projection holds for a gid before a state message is applied. */
export interface StoredProjection {
  version: number;
  deleted: boolean;
  state: AsanaResource;
}

/**
 * What applying one state message means. Stale and duplicate messages change nothing; an
 * applied message may still emit nothing when no visible field changed.
 */
export type ProjectionDecision =
  | { outcome: 'stale' | 'duplicate' }
  | { outcome: 'apply'; emit: false }
  | { outcome: 'apply'; emit: true; action: ChangeAction; changes: Record<string, FieldChange> };

/**
 * The version guard: an older version never overwrites a newer one, the same version twice is
 * a duplicate, a tombstone keeps the row (deleted), and only a newer live state undeletes it.
 */
export function decideProjection(stored: StoredProjection | null, incoming: ResourceStateMessage): ProjectionDecision {
  const rank = rankVersion(stored?.version, incoming.version);
  if (rank !== 'newer') return { outcome: rank };
  if (incoming.deleted) {
    if (stored?.deleted) return { outcome: 'apply', emit: false };
    return { outcome: 'apply', emit: true, action: 'deleted', changes: {} };
  }
  if (!stored) return { outcome: 'apply', emit: true, action: 'created', changes: diffStates(null, incoming.state) };
  const changes = diffStates(stored.state, incoming.state);
  if (stored.deleted) return { outcome: 'apply', emit: true, action: 'undeleted', changes };
  if (Object.keys(changes).length === 0) return { outcome: 'apply', emit: false };
  return { outcome: 'apply', emit: true, action: 'updated', changes };
}
