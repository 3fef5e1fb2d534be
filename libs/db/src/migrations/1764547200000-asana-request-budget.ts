import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The Asana request budget every enricher replica (and later the reconciler) shares: one row per
 * token (keyed by a hash of it, never the token) holding the current window's spent requests and
 * when the window ends. rate-limiter-flexible's `RateLimiterPostgres` reads and writes it with
 * one upsert per request; its shape is that library's own table (`key`, `points`, `expire` in
 * epoch ms), created here so that apps never run DDL.
 */
export class AsanaRequestBudget1764547200000 implements MigrationInterface {
  name = 'AsanaRequestBudget1764547200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `CREATE TABLE asana_request_budget (
      key varchar(255) PRIMARY KEY,
      points integer NOT NULL DEFAULT 0,
      expire bigint
    )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP TABLE asana_request_budget`);
  }
}
