/**
 * How a state message's version ranks against the version a consumer holds for the same
 * resource: `asana.state`'s ordering rule (invariant 2 of docs/architecture.md). An older version
 * is stale and the same version a duplicate: neither may change what is held. The projector's
 * guard decides by it, and so does every test that replays states the way the projector would.
 */
export type VersionRank = 'newer' | 'duplicate' | 'stale';

export function rankVersion(held: number | undefined, incoming: number): VersionRank {
  if (held === undefined || incoming > held) return 'newer';
  return incoming === held ? 'duplicate' : 'stale';
}
