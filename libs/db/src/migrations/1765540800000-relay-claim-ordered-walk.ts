import type { MigrationInterface, QueryRunner } from 'typeorm';
import { RelayClaim1765368000000 } from './1765368000000-relay-claim';

/**
 * `relay_claim_gids` walks the unpublished rows in id order a slice at a time. Its slice used to
 * leave out parked gids in the same statement (an anti-join per row), and with that join the
 * planner's choice followed the statistics: an outbox analysed while (almost) everything was
 * published, as a running installation's is, or never analysed, estimates a handful of
 * unpublished rows, so during a burst Postgres read every unpublished row and sorted them to keep
 * one slice: 35 to 48 ms per claim over 20,000 rows, growing with the burst (a backlog drained in
 * quadratic time). Any other index lookup per gid is no better: with such estimates every
 * partial index on unpublished rows looks empty, and Postgres may take the wrong one.
 *
 * Now the slice is the plain `ORDER BY id LIMIT` walk of `outbox_unpublished_idx`, which stops at
 * the slice's end whatever the statistics say, and parked gids are found on the way: a parked
 * row is its gid's first unpublished row (a gid's rows are published in id order, and one that
 * Kafka refuses stops its gid), and the walk starts at the head, so it meets every parked row
 * before any later row of the same gid. A parked gid's rows are skipped as before: they count
 * neither as claimed nor toward the window (`window_rows` counts the rows of gids that could be
 * claimed), so a parked gid holding many rows at the head never stops the others. Its plans are
 * generic (`plan_cache_mode`): one plan per connection, the same for every call.
 */
export class RelayClaimOrderedWalk1765540800000 implements MigrationInterface {
  name = 'RelayClaimOrderedWalk1765540800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `
      CREATE OR REPLACE FUNCTION relay_claim_gids(batch_rows integer, lock_ns integer, window_rows integer)
      RETURNS SETOF text LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        candidate record;
        claimed integer := 0;
        walked integer := 0;
        last_id bigint := 0;
        slice_size integer;
        slice_all integer;
        slice_rows integer;
        parked_gids text[] := '{}';
      BEGIN
        WHILE claimed < batch_rows AND walked < window_rows LOOP
          slice_size := least(batch_rows, window_rows - walked);
          slice_all := 0;
          slice_rows := 0;
          FOR candidate IN
            SELECT s.gid, count(*)::integer AS n, min(s.id) AS first_id, max(s.id) AS last_of_gid,
                   bool_or(s.parked_at IS NOT NULL) AS parked
            FROM (
              SELECT o.id, o.gid, o.parked_at FROM outbox o
              WHERE o.published_at IS NULL AND o.id > last_id
              ORDER BY o.id LIMIT slice_size
            ) s
            GROUP BY s.gid ORDER BY first_id
          LOOP
            -- The slice's size and last id, complete when the loop ends without a full batch.
            slice_all := slice_all + candidate.n;
            last_id := greatest(last_id, candidate.last_of_gid);
            IF candidate.parked THEN
              parked_gids := parked_gids || candidate.gid;
              CONTINUE;
            END IF;
            CONTINUE WHEN candidate.gid = ANY (parked_gids);
            slice_rows := slice_rows + candidate.n;
            IF pg_try_advisory_xact_lock(lock_ns, hashtext(candidate.gid)) THEN
              RETURN NEXT candidate.gid;
              claimed := claimed + candidate.n;
              EXIT WHEN claimed >= batch_rows;
            END IF;
          END LOOP;
          walked := walked + slice_rows;
          EXIT WHEN slice_all < slice_size;
        END LOOP;
      END
      $fn$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The walk as it was: the earlier migration's own definition.
    await queryRunner.query(/* sql */ `DROP FUNCTION relay_claim_gids(integer, integer, integer)`);
    await new RelayClaim1765368000000().up(queryRunner);
  }
}
