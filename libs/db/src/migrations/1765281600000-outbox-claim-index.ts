import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay's second claim statement reads the unpublished rows of the gids it locked
 * (`gid = ANY($1) AND published_at IS NULL`). Without an index on the gid it scanned the whole
 * outbox, published rows kept for retention included, whenever the planner's statistics still
 * counted many unpublished rows (a backlog analysed before it drained): 5 ms for 20,000 rows, and
 * growing with the retained outbox. This partial index holds only the unpublished rows, by gid
 * and id, so the claim reads just the locked gids' rows in order, whatever the statistics say.
 */
export class OutboxClaimIndex1765281600000 implements MigrationInterface {
  name = 'OutboxClaimIndex1765281600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      /* sql */ `CREATE INDEX outbox_unpublished_gid_idx ON outbox (gid, id) WHERE published_at IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP INDEX outbox_unpublished_gid_idx`);
  }
}
