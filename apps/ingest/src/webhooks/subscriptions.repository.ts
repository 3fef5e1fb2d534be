import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Not, Repository, type FindOperator, type FindOptionsWhere } from 'typeorm';
import { APP_CONFIG, WebhookSecretCipher, type IngestConfig } from '@asana-stream/config';
import { SubscriptionEntity } from '@asana-stream/db';
import { classifyError } from '@asana-stream/errors';
import { IngestError } from './ingest.errors';
import { SubscriptionCache, type SubscriptionCacheOptions } from './subscription-cache';

export type HandshakeOutcome = 'accepted' | 'unknown' | 'not-pending';

/** What a delivery is verified with: a subscription that has its secret and is not deleted. */
export interface ReceivingSubscription {
  id: string;
  secret: string;
}

/**
 * How long a subscription known before Postgres stopped answering is still served: long enough
 * to ride out a failover or a restart, short enough that a subscription deleted meanwhile does
 * not live on.
 */
const SERVE_STALE_FOR_MS = 10 * 60_000;
/** Subscriptions remembered at most (a flood of unknown ids must not grow the cache without bound). */
const MAX_CACHED = 10_000;
/**
 * How long after its last delivery a subscription is kept fresh in the background: its
 * deliveries never wait for Postgres, a burst after a quiet spell included.
 */
const KEEP_FRESH_FOR_MS = 10 * 60_000;

/**
 * Ingest's view of webhook subscriptions: secrets to verify with, handshakes, last contact.
 * Deliveries look their subscription up through a short-lived cache, so Postgres is not asked once
 * per delivery and its outage does not fail deliveries of subscriptions known just before it. The
 * subscriptions that had deliveries lately are looked up again together every half
 * INGEST_SUBSCRIPTION_CACHE_MS, one query for all of them: their deliveries never wait for that
 * lookup, and a deleted subscription is still refused within INGEST_SUBSCRIPTION_CACHE_MS.
 */
