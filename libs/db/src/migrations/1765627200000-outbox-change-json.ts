import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `outbox.change` is `json`, not `jsonb`: the text the projector wrote, kept as it is (Postgres
 * checks that it is JSON). Nothing queries inside a change but `asana-stream lookup`, which reads
 * a few fields of one gid's rows, while every change is written once and read as text twice (the
 * relay publishes it, the Events API serves it). As `jsonb`, Postgres built the binary form of
 * every change on insert and printed it back on each read: inserting a batch of 500 changes took
 * 37 to 47 µs a row against 16 to 21 µs as `json` (same rows, same indexes, 20,000 rows per run).
 * A published change keeps its fields; its text is the projector's (compact, in the contract's
 * field order) instead of Postgres' printing of the jsonb.
 *
 * The column change rewrites the table under an exclusive lock: the outbox holds what the
 * retention job kept (`FANOUT_RETENTION_HOURS` of published rows), and the apps wait for it
 * like for any migration.
 */
export class OutboxChangeJson1765627200000 implements MigrationInterface {
  name = 'OutboxChangeJson1765627200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE outbox ALTER COLUMN change TYPE json USING change::json`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE outbox ALTER COLUMN change TYPE jsonb USING change::jsonb`);
  }
}
