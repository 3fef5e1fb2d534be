import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { divergenceSummary } from '@asana-stream/db';
import { readCompletenessFrom, type Completeness } from '../enricher-metrics';

/**
 * The watched resources' last sweeps, light and full. One never swept counts from when it was first
 * followed, so a resource whose sweeps keep failing shows as growing, not as absent.
 */
const SWEEP_AGES_SQL = /* sql */ `
  SELECT COALESCE(extract(epoch FROM clock_timestamp() - min(COALESCE(last_sweep_at, created_at))), 0)::float8
           AS light_age_seconds,
         COALESCE(extract(epoch FROM clock_timestamp() - min(COALESCE(last_resync_at, created_at))), 0)::float8
           AS full_age_seconds
  FROM event_streams e
  WHERE EXISTS (SELECT 1 FROM subscriptions sub WHERE sub.resource_gid = e.resource_gid AND sub.status = 'active')`;

/** Lets the completeness gauges (`enricher-metrics.ts`) read Postgres while the app runs. */
@Injectable()
export class ReconcileGaugesService implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    readCompletenessFrom(() => this.read());
  }

  onModuleDestroy(): void {
    readCompletenessFrom(undefined);
  }

  async read(): Promise<Completeness> {
    const [[ages], divergences] = await Promise.all([
      this.dataSource.query<{ light_age_seconds: number; full_age_seconds: number }[]>(SWEEP_AGES_SQL),
      divergenceSummary(this.dataSource),
    ]);
    return {
      lightSweepAgeSeconds: Math.max(0, ages.light_age_seconds),
      fullSweepAgeSeconds: Math.max(0, ages.full_age_seconds),
      openDivergences: divergences.open,
      oldestDivergenceAgeSeconds: divergences.oldestAgeSeconds,
    };
  }
}
