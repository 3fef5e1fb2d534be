import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Projection tables, the outbox and webhook subscriptions. */
export class InitialSchema1763856000000 implements MigrationInterface {
  name = 'InitialSchema1763856000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const projection = /* sql */ `
      gid text PRIMARY KEY,
      state jsonb NOT NULL,
      version bigint NOT NULL,
      deleted_at timestamptz,
      updated_at timestamptz NOT NULL`;
    await queryRunner.query(/* sql */ `CREATE TABLE tasks (${projection},
      name text, completed boolean, assignee_gid text, workspace_gid text)`);
    await queryRunner.query(/* sql */ `CREATE INDEX tasks_assignee_gid_idx ON tasks (assignee_gid)`);
    await queryRunner.query(/* sql */ `CREATE TABLE projects (${projection},
      name text, archived boolean, workspace_gid text)`);
    await queryRunner.query(/* sql */ `CREATE TABLE resources (${projection}, type text NOT NULL)`);
    await queryRunner.query(/* sql */ `CREATE INDEX resources_type_idx ON resources (type)`);
    await queryRunner.query(/* sql */ `CREATE TABLE outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      gid text NOT NULL,
      type text NOT NULL,
      change jsonb NOT NULL,
      traceparent text,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz)`);
    await queryRunner.query(/* sql */ `CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL`);
    await queryRunner.query(/* sql */ `CREATE TABLE subscriptions (
      id uuid PRIMARY KEY,
      webhook_gid text UNIQUE,
      resource_gid text NOT NULL,
      target_url text NOT NULL,
      secret text,
      status text NOT NULL CHECK (status IN ('pending_handshake', 'active', 'deleted')),
      handshake_at timestamptz,
      last_delivery_at timestamptz,
      last_heartbeat_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['subscriptions', 'outbox', 'resources', 'projects', 'tasks']) {
      await queryRunner.query(/* sql */ `DROP TABLE ${table}`);
    }
  }
}
