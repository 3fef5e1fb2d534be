import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { TopicNames } from '@asana-stream/contracts';
import { AsanaStreamError } from '@asana-stream/errors';
import { createKafkaClient } from '@asana-stream/kafka';
import { DEFAULT_LOOKUP_LIMITS, lookupResource, type ResourceLookup } from '@asana-stream/lookup';

/**
 * Answers `GET /lookup/:gid` with the query `asana-stream lookup` runs (`@asana-stream/lookup`),
 * over the fanout's own database and a Kafka client of its own, connected at the first lookup so
 * a fanout nobody asks costs nothing. One lookup runs at a time: each reads three topics with a
 * consumer of its own, which an operator's burst of requests should not multiply.
 */
@Injectable()
export class LookupService implements OnApplicationShutdown {
  private kafka?: Kafka;
  private admin?: Promise<Admin>;
  private running = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: FanoutConfig,
    private readonly dataSource: DataSource,
    private readonly names: TopicNames,
  ) {}

  /** The lookup, or `BUSY` (retry) while another one runs. */
  async lookup(gid: string): Promise<ResourceLookup> {
    if (this.running) throw new AsanaStreamError('RATE_LIMITED', 'a lookup is running; try again in a few seconds');
    this.running = true;
    try {
      const admin = await this.connectedAdmin();
      return await lookupResource({ db: this.dataSource, kafka: this.kafka!, admin, names: this.names }, gid, {
        ...DEFAULT_LOOKUP_LIMITS,
      });
    } finally {
      this.running = false;
    }
  }

  private connectedAdmin(): Promise<Admin> {
    this.kafka ??= createKafkaClient({
      brokers: this.config.kafka.KAFKA_BROKERS,
      clientId: 'asana-stream-fanout-lookup',
    });
    this.admin ??= (async () => {
      const admin = this.kafka!.admin();
      await admin.connect();
      return admin;
    })().catch((error: unknown) => {
      this.admin = undefined;
      throw error;
    });
    return this.admin;
  }

  async onApplicationShutdown(): Promise<void> {
    const admin = await this.admin?.catch(() => undefined);
    await admin?.disconnect();
  }
}
