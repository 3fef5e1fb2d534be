import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { classifyError } from '@asana-stream/errors';

/** How the retention job runs; the defaults are the app's. */
export interface RetentionOptions {
  /** Rows deleted per statement (each its own transaction). */
  chunkRows?: number;
  /** Chunks per run at most: a run stays bounded however far behind it is; the next run goes on. */
  maxChunks?: number;
}

const DEFAULTS: Required<RetentionOptions> = { chunkRows: 5000, maxChunks: 200 };
/** Time between runs; the first runs shortly after start. */
const INTERVAL_MS = 60_000;
const FIRST_RUN_AFTER_MS = 5000;

/**
 * One chunk of expired rows, oldest first, and in the same statement the Events API's horizon: the
 * highest feed position and latest publish time deleted, so a cursor or `since` before them is
 * answered 410 instead of silently skipping what was deleted.
 */
const DELETE_EXPIRED = /* sql */ `
  WITH deleted AS (
    DELETE FROM outbox WHERE id IN (
      SELECT id FROM outbox
      WHERE published_at IS NOT NULL AND published_at < now() - make_interval(hours => $1)
      ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING feed_position, published_at
  ), horizon AS (
    UPDATE events_feed SET
      deleted_through = greatest(deleted_through, (SELECT max(feed_position) FROM deleted)),
      deleted_until = greatest(deleted_until, (SELECT max(published_at) FROM deleted WHERE feed_position IS NOT NULL))
    WHERE EXISTS (SELECT 1 FROM deleted WHERE feed_position IS NOT NULL)
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM deleted)::int AS count, (SELECT count(*) FROM horizon)::int AS horizon`;

/**
 * Deletes outbox rows published (or discarded) more than `FANOUT_RETENTION_HOURS` ago, in chunks
 * of `chunkRows`, oldest first. Unpublished and parked rows are never deleted. Replicas may run it
 * at once: each chunk skips rows another one is deleting (SKIP LOCKED).
 */
@Injectable()
export class OutboxRetentionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(OutboxRetentionService.name);
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: FanoutConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** Deletes expired rows; returns how many. */
  async deleteExpired(options: RetentionOptions = {}): Promise<number> {
    const { chunkRows, maxChunks } = { ...DEFAULTS, ...options };
    const hours = this.config.fanout.FANOUT_RETENTION_HOURS;
    let deleted = 0;
    for (let chunk = 0; chunk < maxChunks && !this.stopping.signal.aborted; chunk++) {
      const [{ count }] = await this.dataSource.query<{ count: number }[]>(DELETE_EXPIRED, [hours, chunkRows]);
      deleted += count;
      if (count < chunkRows) break;
    }
    return deleted;
  }

  private async run(): Promise<void> {
    let wait = FIRST_RUN_AFTER_MS;
    while (!this.stopping.signal.aborted) {
      try {
        await sleep(wait, undefined, { signal: this.stopping.signal });
      } catch {
        return;
      }
      wait = INTERVAL_MS;
      try {
        const deleted = await this.deleteExpired();
        if (deleted > 0) this.log.log({ msg: 'deleted published outbox rows past their retention', deleted });
      } catch (error) {
        this.log.warn({ msg: 'outbox retention failed; trying again later', error: classifyError(error).toJSON() });
      }
    }
  }
}
