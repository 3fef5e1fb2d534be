import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The Events API's ordered change log, kept on the outbox itself.
 *
 * - `outbox.feed_position`: a row's place in the feed, assigned by the relay in the transaction
 *   that marks the row published (after Kafka acknowledged it). Positions come from the one row of
 *   `events_feed`, whose row lock the relay holds until it commits, so a position is only handed
 *   out after every smaller one committed: a reader that saw position N never later finds a row
 *   below N (outbox ids commit out of order; positions do not).
 * - `events_feed.deleted_through`: the highest position the retention job has deleted; a cursor
 *   below it may have missed rows and is answered 410; `deleted_until`, the latest publish time
 *   among the deleted rows, does the same for a `since` time.
 * - `events_api_consumers`: who may read the feed, by a token kept only as its SHA-256, and which
 *   resource types each may read (null: all).
 */
export class EventsFeed1764900000000 implements MigrationInterface {
  name = 'EventsFeed1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE outbox ADD COLUMN feed_position bigint`);
    await queryRunner.query(
      /* sql */ `CREATE UNIQUE INDEX outbox_feed_position_idx ON outbox (feed_position) WHERE feed_position IS NOT NULL`,
    );
    await queryRunner.query(/* sql */ `CREATE TABLE events_feed (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      last_position bigint NOT NULL DEFAULT 0,
      deleted_through bigint NOT NULL DEFAULT 0,
      deleted_until timestamptz)`);
    await queryRunner.query(/* sql */ `INSERT INTO events_feed DEFAULT VALUES`);
    await queryRunner.query(/* sql */ `CREATE TABLE events_api_consumers (
      name text PRIMARY KEY,
      token_sha256 bytea NOT NULL UNIQUE,
      types text[],
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP TABLE events_api_consumers`);
    await queryRunner.query(/* sql */ `DROP TABLE events_feed`);
    await queryRunner.query(/* sql */ `DROP INDEX outbox_feed_position_idx`);
    await queryRunner.query(/* sql */ `ALTER TABLE outbox DROP COLUMN feed_position`);
  }
}
