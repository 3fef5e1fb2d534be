import { Injectable, Logger } from '@nestjs/common';
import type { ClientBase } from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import type { AsanaResource } from '@asana-stream/asana';
import type { ResourceStateMessage } from '@asana-stream/contracts';
import { OUTBOX_CHANNEL } from '@asana-stream/db';
import { AsanaStreamError } from '@asana-stream/errors';
import { secondsSince } from '@asana-stream/metrics';
import { currentTraceparent } from '@asana-stream/telemetry';
import { rejectionOf } from './check-state-message';
import { copyIn } from './copy-text';
import { writeOutbox } from './outbox-copy';
import { projectionCopyData, projectionCopySql } from './projection-copy';
import {
  gidsByTable,
  planProjection,
  type ApplyOutcome,
  type PlannedRow,
  type StateToApply,
  type StoredRow,
} from './projection-plan';
import { PROJECTION_TABLES, writtenColumns, type ProjectionTable } from './projection-tables';
import { stateJsonOnce, type StateJson } from './state-json';
import { applyDurations, countApplied } from './projector-metrics';

export type { ApplyOutcome, StateToApply } from './projection-plan';

/** What became of one message of a batch: its outcome, or why the projection cannot take it. */
export type BatchOutcome = ApplyOutcome | AsanaStreamError;

/** What one transaction did: each accepted message's outcome, and the outbox rows it wrote. */
interface Applied {
  outcomes: ApplyOutcome[];
  outboxRows: number;
}

interface StoredRecord {
  gid: string;
  version: string;
  deleted_at: Date | null;
  state: AsanaResource;
}

/**
 * Per table: lock and read the batch's rows in one statement, ordered by gid, so replicas that
 * apply overlapping batches (during a rebalance) wait for each other instead of deadlocking.
 */
const lockSql = (table: ProjectionTable) => /* sql */ `
  SELECT gid, version::text AS version, deleted_at, state FROM ${table.name}
  WHERE gid = ANY($1::text[]) ORDER BY gid FOR UPDATE`;

/**
 * Per table: one update of every row the batch read (and so holds locked) and leaves changed, from
 * one jsonb parameter (no bind-parameter limit). The version guard holds in SQL too
 * (`decideProjection` writes only a newer version), and a tombstone keeps the stored `deleted_at`.
 */
const updateSql = (table: ProjectionTable) => {
  const columns = writtenColumns(table);
  const updates = columns
    .filter(({ name }) => name !== 'gid' && name !== 'deleted_at')
    .map(({ name }) => `${name} = r.${name}`);
  return /* sql */ `
    UPDATE ${table.name} AS stored
    SET ${updates.join(', ')},
      deleted_at = CASE WHEN r.deleted_at IS NULL THEN NULL ELSE COALESCE(stored.deleted_at, r.deleted_at) END
    FROM jsonb_to_recordset($1::jsonb) AS r(${columns.map(({ name, type }) => `${name} ${type}`).join(', ')})
    WHERE stored.gid = r.gid AND stored.version < r.version`;
};

const SQL = new Map(
  PROJECTION_TABLES.map((table) => [
    table,
    { lock: lockSql(table), update: updateSql(table), insert: projectionCopySql(table) },
  ]),
);

/**
 * Applies batches of state messages to the projection, each in one transaction: the batch's rows
 * are locked and read (one statement per table), every message is decided by the version guard
 * in offset order (a gid's later message sees what its earlier one left), then each table gets
 * one COPY of its new rows, then one multi-row update of the rows it read, and the outbox one
 * COPY of the changes, with one NOTIFY. The rows and their changes commit together or not at all.
 *
 * A gid the batch read as absent may be inserted by another transaction meanwhile (a second
 * replica during a rebalance): the COPY then fails with a unique violation, a DATABASE_CONFLICT
 * that runs the batch again, and the retry reads that row. The new rows of every table are
 * written before the locked rows are updated, so a transaction waits on another's insert only
 * while it inserts, in (table, gid) order, and never while holding a row it updated: two
 * replicas applying overlapping batches wait for each other instead of deadlocking.
 *
 * A message the projection cannot take (`rejectionOf`) is left out and reported as its error,
 * while the rest commit; a database failure fails the whole batch.
 */
@Injectable()
export class ApplyResourceStateService {
  private readonly log = new Logger(ApplyResourceStateService.name);

  constructor(private readonly dataSource: DataSource) {}

