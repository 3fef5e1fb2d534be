import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { readBacklogFrom, type OutboxBacklog } from './fanout-metrics';

/** One statement over the unpublished rows (their partial index). */
const BACKLOG_SQL = /* sql */ `
  SELECT count(*)::int AS unpublished,
         count(*) FILTER (WHERE parked_at IS NOT NULL)::int AS parked,
         COALESCE(extract(epoch FROM clock_timestamp() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0)::float8
           AS oldest_age_seconds
  FROM outbox WHERE published_at IS NULL`;

/** Lets the backlog gauges (`fanout-metrics.ts`) read the outbox while the app runs. */
@Injectable()
export class OutboxGaugesService implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    readBacklogFrom(() => this.read());
  }

  onModuleDestroy(): void {
    readBacklogFrom(undefined);
  }

  async read(): Promise<OutboxBacklog> {
    const [row] =
      await this.dataSource.query<{ unpublished: number; parked: number; oldest_age_seconds: number }[]>(BACKLOG_SQL);
    return { unpublished: row.unpublished, parked: row.parked, oldestAgeSeconds: row.oldest_age_seconds };
  }
}
