import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Routes a team declares (`asana-stream routes apply`): each a name (its topic is
 * `asana.routes.<name>`) and a filter (jsonb, see `RouteFilter` in libs/contracts). fanout reloads
 * them on a NOTIFY from the cli and every few seconds. And `events_api_consumers.routes`: the routes
 * a consumer may read with `GET /events?route=` (null: not limited to routes).
 */
export class Routes1765022400000 implements MigrationInterface {
  name = 'Routes1765022400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `CREATE TABLE routes (
      name text PRIMARY KEY,
      filter jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await queryRunner.query(/* sql */ `ALTER TABLE events_api_consumers ADD COLUMN routes text[]`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `ALTER TABLE events_api_consumers DROP COLUMN routes`);
    await queryRunner.query(/* sql */ `DROP TABLE routes`);
  }
}
