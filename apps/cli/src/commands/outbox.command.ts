import type { Command } from 'commander';
import type { DataSource } from 'typeorm';
import { OUTBOX_CHANNEL } from '@asana-stream/db';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';

/*
 * Outbox rows the fanout relay parked: Kafka refused them (too large, invalid) or they kept failing.
 * A parked row holds back its gid's later rows (so a resource's changes never overtake each other)
 * while every other gid flows. The operator fixes the cause and re-drives the row, or discards it.
 */

/** The fanout relay's per-gid lock namespace (apps/fanout RELAY_GID_LOCK_NAMESPACE): a gid is changed under it. */
const RELAY_GID_LOCK_NAMESPACE = 0x6173_616e;

/** One parked row, as `outbox parked` shows it. */
export interface ParkedRow {
  id: string;
  gid: string;
  type: string;
  attempts: number;
  parkedAt: string;
  lastError: string | null;
  /** Size of the stored change (JSON text), in bytes. */
  bytes: number;
  /** Unpublished rows of the same gid behind it. */
  waiting: number;
}

export async function parkedRows(dataSource: DataSource, limit: number): Promise<{ total: number; rows: ParkedRow[] }> {
  const [{ total }] = await dataSource.query<{ total: number }[]>(
    /* sql */ `SELECT count(*)::int AS total FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL`,
  );
  const rows = await dataSource.query<ParkedRow[]>(
    /* sql */ `SELECT o.id, o.gid, o.type, o.attempts, o.parked_at AS "parkedAt", o.last_error AS "lastError",
                      octet_length(o.change::text) AS bytes,
                      (SELECT count(*)::int FROM outbox w
                        WHERE w.gid = o.gid AND w.published_at IS NULL AND w.id > o.id) AS waiting
               FROM outbox o WHERE o.parked_at IS NOT NULL AND o.published_at IS NULL
               ORDER BY o.id LIMIT $1`,
    [limit],
  );
  return {
    total,
    rows: rows.map((row) => ({ ...row, parkedAt: new Date(row.parkedAt).toISOString() })),
  };
}

/** Ids as given (`<id...>` or `--all`), checked to be whole numbers. */
function idsOf(ids: string[], all: boolean | undefined, verb: string): string[] | 'all' {
  if (all && ids.length > 0) throw new CliFailure(`${verb} takes row ids or --all, not both`);
  if (all) return 'all';
  if (ids.length === 0)
    throw new CliFailure(`say which parked rows to ${verb}: their ids (see \`outbox parked\`) or --all`);
  const bad = ids.find((id) => !/^\d+$/.test(id));
  if (bad !== undefined) throw new CliFailure(`outbox row ids are whole numbers, got "${bad}"`);
  return ids;
}

/**
 * Changes parked rows in one transaction, each gid under the relay's lock for it, and wakes the
 * relay. Fails, changing nothing, when a named id is not a parked row.
 */
