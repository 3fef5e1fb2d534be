import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The resync of a watched resource, kept on its `event_streams` row: who runs it (a lease of its
 * own, apart from the follower's), where it is (Asana's page offset, saved after each page's
 * corrections are in Kafka, so a crash resumes there), what it has found (tasks checked, repairs
 * by cause, cumulated over every run), and when the next scheduled one is due. The tasks a run has
 * listed so far (`resync_listed`) tell the projection's tasks that vanished from the resource.
 */
export class ResyncProgress1764720000000 implements MigrationInterface {
  name = 'ResyncProgress1764720000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE event_streams
      ADD COLUMN resync_leased_until timestamptz,
      ADD COLUMN resync_leased_by text,
      ADD COLUMN resync_started_at timestamptz,
      ADD COLUMN resync_offset text,
      ADD COLUMN resync_pages integer NOT NULL DEFAULT 0,
      ADD COLUMN resync_checked integer NOT NULL DEFAULT 0,
      ADD COLUMN last_resync_at timestamptz,
      ADD COLUMN last_resync_error text,
      ADD COLUMN next_full_resync_at timestamptz,
      ADD COLUMN repairs_missing bigint NOT NULL DEFAULT 0,
      ADD COLUMN repairs_stale bigint NOT NULL DEFAULT 0,
      ADD COLUMN repairs_vanished bigint NOT NULL DEFAULT 0`);
    await queryRunner.query(/* sql */ `CREATE TABLE resync_listed (
      resource_gid text NOT NULL,
      gid text NOT NULL,
      PRIMARY KEY (resource_gid, gid))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP TABLE resync_listed`);
    await queryRunner.query(/* sql */ `ALTER TABLE event_streams
      DROP COLUMN resync_leased_until, DROP COLUMN resync_leased_by, DROP COLUMN resync_started_at,
      DROP COLUMN resync_offset, DROP COLUMN resync_pages, DROP COLUMN resync_checked,
      DROP COLUMN last_resync_at, DROP COLUMN last_resync_error, DROP COLUMN next_full_resync_at,
      DROP COLUMN repairs_missing, DROP COLUMN repairs_stale, DROP COLUMN repairs_vanished`);
  }
}
