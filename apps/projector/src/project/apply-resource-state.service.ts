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
import { writeOutbox } from './outbox-copy';
import {
  gidsByTable,
  planProjection,
  type ApplyOutcome,
  type PlannedRow,
  type StateToApply,
  type StoredRow,
} from './projection-plan';
import { PROJECTION_TABLES, type ProjectionTable } from './projection-tables';
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
 * Per table: one upsert of every row the batch leaves, from one jsonb parameter (no bind-parameter
 * limit), in gid order. The version guard holds in SQL too (`decideProjection` writes only a
 * newer version), and a tombstone keeps the stored `deleted_at`. It answers how many rows it
 * inserted (`xmax = 0` tells an inserted row from an updated one), so the service notices a gid
 * another transaction created meanwhile, without reading a row back per gid.
 */
const upsertSql = (table: ProjectionTable) => {
  const columns = [
    ['gid', 'text'],
    ['state', 'jsonb'],
    ['version', 'bigint'],
    ['deleted_at', 'timestamptz'],
    ['updated_at', 'timestamptz'],
    ...table.queryColumns.map(({ name, type }) => [name, type]),
  ];
  const names = columns.map(([name]) => name);
  const updates = names
    .filter((name) => name !== 'gid' && name !== 'deleted_at')
    .map((name) => `${name} = EXCLUDED.${name}`);
  return /* sql */ `
    WITH written AS (
      INSERT INTO ${table.name} AS stored (${names.join(', ')})
      SELECT ${names.map((name) => `r.${name}`).join(', ')}
      FROM jsonb_to_recordset($1::jsonb) AS r(${columns.map(([name, type]) => `${name} ${type}`).join(', ')})
      ORDER BY r.gid
      ON CONFLICT (gid) DO UPDATE SET ${updates.join(', ')},
        deleted_at = CASE WHEN EXCLUDED.deleted_at IS NULL THEN NULL
                          ELSE COALESCE(stored.deleted_at, EXCLUDED.deleted_at) END
      WHERE stored.version < EXCLUDED.version
      RETURNING (xmax = 0) AS inserted)
    SELECT count(*)::int AS inserted FROM written WHERE inserted`;
};

const SQL = new Map(PROJECTION_TABLES.map((table) => [table, { lock: lockSql(table), upsert: upsertSql(table) }]));

/**
 * Applies batches of state messages to the projection, each in one transaction: the batch's rows
 * are locked and read (one statement per table), every message is decided by the version guard
 * in offset order (a gid's later message sees what its earlier one left), then each table gets
 * one multi-row upsert and the outbox one COPY of the changes, with one NOTIFY. The
 * rows and their changes commit together or not at all.
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
    const rejections = items.map(({ message }) => rejectionOf(message));
    const accepted = items.filter((_, index) => rejections[index] === null);
    const applied = accepted.length === 0 ? { outcomes: [], outboxRows: 0 } : await this.transaction(accepted);
    countApplied(applied.outcomes, items.length - accepted.length, applied.outboxRows);
    let next = 0;
    return rejections.map((rejection) => rejection ?? applied.outcomes[next++]);
  }

  /** One transaction for the accepted messages, timed (committed or failed). */
  private async transaction(accepted: readonly StateToApply[]): Promise<Applied> {
    const startedAt = performance.now();
    try {
      const applied = await this.dataSource.transaction('READ COMMITTED', (manager) => this.applyIn(manager, accepted));
      applyDurations.committed.observe(secondsSince(startedAt));
      return applied;
    } catch (error) {
      applyDurations.failed.observe(secondsSince(startedAt));
      throw error;
    }
  }

  private async applyIn(manager: EntityManager, items: readonly StateToApply[]): Promise<Applied> {
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
    for (const { table, rows } of plan.writes) await this.upsert(manager, table, rows, now);
    await writeOutbox(await connectionOf(manager), plan.changes, OUTBOX_CHANNEL);
    this.log.debug({ msg: 'state batch applied', messages: items.length, ...count(plan.outcomes) });
    return { outcomes: plan.outcomes, outboxRows: plan.changes.length };
  }

  private async upsert(manager: EntityManager, table: ProjectionTable, rows: PlannedRow[], now: Date): Promise<void> {
    // As text once: JSON.stringify would call a Date's toJSON for every row.
    const updatedAt = now.toISOString();
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
    const [{ inserted }] = await manager.query<[{ inserted: number }]>(SQL.get(table)!.upsert, [
      `[${records.join(',')}]`,
    ]);
    // Rows read were locked, so each is updated; only a gid absent then can have been written by
    // another transaction since (a second replica during a rebalance), and its row is then updated
    // or left alone instead of inserted. Its decision was made against nothing: redo it.
    const raced = rows.filter((row) => row.isNew).length - inserted;
    if (raced > 0) {
      throw new AsanaStreamError(
        'DATABASE_CONFLICT',
        `${table.name}: ${raced} row(s) written by a concurrent transaction since the batch read them`,
        { details: { table: table.name, rows: raced } },
      );
    }
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
