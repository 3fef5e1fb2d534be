import { Column, PrimaryColumn } from 'typeorm';
import type { AsanaResource } from '@asana-stream/asana';

/** bigint columns come back from pg as strings; versions are ms timestamps, well inside 2^53. */
export const bigintAsNumber = {
  to: (value: number) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** Columns every projection table has: identity, full state, version guard, soft delete. */
export abstract class ProjectionColumns {
  @PrimaryColumn({ type: 'text' })
  gid!: string;

  /** The resource as Asana's API last returned it (the latest tombstoned state is kept). */
  @Column({ type: 'jsonb' })
  state!: AsanaResource;

  /** Version of `state`: Asana's `modified_at` in ms where it has one, else the fetch time. */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  version!: number;

  /** Set while the resource is deleted in Asana: rows are tombstoned, never removed. */
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
