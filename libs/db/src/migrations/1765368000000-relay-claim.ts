import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay's gid claim as a function, so a replica that finds the head of the outbox locked by
 * another claims the next gids instead of nothing (two replicas used to take turns on the head).
 *
 * `relay_claim_gids(batch_rows, lock_ns, window_rows)` walks the unpublished rows of gids without
 * a parked row in id order, in slices of `batch_rows` rows (each slice a statement of its own, so
 * one that follows a locked head sees what its holder committed since). Per slice it takes the
 * gids in order of their first row there and try-locks each (`pg_try_advisory_xact_lock(lock_ns,
 * hashtext(gid))`: never waits); it returns every gid it locked and adds that gid's rows in the
 * slice to what it claimed. It stops once the locked gids hold at least `batch_rows` rows of the
 * slices walked, at the end of the unpublished rows, or after `window_rows` rows (a few batches:
 * a claim never scans the whole backlog). Uncontended, the first slice is the old claim exactly.
 *
 * A gid locked in an earlier slice is locked again in a later one (advisory locks are reentrant:
 * true at once) and counted with its later rows; a gid skipped in one slice is tried again in the
 * next, and if its holder committed meanwhile it is this claim's: the caller reads the locked
 * gids' rows in a statement of its own after this one, so it sees the previous holder's marks
 * either way. A lock is taken only for a gid the function returns; a gid may come back twice.
 */
export class RelayClaim1765368000000 implements MigrationInterface {
  name = 'RelayClaim1765368000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `
      CREATE FUNCTION relay_claim_gids(batch_rows integer, lock_ns integer, window_rows integer)
      RETURNS SETOF text LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        candidate record;
        claimed integer := 0;
        walked integer := 0;
        last_id bigint := 0;
        slice_size integer;
        slice_rows integer;
      BEGIN
        WHILE claimed < batch_rows AND walked < window_rows LOOP
          slice_size := least(batch_rows, window_rows - walked);
          slice_rows := 0;
          FOR candidate IN
            SELECT s.gid, count(*)::integer AS n, min(s.id) AS first_id, max(s.id) AS last_of_gid
            FROM (
              SELECT o.id, o.gid FROM outbox o
              WHERE o.published_at IS NULL AND o.id > last_id
                AND NOT EXISTS (SELECT 1 FROM outbox p
                                WHERE p.gid = o.gid AND p.parked_at IS NOT NULL AND p.published_at IS NULL)
              ORDER BY o.id LIMIT slice_size
            ) s
            GROUP BY s.gid ORDER BY first_id
          LOOP
            -- The slice's size and last id, complete when the loop ends without a full batch.
            slice_rows := slice_rows + candidate.n;
            last_id := greatest(last_id, candidate.last_of_gid);
            IF pg_try_advisory_xact_lock(lock_ns, hashtext(candidate.gid)) THEN
              RETURN NEXT candidate.gid;
              claimed := claimed + candidate.n;
              EXIT WHEN claimed >= batch_rows;
            END IF;
          END LOOP;
          walked := walked + slice_rows;
          EXIT WHEN slice_rows < slice_size;
        END LOOP;
      END
      $fn$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(/* sql */ `DROP FUNCTION relay_claim_gids(integer, integer, integer)`);
  }
}
