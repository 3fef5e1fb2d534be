import type { DataSource } from 'typeorm';

/** Why a resource was found behind Asana: a sweep's or resync's repair cause, or an Events API event. */
export type DivergenceCause = 'missing' | 'stale' | 'vanished' | 'event';

/** Which reconciliation found it. */
export type DivergenceFinder = 'sweep' | 'resync' | 'events-api';

/** One resource Postgres was found behind Asana on. */
export interface FoundDivergence {
  gid: string;
  /** Its resource type (`task`, `project`, ...). */
  type: string;
  /** The watched resource whose sweep, resync or event stream found it. */
  resourceGid: string;
  cause: DivergenceCause;
  /** Asana's version found (ms: `modified_at`, or the event's `created_at`); null when unknown (vanished). */
  asanaVersion: number | null;
  /** The version Postgres held when found; null when it lacked the resource. */
  projectedVersion: number | null;
}

/**
 * A divergence is resolved once the projection (any of its tables) holds the gid at a version at or
 * after Asana's version found, or, where that is unknown (a vanished resource), at any version newer
 * than the one it held when found (its tombstone, or the state it was moved out with).
 */
const RESOLVED = /* sql */ `EXISTS (
  SELECT 1 FROM (
    SELECT version FROM tasks WHERE gid = d.gid
    UNION ALL SELECT version FROM projects WHERE gid = d.gid
    UNION ALL SELECT version FROM resources WHERE gid = d.gid) p
  WHERE CASE WHEN d.asana_version IS NOT NULL THEN p.version >= d.asana_version
             ELSE p.version > COALESCE(d.projected_version, -1) END)`;

/**
 * Records divergences as they are found (before their repair is published, so a repair never
 * lands before its divergence). One already open for a gid keeps when it was first found and
 * its cause, and takes the newer Asana version: it stays open until the projection reflects both.
 */
export async function recordDivergences(
  dataSource: Pick<DataSource, 'query'>,
  foundBy: DivergenceFinder,
  found: readonly FoundDivergence[],
): Promise<void> {
  if (found.length === 0) return;
  await dataSource.query(
    /* sql */ `
    INSERT INTO divergences (gid, type, resource_gid, cause, found_by, asana_version, projected_version)
    SELECT DISTINCT ON (f.gid) f.gid, f.type, f.resource_gid, f.cause, $2, f.asana_version, f.projected_version
    FROM jsonb_to_recordset($1::jsonb)
      AS f(gid text, type text, resource_gid text, cause text, asana_version bigint, projected_version bigint)
    ORDER BY f.gid, f.asana_version DESC NULLS LAST
    ON CONFLICT (gid) DO UPDATE SET asana_version = GREATEST(divergences.asana_version, EXCLUDED.asana_version)`,
    [
      JSON.stringify(
        found.map((d) => ({
          gid: d.gid,
          type: d.type,
          resource_gid: d.resourceGid,
          cause: d.cause,
          asana_version: d.asanaVersion,
          projected_version: d.projectedVersion,
        })),
      ),
      foundBy,
    ],
  );
}

/** Deletes the divergences the projection now reflects; returns how many. */
export async function resolveDivergences(dataSource: Pick<DataSource, 'query'>): Promise<number> {
  const [, deleted] = await dataSource.query<[unknown[], number]>(
    /* sql */ `DELETE FROM divergences d WHERE ${RESOLVED}`,
  );
  return deleted;
}

/** Open divergences: how many, and when the oldest was found (null when none). */
export interface OpenDivergences {
  open: number;
  oldestFoundAt: Date | null;
}

/** The open divergences, in all and per watched resource, and the oldest one's age (0 when none). */
export interface DivergenceSummary extends OpenDivergences {
  /** Seconds since the oldest open one was found, by Postgres' clock; 0 when none is open. */
  oldestAgeSeconds: number;
  byResource: Map<string, OpenDivergences>;
}

/**
 * Reads the open divergences, resolved ones left out whether or not `resolveDivergences` has
 * deleted them yet, so the answer is exact at any moment.
 */
export async function divergenceSummary(dataSource: Pick<DataSource, 'query'>): Promise<DivergenceSummary> {
  const rows = await dataSource.query<
    { resource_gid: string; open: number; oldest_found_at: Date; oldest_age_seconds: number }[]
  >(/* sql */ `
    SELECT resource_gid, count(*)::int AS open, min(found_at) AS oldest_found_at,
           extract(epoch FROM clock_timestamp() - min(found_at))::float8 AS oldest_age_seconds
    FROM divergences d WHERE NOT ${RESOLVED}
    GROUP BY resource_gid`);
  const byResource = new Map(
    rows.map((row) => [row.resource_gid, { open: row.open, oldestFoundAt: row.oldest_found_at }] as const),
  );
  const oldest = rows.reduce<(typeof rows)[number] | undefined>(
    (found, row) => (found === undefined || row.oldest_age_seconds > found.oldest_age_seconds ? row : found),
    undefined,
  );
  return {
    open: rows.reduce((sum, row) => sum + row.open, 0),
    oldestFoundAt: oldest?.oldest_found_at ?? null,
    oldestAgeSeconds: Math.max(0, oldest?.oldest_age_seconds ?? 0),
    byResource,
  };
}
