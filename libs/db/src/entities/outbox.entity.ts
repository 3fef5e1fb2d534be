import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ResourceChangeMessage } from '@asana-stream/contracts';

/** The channel the projector NOTIFYs (once per transaction) and the fanout relay LISTENs on. */
export const OUTBOX_CHANNEL = 'asana_stream_outbox';

/**
 * Changes waiting to be published, written in the same transaction as the projection row.
 * Relays claim unpublished rows with FOR UPDATE SKIP LOCKED, never by `id > last seen`:
 * sequence values commit out of order.
 */
@Entity({ name: 'outbox' })
export class OutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  gid!: string;

  @Column({ type: 'text' })
  type!: string;

  /** The change message without its `changeId`, which is this row's id. */
  @Column({ type: 'jsonb' })
  change!: Omit<ResourceChangeMessage, 'changeId'>;

  /** W3C trace context of the transaction that wrote the row, so the relay continues the trace. */
  @Column({ type: 'text', nullable: true })
  traceparent!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;
}
