import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Parking outbox rows Kafka refuses: how often a row failed, why last, and when the relay parked
 * it (its gid then waits behind it until an operator re-drives or discards it). Plus the index
 * the relay's claim uses to leave parked gids out, and the one the retention job deletes by.
 */
export class OutboxParking1764460800000 implements MigrationInterface {
  name = 'OutboxParking1764460800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE outbox
      ADD COLUMN attempts integer NOT NULL DEFAULT 0,
      ADD COLUMN last_error text,
      ADD COLUMN parked_at timestamptz`);
    await queryRunner.query(
      /* sql */ `CREATE INDEX outbox_parked_idx ON outbox (gid) WHERE parked_at IS NOT NULL AND published_at IS NULL`,
    );
    await queryRunner.query(
      /* sql */ `CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP INDEX outbox_published_at_idx`);
    await queryRunner.query(/* sql */ `DROP INDEX outbox_parked_idx`);
    await queryRunner.query(
      /* sql */ `ALTER TABLE outbox DROP COLUMN parked_at, DROP COLUMN last_error, DROP COLUMN attempts`,
    );
  }
}
