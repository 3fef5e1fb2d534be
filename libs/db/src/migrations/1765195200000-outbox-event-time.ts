import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `outbox.event_at`: Asana's `created_at` of the earliest event the change answers (the state
 * message's `eventAt`), so the relay can measure end-to-end freshness, from Asana to the Kafka
 * acknowledgement of the published change. Null for rows written before it and for states that
 * carry no event time.
 */
export class OutboxEventTime1765195200000 implements MigrationInterface {
  name = 'OutboxEventTime1765195200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE outbox ADD COLUMN event_at timestamptz`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE outbox DROP COLUMN event_at`);
  }
}
