import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import secureJson from 'secure-json-parse';
import {
  ASANA_HOOK_SIGNATURE_HEADER,
  asanaEventId,
  isValidAsanaSignature,
  type AsanaDelivery,
} from '@asana-stream/asana';
import { APP_CONFIG, type IngestConfig } from '@asana-stream/config';
import { TOPICS, TopicNames, type AsanaEventEnvelope, type RawDeliveryRecord } from '@asana-stream/contracts';
import { jsonMessage, KafkaPublisher } from '@asana-stream/kafka';
import { deliveryProblems } from './asana-delivery.dto';
import { ContactThrottle } from './contact-throttle';
import { IngestError } from './ingest.errors';
import { SubscriptionsRepository } from './subscriptions.repository';

export interface DeliveryReceipt {
  deliveryId: string;
  eventCount: number;
}

/** How stale a subscription's `last_delivery_at` may get under steady traffic. */
const CONTACT_WRITE_INTERVAL_MS = 10_000;

/** Headers kept with the raw delivery for audit and replay (never the handshake secret). */
const KEPT_HEADERS = ['content-type', 'user-agent', ASANA_HOOK_SIGNATURE_HEADER];

/**
 * Verifies one webhook delivery and publishes it: every event to `asana.events` keyed by its
 * resource gid, the raw body to `asana.deliveries`. Resolves only once Kafka has all of it, so
 * the 200 Asana gets means nothing can be lost any more.
 */
@Injectable()
export class ReceiveDeliveryService {
  private readonly log = new Logger(ReceiveDeliveryService.name);
  private readonly contacts = new ContactThrottle(CONTACT_WRITE_INTERVAL_MS);

  constructor(
    private readonly subscriptions: SubscriptionsRepository,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
    @Inject(APP_CONFIG) private readonly config: IngestConfig,
  ) {}

  async receive(
    subscriptionId: string,
    rawBody: Buffer,
    headers: Record<string, string | undefined>,
  ): Promise<DeliveryReceipt> {
    const subscription = await this.subscriptions.findReceiving(subscriptionId);
    if (!subscription?.secret) {
      throw new IngestError('UNKNOWN_SUBSCRIPTION', 'no subscription with a completed handshake has this id');
    }
    if (!isValidAsanaSignature(subscription.secret, rawBody, headers[ASANA_HOOK_SIGNATURE_HEADER])) {
      throw new IngestError('BAD_SIGNATURE', 'X-Hook-Signature does not match the body');
    }
    const delivery = this.parse(rawBody);
    const receivedAt = new Date().toISOString();
    const deliveryId = createHash('sha256').update(rawBody).digest('hex').slice(0, 32);
    const envelopes = delivery.events.map((event): AsanaEventEnvelope => ({
      eventId: asanaEventId(event),
      source: 'webhook',
      subscriptionId,
      deliveryId,
      receivedAt,
      event,
    }));
    const raw: RawDeliveryRecord = {
      subscriptionId,
      deliveryId,
      receivedAt,
      bodyBase64: rawBody.toString('base64'),
      headers: Object.fromEntries(KEPT_HEADERS.flatMap((name) => (headers[name] ? [[name, headers[name]]] : []))),
      eventCount: envelopes.length,
    };
    await this.publish([
      { topic: this.names.physical(TOPICS.deliveries.name), messages: [jsonMessage(subscriptionId, raw)] },
      ...(envelopes.length > 0
        ? [
            {
              topic: this.names.physical(TOPICS.events.name),
              messages: envelopes.map((e) => jsonMessage(e.event.resource.gid, e)),
            },
          ]
        : []),
    ]);
    const heartbeat = envelopes.length === 0;
    if (this.contacts.shouldRecord(subscriptionId, heartbeat, Date.now())) {
      await this.subscriptions.recordContact(subscriptionId, heartbeat).catch((error: unknown) => {
        // The delivery is already durable; a missed contact time must not make Asana retry it.
        this.log.warn({ msg: 'could not record contact time', subscriptionId, error: String(error) });
      });
    }
    return { deliveryId, eventCount: envelopes.length };
  }

  /** Parses with a prototype-safe parser: a `__proto__` key in a delivery is rejected. */
  private parse(rawBody: Buffer): AsanaDelivery {
    let body: unknown;
    try {
      body = secureJson.parse(rawBody, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      // Not the parser's message: it quotes the body, and this one is logged.
      throw new IngestError('MALFORMED_DELIVERY', 'the body is not acceptable JSON', { cause: error });
    }
    const problems = deliveryProblems(body);
    if (problems.length > 0) {
      throw new IngestError('MALFORMED_DELIVERY', `not an Asana delivery: ${problems.slice(0, 5).join('; ')}`);
    }
    return body as AsanaDelivery;
  }

  /** Answers 503 (so Asana retries) when Kafka has not acknowledged within the request budget. */
  private async publish(topicMessages: Parameters<KafkaPublisher['publish']>[0]): Promise<void> {
    const budget = this.config.ingest.INGEST_REQUEST_TIMEOUT_MS - 500;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Kafka did not acknowledge within ${budget} ms`)), budget);
    });
    try {
      await Promise.race([this.publisher.publish(topicMessages), timeout]);
    } catch (cause) {
      throw new IngestError('KAFKA_UNAVAILABLE', 'the delivery could not be stored; retry later', { cause });
    } finally {
      clearTimeout(timer);
    }
  }
}