  /** One message: a batch of one. Throws the message's rejection, if any. */
  async apply(message: ResourceStateMessage): Promise<ApplyOutcome> {
    const [outcome] = await this.applyBatch([{ message, traceparent: currentTraceparent() }]);
    if (typeof outcome !== 'string') throw outcome;
    return outcome;
  }

  /**
   * Applies the messages (a gid's in offset order) in one transaction and resolves once it
   * committed, with each message's outcome in the order given; a rejected message's outcome is
   * its error (nothing of it written). Throws when the transaction fails: nothing is written.
   */
  async applyBatch(items: readonly StateToApply[]): Promise<BatchOutcome[]> {
    const stateJson = stateJsonOnce();
    const rejections = items.map(({ message }) => rejectionOf(message, stateJson));
    const accepted = items.filter((_, index) => rejections[index] === null);
    const applied =
      accepted.length === 0 ? { outcomes: [], outboxRows: 0 } : await this.transaction(accepted, stateJson);
    countApplied(applied.outcomes, items.length - accepted.length, applied.outboxRows);
    let next = 0;
    return rejections.map((rejection) => rejection ?? applied.outcomes[next++]);
  }

  /** One transaction for the accepted messages, timed (committed or failed). */
  private async transaction(accepted: readonly StateToApply[], stateJson: StateJson): Promise<Applied> {
    const startedAt = performance.now();
    try {
      const applied = await this.dataSource.transaction('READ COMMITTED', (manager) =>
        this.applyIn(manager, accepted, stateJson),
      );
      applyDurations.committed.observe(secondsSince(startedAt));
      return applied;
    } catch (error) {
      applyDurations.failed.observe(secondsSince(startedAt));
      throw error;
    }
  }

  private async applyIn(
    manager: EntityManager,
    items: readonly StateToApply[],
    stateJson: StateJson,
  ): Promise<Applied> {
    const stored = new Map<string, StoredRow>();
    for (const { table, gids } of gidsByTable(items)) {
      const rows = await manager.query<StoredRecord[]>(SQL.get(table)!.lock, [gids]);
      for (const row of rows) {
        stored.set(`${table.name}/${row.gid}`, {
          version: Number(row.version),
          deletedAt: row.deleted_at,
          state: row.state,
        });
      }
    }
    const now = new Date();
    const plan = planProjection(items, (table, gid) => stored.get(`${table}/${gid}`), now);
    const client = await connectionOf(manager);
    const updatedAt = now.toISOString();
    // New rows first (COPY: a third less of Postgres' CPU than an upsert), then the locked ones:
    // while this transaction waits on another's insert it has updated nothing another could wait on.
    for (const { table, rows } of plan.writes) {
      const inserted = rows.filter((row) => row.isNew);
      if (inserted.length > 0)
        await copyIn(client, SQL.get(table)!.insert, projectionCopyData(table, inserted, updatedAt, stateJson));
    }
    for (const { table, rows } of plan.writes) {
      const updated = rows.filter((row) => !row.isNew);
      if (updated.length > 0) await this.update(manager, table, updated, updatedAt);
    }
    await writeOutbox(client, plan.changes, OUTBOX_CHANNEL, stateJson);
    this.log.debug({ msg: 'state batch applied', messages: items.length, ...count(plan.outcomes) });
    return { outcomes: plan.outcomes, outboxRows: plan.changes.length };
  }

  private async update(
    manager: EntityManager,
    table: ProjectionTable,
    rows: PlannedRow[],
    updatedAt: string,
  ): Promise<void> {
    // A row at a time, then joined: one JSON.stringify of the whole array costs V8 nearly twice as much.
    const records = rows.map((row) =>
      JSON.stringify({
        gid: row.gid,
        state: row.state,
        version: row.version,
        deleted_at: row.deletedAt,
        updated_at: updatedAt,
        ...row.columns,
      }),
    );
    await manager.query(SQL.get(table)!.update, [`[${records.join(',')}]`]);
  }
}

/** The pg connection a transaction's manager runs on (TypeORM's Postgres query runner holds its pool client). */
async function connectionOf(manager: EntityManager): Promise<ClientBase> {
  if (!manager.queryRunner) throw new Error('applyIn runs inside a transaction: its manager has a query runner');
  return (await manager.queryRunner.connect()) as ClientBase;
}

function count(outcomes: readonly ApplyOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}
