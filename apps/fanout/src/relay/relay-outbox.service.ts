import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { changeTopic, TopicNames, type ResourceChangeMessage } from '@asana-stream/contracts';
import { OUTBOX_CHANNEL, type OutboxEntity } from '@asana-stream/db';
import { jsonMessage, KafkaPublisher } from '@asana-stream/kafka';
import type { ReadinessCheck } from '@asana-stream/runtime';
import { contextFromTraceparent, inSpan } from '@asana-stream/telemetry';
import { OutboxNotifications } from './outbox-notifications';

/**
 * One relay publishes at a time (a transaction-scoped advisory lock), so changes of one gid
 * reach Kafka in outbox order even with several fanout replicas; the others stand by.
 */
const RELAY_LOCK_KEY = 0x6173_616e; // "asan"

type OutboxRow = Pick<OutboxEntity, 'id' | 'gid' | 'type' | 'change' | 'traceparent'>;

/**
 * Relays committed outbox rows to `asana.changes.<type>` (key: gid) and marks them published,
 * in one transaction per batch. Rows are claimed with FOR UPDATE SKIP LOCKED, never by
 * `id > last seen` (sequence values commit out of order). Kafka may see a row twice if the
 * process dies between publish and commit: consumers dedupe by `changeId`.
 */
@Injectable()
export class RelayOutboxService implements OnApplicationBootstrap, OnModuleDestroy, ReadinessCheck {
  readonly name = 'outbox-relay';
  private readonly log = new Logger(RelayOutboxService.name);
  private readonly notifications: OutboxNotifications;
  private running = false;
  private loop?: Promise<void>;
  private lastError: string | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
    @Inject(APP_CONFIG) private readonly config: FanoutConfig,
  ) {
    this.notifications = new OutboxNotifications(config.db.DATABASE_URL, OUTBOX_CHANNEL);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.notifications.start();
    this.running = true;
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    await this.notifications.stop();
    await this.loop;
  }

  async problem(): Promise<string | null> {
    if (!this.running) return 'the relay is not running';
    return this.lastError;
  }

  private async run(): Promise<void> {
    const { FANOUT_BATCH_SIZE: batchSize, FANOUT_POLL_INTERVAL_MS: pollMs } = this.config.fanout;
    while (this.running) {
      try {
        const relayed = await this.relayBatch(batchSize);
        this.lastError = null;
        if (relayed === batchSize) continue;
      } catch (error) {
        this.lastError = String(error);
        this.log.error({ msg: 'relay batch failed; retrying', error: this.lastError });
      }
      if (this.running) await this.notifications.wait(pollMs);
    }
  }

  /** Publishes one batch of unpublished rows; returns how many were relayed. */
  async relayBatch(limit: number): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const [{ locked }] = await manager.query<{ locked: boolean }[]>(
        /* sql */ `SELECT pg_try_advisory_xact_lock($1) AS locked`,
        [RELAY_LOCK_KEY],
      );
      if (!locked) return 0;
      const rows = await manager.query<OutboxRow[]>(
        /* sql */ `SELECT id, gid, type, change, traceparent FROM outbox
                   WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      // One row at a time, stopping at the first failure: a gid's later change must not reach
      // Kafka before an earlier one that failed, which the retry would then publish after it.
      for (const row of rows) await this.publish(row);
      await manager.query(/* sql */ `UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [
        rows.map((row) => row.id),
      ]);
      this.log.debug({ msg: 'relayed outbox rows', count: rows.length, lastId: rows[rows.length - 1].id });
      return rows.length;
    });
  }

  /** Each row is published in the trace its projector transaction belonged to. */
  private publish(row: OutboxRow): Promise<void> {
    const message: ResourceChangeMessage = { ...row.change, changeId: String(row.id) };
    const topic = this.names.physical(changeTopic(row.type).name);
    return inSpan('outbox relay', contextFromTraceparent(row.traceparent), async (span) => {
      span.setAttribute('asana.gid', row.gid);
      span.setAttribute('asana.outbox_id', String(row.id));
      await this.publisher.publish([{ topic, messages: [jsonMessage(row.gid, message)] }]);
    });
  }
}
