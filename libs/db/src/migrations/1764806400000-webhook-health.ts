import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the enricher's webhook monitor learns of each subscription's webhook from Asana
 * (`GET /webhooks/{gid}`): when it was last asked, the health Asana reported (`asana_health`:
 * last success and failure, retry count, deletion time), since when it has been failing or
 * silent (each start of either asks for a resync once), and, for a webhook Asana deleted, why the
 * subscription ended and which one replaced it.
 */
export class WebhookHealth1764806400000 implements MigrationInterface {
  name = 'WebhookHealth1764806400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE subscriptions
      ADD COLUMN health_checked_at timestamptz,
      ADD COLUMN asana_health jsonb,
      ADD COLUMN failing_since timestamptz,
      ADD COLUMN silent_since timestamptz,
      ADD COLUMN deleted_reason text,
      ADD COLUMN replaced_by uuid`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE subscriptions
      DROP COLUMN health_checked_at, DROP COLUMN asana_health, DROP COLUMN failing_since,
      DROP COLUMN silent_since, DROP COLUMN deleted_reason, DROP COLUMN replaced_by`);
  }
}