@Injectable()
export class SubscriptionsRepository implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(SubscriptionsRepository.name);
  private readonly receiving: SubscriptionCache<ReceivingSubscription>;
  /** Whether deliveries are being verified with cached subscriptions because Postgres does not answer. */
  private servingStale = false;

  constructor(
    @InjectRepository(SubscriptionEntity) private readonly subscriptions: Repository<SubscriptionEntity>,
    @Inject(APP_CONFIG) config: IngestConfig,
    private readonly cipher: WebhookSecretCipher,
  ) {
    const options: SubscriptionCacheOptions = {
      ttlMs: config.ingest.INGEST_SUBSCRIPTION_CACHE_MS,
      staleMs: SERVE_STALE_FOR_MS,
      warmMs: KEEP_FRESH_FOR_MS,
      // Well inside the request's budget: a hung connection must leave time to answer.
      timeoutMs: Math.min(2000, Math.floor(config.ingest.INGEST_REQUEST_TIMEOUT_MS / 3)),
      maxEntries: MAX_CACHED,
      timeoutError: (ms) =>
        new IngestError('DATABASE_UNAVAILABLE', `Postgres did not answer the subscription lookup within ${ms} ms`),
      onStale: (subscriptionId, error, ageMs) => {
        if (this.servingStale) return;
        this.servingStale = true;
        this.log.warn({
          msg: 'postgres does not answer: verifying deliveries with cached subscriptions',
          subscriptionId,
          ageMs,
          error: classifyError(error).toJSON(),
        });
      },
    };
    this.receiving = new SubscriptionCache(
      (id) => this.loadReceiving(id),
      options,
      (ids) => this.loadManyReceiving(ids),
    );
  }

  onModuleInit(): void {
    this.receiving.startRefreshing();
  }

  onModuleDestroy(): void {
    this.receiving.stopRefreshing();
  }

  /**
   * The subscription deliveries for `id` are verified with, or null when there is none (no such id,
   * no secret yet, deleted). Up to INGEST_SUBSCRIPTION_CACHE_MS old; rejects with a `retry`
   * AsanaStreamError (503) when Postgres does not answer and nothing recent is cached.
   */
  findReceiving(id: string): Promise<ReceivingSubscription | null> {
    return this.receiving.get(id);
  }

  /**
   * Stores the handshake secret, encrypted with the current key of WEBHOOK_SECRET_KEYS, only for a
   * subscription still waiting for its handshake and without a secret: a second `X-Hook-Secret`
   * could be an attacker planting a secret.
   */
  async acceptHandshake(id: string, secret: string): Promise<HandshakeOutcome> {
    const sealed = this.cipher.encrypt(id, secret);
    const outcome = await this.databaseCall('the handshake could not be stored', async () => {
      const result = await this.subscriptions.update(
        { id, status: 'pending_handshake', secret: IsNull() },
        { secret: sealed, handshakeAt: new Date() },
      );
      if (result.affected) return 'accepted';
      return (await this.subscriptions.existsBy({ id })) ? 'not-pending' : 'unknown';
    });
    // Asana's first heartbeat follows the handshake at once: it must not meet a cached miss.
    if (outcome === 'accepted') this.receiving.delete(id);
    return outcome;
  }

  async recordContact(id: string, heartbeat: boolean): Promise<void> {
    const now = new Date();
    await this.subscriptions.update(
      { id },
      heartbeat ? { lastHeartbeatAt: now, lastDeliveryAt: now } : { lastDeliveryAt: now },
    );
  }

  private async loadReceiving(id: string): Promise<ReceivingSubscription | null> {
    const found = await this.databaseCall('the subscription could not be looked up', () =>
      this.subscriptions.findOne({ select: { id: true, secret: true }, where: receivingWhere(id) }),
    );
    this.answered();
    return found ? this.receivingOf(found) : null;
  }

  /**
   * The receiving subscriptions among `ids` (the cache's refresh): one query. A secret these keys
   * cannot open fails the whole refresh: each delivery past the TTL then looks its own
   * subscription up, and that one's answer is the 503 above.
   */
  private async loadManyReceiving(ids: string[]): Promise<Map<string, ReceivingSubscription>> {
    const found = await this.subscriptions.find({ select: { id: true, secret: true }, where: receivingWhere(In(ids)) });
    this.answered();
    const receiving = new Map<string, ReceivingSubscription>();
    for (const row of found) {
      const subscription = this.receivingOf(row);
      if (subscription) receiving.set(subscription.id, subscription);
    }
    return receiving;
  }

  /**
   * Decrypted once per lookup, so the cache holds what deliveries are verified with. A secret
   * these keys cannot open is a WebhookSecretError (CONFIG_INVALID: 503, logged as an error).
   */
  private receivingOf(row: Pick<SubscriptionEntity, 'id' | 'secret'>): ReceivingSubscription | null {
    return row.secret ? { id: row.id, secret: this.cipher.decrypt(row.id, row.secret) } : null;
  }

  private answered(): void {
    if (!this.servingStale) return;
    this.servingStale = false;
    this.log.log({ msg: 'postgres answers again: subscriptions are looked up afresh' });
  }

  /**
   * Runs a query, turning a failure to reach Postgres (refused, reset, timed out: pg's pool
   * reports these as plain network errors) into DATABASE_UNAVAILABLE, 503 so Asana retries.
   * Other failures keep their classification: a halt (a refused login, a schema that does not fit)
   * stays one.
   */
  private async databaseCall<T>(failure: string, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (cause) {
      const classified = classifyError(cause);
      if (classified.code !== 'UNAVAILABLE' && classified.code !== 'TIMEOUT') throw classified;
      throw new IngestError('DATABASE_UNAVAILABLE', `${failure}; retry later`, {
        cause,
        details: classified.details,
      });
    }
  }
}

/** A subscription deliveries are verified with: it has its secret and is not deleted. */
function receivingWhere(id: string | FindOperator<string>): FindOptionsWhere<SubscriptionEntity> {
  return { id, secret: Not(IsNull()), status: Not('deleted') };
}