async function changeParked(
  dataSource: DataSource,
  ids: string[] | 'all',
  change: string,
): Promise<{ id: string; gid: string }[]> {
  return dataSource.transaction(async (manager) => {
    const parked = await manager.query<{ id: string; gid: string }[]>(
      /* sql */ `SELECT id, gid FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL
                   AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) ORDER BY id`,
      [ids === 'all' ? null : ids],
    );
    if (ids !== 'all') {
      const found = new Set(parked.map((row) => row.id));
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length > 0) {
        throw new CliFailure(
          `not a parked outbox row: ${missing.join(', ')} (published, discarded, re-driven already, or no such id; see \`asana-stream outbox parked\`)`,
        );
      }
    }
    if (parked.length === 0) return [];
    // Waits for a relay that holds one of these gids (a batch: milliseconds).
    await manager.query(
      /* sql */ `SELECT pg_advisory_xact_lock($1, hashtext(gid)) FROM (SELECT DISTINCT gid FROM unnest($2::text[]) AS gid) g`,
      [RELAY_GID_LOCK_NAMESPACE, parked.map((row) => row.gid)],
    );
    await manager.query(change, [parked.map((row) => row.id)]);
    await manager.query(/* sql */ `SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
    return parked;
  });
}

export function registerOutboxCommands(program: Command, context: () => CliContext): void {
  const outbox = program
    .command('outbox')
    .description(
      'outbox rows the fanout relay parked (Kafka refused them): each holds back its own resource (gid), every other one flows',
    );

  outbox
    .command('parked')
    .description('list parked rows: id, gid, attempts, when, why, and how many rows of the gid wait behind each')
    .option('--limit <n>', 'rows shown', '20')
    .option('--json', 'print JSON')
    .action(async (options: { limit: string; json?: boolean }) => {
      const { config, print } = context();
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 0)
        throw new CliFailure(`--limit takes a whole number, got "${options.limit}"`);
      const { total, rows } = await withConnections(config, { database: true }, ({ dataSource }) =>
        parkedRows(dataSource, limit),
      );
      if (options.json) {
        print(JSON.stringify({ parked: total, rows }));
        return;
      }
      if (total === 0) {
        print('outbox: nothing parked');
        return;
      }
      print(`outbox: ${total} parked (redrive after fixing the cause, or discard)`);
      const cells = [['ID', 'GID', 'TYPE', 'ATTEMPTS', 'BYTES', 'WAITING', 'PARKED AT', 'LAST ERROR']];
      for (const row of rows) {
        cells.push([
          row.id,
          row.gid,
          row.type,
          String(row.attempts),
          String(row.bytes),
          String(row.waiting),
          row.parkedAt,
          row.lastError ?? '-',
        ]);
      }
      const widths = cells[0].map((_, column) => Math.max(...cells.map((cell) => cell[column].length)));
      for (const cell of cells)
        print(
          `  ${cell.map((text, column) => (column === cell.length - 1 ? text : text.padEnd(widths[column]))).join('  ')}`,
        );
      if (total > rows.length) print(`  … ${total - rows.length} more`);
    });

  outbox
    .command('redrive')
    .description(
      'un-park rows: the relay publishes each again (its attempts start over), then the rows of its gid behind it',
    )
    .argument('[ids...]', 'ids of parked rows (see `outbox parked`)')
    .option('--all', 'every parked row')
    .action(async (ids: string[], options: { all?: boolean }) => {
      const { config, say, print } = context();
      const wanted = idsOf(ids, options.all, 'redrive');
      const changed = await withConnections(config, { database: true }, ({ dataSource }) =>
        changeParked(
          dataSource,
          wanted,
          /* sql */ `UPDATE outbox SET parked_at = NULL, attempts = 0 WHERE id = ANY($1::bigint[])`,
        ),
      );
      for (const row of changed) say(`re-driven outbox row ${row.id} (gid ${row.gid})`);
      print(`re-driven: ${changed.length}; the fanout relays them next`);
    });

  outbox
    .command('discard')
    .description(
      'skip parked rows: never published (kept, marked done, until FANOUT_RETENTION_HOURS); their gids go on with the next row',
    )
    .argument('[ids...]', 'ids of parked rows (see `outbox parked`)')
    .option('--all', 'every parked row')
    .option('--yes', 'confirm: these changes never reach the change topics')
    .action(async (ids: string[], options: { all?: boolean; yes?: boolean }) => {
      const { config, say, print } = context();
      const wanted = idsOf(ids, options.all, 'discard');
      if (!options.yes) {
        throw new CliFailure(
          'discarding means subscribers never get those changes (the next change of the resource carries its whole state): run again with --yes to do it',
        );
      }
      const changed = await withConnections(config, { database: true }, ({ dataSource }) =>
        // parked_at stays: a row both parked and published was discarded, not published.
        changeParked(
          dataSource,
          wanted,
          /* sql */ `UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`,
        ),
      );
      for (const row of changed) say(`discarded outbox row ${row.id} (gid ${row.gid})`);
      print(`discarded: ${changed.length}; their gids go on with their next rows`);
    });
}
