import type { AsanaResource } from '@asana-stream/asana';
import type { ResourceChangeMessage, ResourceStateMessage } from '@asana-stream/contracts';
import { PROJECTION_TABLES, projectionTableFor, type ProjectionTable, type QueryValue } from './projection-tables';
import { decideProjection, type ProjectionDecision } from './version-guard';

export type ApplyOutcome = ProjectionDecision['outcome'] | 'applied-silently' | 'applied';

/** A projection row as a transaction read (and locked) it before deciding. */
export interface StoredRow {
  version: number;
  deletedAt: Date | null;
  state: AsanaResource;
}

/** One state message to apply, with the trace context its outbox change continues. */
export interface StateToApply {
  message: ResourceStateMessage;
  traceparent?: string | null;
}

/** The row a table ends with for one gid once the batch's messages of that gid are applied. */
export interface PlannedRow {
  gid: string;
  /** No row was stored: the write must insert it (anything else means a concurrent writer raced us). */
  isNew: boolean;
  version: number;
  state: AsanaResource;
  /** Null while live; a tombstone keeps the stored row's time, else the batch's `now`. */
  deletedAt: Date | null;
  /** The table's query columns (`ProjectionTable.columns`). */
  columns: Record<string, QueryValue>;
}

/** One outbox row: a change to publish, in the order the batch decided it. */
export interface PlannedChange {
  gid: string;
  type: string;
  change: Omit<ResourceChangeMessage, 'changeId'>;
  traceparent: string | null;
  /** The state message's `eventAt` (Asana's time of the earliest event it answers), if it has one. */
  eventAt: string | null;
}

export interface ProjectionPlan {
  /** Per message, in the order given. */
  outcomes: ApplyOutcome[];
  /** Per table that gets written, in `PROJECTION_TABLES` order: one row per gid, ordered by gid. */
  writes: { table: ProjectionTable; rows: PlannedRow[] }[];
  /** Every change, in the order decided: per gid, the order of its messages. */
  changes: PlannedChange[];
}

interface Slot {
  table: ProjectionTable;
  gid: string;
  stored: boolean;
  current: StoredRow | null;
  planned: PlannedRow | null;
}

/** The key of a table's row of a gid: a gid whose type changed has a row in each table. */
const slotKey = (table: ProjectionTable, gid: string) => `${table.name}/${gid}`;

/**
 * Decides a batch of state messages against the rows stored for their gids, as applying them one
 * after another would: each message goes through `decideProjection` against what its table holds
 * for its gid at that point (the stored row, or the row an earlier message of the batch left), so
 * a gid's messages must be given in offset order. The result is what to write: each touched
 * table's final row per gid, and the changes in decision order. Pure: no clock, no database.
 *
 * `stored(table, gid)` is the row the transaction read for that table and gid, if any.
 */
export function planProjection(
  items: readonly StateToApply[],
  stored: (table: ProjectionTable['name'], gid: string) => StoredRow | undefined,
  now: Date,
): ProjectionPlan {
  const slots = new Map<string, Slot>();
  const outcomes: ApplyOutcome[] = [];
  const changes: PlannedChange[] = [];
  for (const { message, traceparent = null } of items) {
    const table = projectionTableFor(message.type);
    const key = slotKey(table, message.gid);
    let slot = slots.get(key);
    if (slot === undefined) {
      const row = stored(table.name, message.gid) ?? null;
      slot = { table, gid: message.gid, stored: row !== null, current: row, planned: null };
      slots.set(key, slot);
    }
    const before = slot.current;
    const decision = decideProjection(
      before && { version: before.version, deleted: before.deletedAt !== null, state: before.state },
      message,
    );
    if (decision.outcome !== 'apply') {
      outcomes.push(decision.outcome);
      continue;
    }
    const next: StoredRow = {
      version: message.version,
      // A tombstone keeps the last state we saw; a tombstone of an unseen resource keeps its identity.
      state: message.state ?? before?.state ?? { gid: message.gid, resource_type: message.type },
      deletedAt: message.deleted ? (before?.deletedAt ?? now) : null,
    };
    slot.current = next;
    slot.planned = {
      gid: message.gid,
      isNew: !slot.stored,
      version: next.version,
      state: next.state,
      deletedAt: next.deletedAt,
      columns: table.columns(message.state ?? before?.state ?? null, message.type),
    };
    if (!decision.emit) {
      outcomes.push('applied-silently');
      continue;
    }
    changes.push({
      gid: message.gid,
      type: message.type,
      change: {
        schema: 1,
        gid: message.gid,
        type: message.type,
        action: decision.action,
        version: message.version,
        changes: decision.changes,
        state: message.state,
        causes: message.causes,
        occurredAt: new Date(message.version).toISOString(),
      },
      traceparent,
      eventAt: message.eventAt ?? null,
    });
    outcomes.push('applied');
  }
  const writes: ProjectionPlan['writes'] = [];
  for (const table of PROJECTION_TABLES) {
    const rows: PlannedRow[] = [];
    for (const slot of slots.values()) if (slot.table === table && slot.planned) rows.push(slot.planned);
    if (rows.length > 0) writes.push({ table, rows: rows.sort((a, b) => compareGids(a.gid, b.gid)) });
  }
  return { outcomes, writes, changes };
}

/** The gids of each table the batch touches, in `PROJECTION_TABLES` order: the rows to lock and read. */
export function gidsByTable(items: readonly StateToApply[]): { table: ProjectionTable; gids: string[] }[] {
  const byTable = new Map<ProjectionTable, Set<string>>();
  for (const { message } of items) {
    const table = projectionTableFor(message.type);
    let gids = byTable.get(table);
    if (gids === undefined) byTable.set(table, (gids = new Set()));
    gids.add(message.gid);
  }
  return PROJECTION_TABLES.filter((table) => byTable.has(table)).map((table) => ({
    table,
    gids: [...byTable.get(table)!].sort(compareGids),
  }));
}

/** Code-unit order: only determinism matters here (Postgres orders the locks itself, by its collation). */
function compareGids(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
