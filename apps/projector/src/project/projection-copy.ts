import { copyTextLine } from './copy-text';
import type { PlannedRow } from './projection-plan';
import { writtenColumns, type ProjectionTable, type QueryValue } from './projection-tables';
import { stringifyState, type StateJson } from './state-json';

/** `COPY <table> (<every written column>) FROM STDIN`: the insert of a batch's new rows of one table. */
export function projectionCopySql(table: ProjectionTable): string {
  return /* sql */ `COPY ${table.name} (${writtenColumns(table)
    .map(({ name }) => name)
    .join(', ')}) FROM STDIN`;
}

/** A query column's value as COPY's text format reads it (booleans as `t` and `f`). */
const queryField = (value: QueryValue | undefined): string | null =>
  typeof value === 'boolean' ? (value ? 't' : 'f') : (value ?? null);

/**
 * The COPY data of rows of `table` (`projectionCopySql`'s columns): one line each, in the order
 * given, the state as its JSON (from `stateJson`), `updatedAt` (ISO 8601) as every row's `updated_at`.
 */
export function projectionCopyData(
  table: ProjectionTable,
  rows: readonly PlannedRow[],
  updatedAt: string,
  stateJson: StateJson = stringifyState,
): Buffer {
  const queryColumns = table.queryColumns.map(({ name }) => name);
  return Buffer.concat(
    rows.map((row) =>
      copyTextLine([
        row.gid,
        stateJson(row.state),
        String(row.version),
        row.deletedAt === null ? null : row.deletedAt.toISOString(),
        updatedAt,
        ...queryColumns.map((name) => queryField(row.columns[name])),
      ]),
    ),
  );
}
