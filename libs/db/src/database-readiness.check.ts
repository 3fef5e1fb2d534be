import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ReadinessCheck } from '@asana-stream/runtime';

/** Ready when Postgres answers a trivial query. */
@Injectable()
export class DatabaseReadinessCheck implements ReadinessCheck {
  readonly name = 'database';

  constructor(private readonly dataSource: DataSource) {}

  async problem(): Promise<string | null> {
    try {
      await this.dataSource.query('SELECT 1');
      return null;
    } catch (error) {
      return `postgres does not answer: ${String(error)}`;
    }
  }
}
