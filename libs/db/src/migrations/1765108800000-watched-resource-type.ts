import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The type of the resource each subscription's webhook watches (Asana's webhook `resource.resource_type`:
 * `project`, `task`, `workspace`, `portfolio`, `team`, `goal`, …), which decides how the enricher
 * resyncs and sweeps it. Nullable: a subscription made before it was kept has none until the
 * webhook monitor (or the resync) reads its webhook from Asana and fills it in.
 */
export class WatchedResourceType1765108800000 implements MigrationInterface {
  name = 'WatchedResourceType1765108800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE subscriptions ADD COLUMN resource_type text`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE subscriptions DROP COLUMN resource_type`);
  }
}
