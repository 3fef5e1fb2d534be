import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Where the Events API follower keeps each watched resource's place (`event_streams`): its sync
 * token, saved only once the events read before it are in Kafka; when it is next due and which
 * replica holds it (a lease, so replicas split the resources and a dead one's lapse); what it
 * read last; and a resync it asks for when Asana says the token is gone (a 412), which the
 * resync of the resource clears.
 */
export class EventStreams1764633600000 implements MigrationInterface {
  name = 'EventStreams1764633600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `CREATE TABLE event_streams (
      resource_gid text PRIMARY KEY,
      sync_token text,
      next_poll_at timestamptz NOT NULL DEFAULT now(),
      leased_until timestamptz,
      leased_by text,
      last_polled_at timestamptz,
      last_event_at timestamptz,
      events_read bigint NOT NULL DEFAULT 0,
      events_published bigint NOT NULL DEFAULT 0,
      polls_failed integer NOT NULL DEFAULT 0,
      last_error text,
      resync_requested_at timestamptz,
      resync_reason text,
      created_at timestamptz NOT NULL DEFAULT now())`);
    await queryRunner.query(/* sql */ `CREATE INDEX event_streams_due_idx ON event_streams (next_poll_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP TABLE event_streams`);
  }
}
