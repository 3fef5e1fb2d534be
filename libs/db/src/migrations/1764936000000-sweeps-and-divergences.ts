import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Light sweeps and divergences. On each `event_streams` row: `swept_through`, the start of the last
 * successful sweep of the resource, light or full (the next light sweep lists what Asana modified
 * since then, less an overlap); `last_sweep_at`, when the last light sweep ended; the light sweep
 * under way (`sweep_started_at`, under the resync's lease); and one an operator asked for from a
 * given time (`sweep_requested_since`, `asana-stream reconcile --since`). `divergences`: each
 * resource a sweep, a resync or the Events API follower found Postgres behind Asana on, until the
 * projection reflects the version found. And an index for the resync's "vanished" query, which
 * looked for a project's live tasks by scanning `tasks`.
 */
export class SweepsAndDivergences1764936000000 implements MigrationInterface {
  name = 'SweepsAndDivergences1764936000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE event_streams
      ADD COLUMN swept_through timestamptz,
      ADD COLUMN last_sweep_at timestamptz,
      ADD COLUMN sweep_started_at timestamptz,
      ADD COLUMN sweep_requested_since timestamptz`);
    await queryRunner.query(/* sql */ `CREATE TABLE divergences (
      gid text PRIMARY KEY,
      type text NOT NULL,
      resource_gid text NOT NULL,
      cause text NOT NULL,
      found_by text NOT NULL,
      asana_version bigint,
      projected_version bigint,
      found_at timestamptz NOT NULL DEFAULT now())`);
    await queryRunner.query(/* sql */ `CREATE INDEX divergences_found_at_idx ON divergences (found_at)`);
    // The vanished query asks `state->'projects' @> [{"gid": P}]` of live tasks; jsonb_path_ops
    // serves containment only, and is smaller than the default GIN operator class.
    await queryRunner.query(
      /* sql */ `CREATE INDEX tasks_live_projects_idx ON tasks USING gin ((state->'projects') jsonb_path_ops) WHERE deleted_at IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP INDEX tasks_live_projects_idx`);
    await queryRunner.query(/* sql */ `DROP TABLE divergences`);
    await queryRunner.query(/* sql */ `ALTER TABLE event_streams
      DROP COLUMN swept_through, DROP COLUMN last_sweep_at, DROP COLUMN sweep_started_at,
      DROP COLUMN sweep_requested_since`);
  }
}
