import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `filters` each subscription's webhook was created with (Asana's `WebhookFilter`s:
 * `[{resource_type, resource_subtype?, action?, fields?}]`), kept so that a webhook Asana deleted
 * (the enricher's webhook monitor) or a rotation (`asana-stream webhooks rotate`) is made again
 * with the same ones: a webhook on a workspace, team or portfolio cannot be made without. Nullable:
 * none (every subscription before it, and one made without `--filter`).
 */
export class WebhookFilters1765454400000 implements MigrationInterface {
  name = 'WebhookFilters1765454400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE subscriptions ADD COLUMN filters jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE subscriptions DROP COLUMN filters`);
  }
}
