import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Not, Repository } from 'typeorm';
import { SubscriptionEntity } from '@asana-stream/db';

export type HandshakeOutcome = 'accepted' | 'unknown' | 'not-pending';

/** Ingest's view of webhook subscriptions: secrets to verify with, handshakes, last contact. */
@Injectable()
export class SubscriptionsRepository {
  constructor(@InjectRepository(SubscriptionEntity) private readonly subscriptions: Repository<SubscriptionEntity>) {}

  /** A subscription that has its secret and is not deleted: deliveries for it are verified with it. */
  findReceiving(id: string): Promise<SubscriptionEntity | null> {
    return this.subscriptions.findOneBy({ id, secret: Not(IsNull()), status: Not('deleted') });
  }

  /**
   * Stores the handshake secret only for a subscription still waiting for its handshake and
   * without a secret: a second `X-Hook-Secret` could be an attacker planting a secret.
   */
  async acceptHandshake(id: string, secret: string): Promise<HandshakeOutcome> {
    const result = await this.subscriptions.update(
      { id, status: 'pending_handshake', secret: IsNull() },
      { secret, handshakeAt: new Date() },
    );
    if (result.affected) return 'accepted';
    return (await this.subscriptions.existsBy({ id })) ? 'not-pending' : 'unknown';
  }

  async recordContact(id: string, heartbeat: boolean): Promise<void> {
    const now = new Date();
    await this.subscriptions.update(
      { id },
      heartbeat ? { lastHeartbeatAt: now, lastDeliveryAt: now } : { lastDeliveryAt: now },
    );
  }
}
