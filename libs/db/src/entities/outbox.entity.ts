import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ResourceChangeMessage } from '@asana-stream/contracts';

/** The channel the projector NOTIFYs (once per transaction) and the fanout relay LISTENs on. */
export const OUTBOX_CHANNEL = 'asana_stream_outbox';

/** The channel the relay NOTIFYs when rows joined the Events API's feed; long-polls LISTEN on it. */
export const FEED_CHANNEL = 'asana_stream_feed';

/**
 * Changes waiting to be published, written in the same transaction as the projection row.
 * Relays claim unpublished rows per gid (a transaction-scoped advisory lock on the gid), never by
 * `id > last seen`: sequence values commit out of order. A row Kafka refuses is parked
 * (`parked_at`), and its gid's later rows wait behind it; the other gids go on.
 */
@Entity({ name: 'outbox' })
export class OutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  gid!: string;

  @Column({ type: 'text' })
  type!: string;

  /** The change message without its `changeId`, which is this row's id; `json`: the text as written. */
  @Column({ type: 'json' })
  change!: Omit<ResourceChangeMessage, 'changeId'>;

  /** W3C trace context of the transaction that wrote the row, so the relay continues the trace. */
  @Column({ type: 'text', nullable: true })
  traceparent!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  /** Asana's `created_at` of the earliest event the change answers: where end-to-end freshness starts. */
  @Column({ name: 'event_at', type: 'timestamptz', nullable: true })
  eventAt!: Date | null;

  /**
   * When Kafka acknowledged the row, or when an operator discarded it (`parked_at` then stays set):
   * the relay is done with it either way, and the retention job deletes it after `FANOUT_RETENTION_HOURS`.
   */
  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;

  /**
   * The row's place in the Events API's feed, assigned when the relay marks it published, in
   * commit order (see the events-feed migration). Null until published, and for a discarded row,
   * which never reached Kafka and so is not in the feed either.
   */
  @Column({ name: 'feed_position', type: 'bigint', nullable: true })
  feedPosition!: string | null;

  /** Publishes of this row that failed for a reason that may be the row's own. */
  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  /** The last such failure: its error code and our message (no payload). */
  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  /**
   * When the relay gave up on the row (Kafka refuses it, or it failed `attempts` times): while it
   * is set and the row unpublished, the row's gid is not relayed. `asana-stream outbox redrive`
   * clears it, `outbox discard` marks the row published.
   */
  @Column({ name: 'parked_at', type: 'timestamptz', nullable: true })
  parkedAt!: Date | null;
}
