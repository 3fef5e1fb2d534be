import { hash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Message, TopicMessages } from 'kafkajs';
import { ASANA_HOOK_SIGNATURE_HEADER, isValidAsanaSignature, type AsanaEvent } from '@asana-stream/asana';
import { APP_CONFIG, type IngestConfig } from '@asana-stream/config';
import {
  eventEnvelopeMessages,
  QUARANTINE_TOPIC,
  TOPICS,
  TopicNames,
  type RawDeliveryRecord,
} from '@asana-stream/contracts';
import { classifyError, type AsanaStreamError } from '@asana-stream/errors';
import { KafkaPublisher, type PublishOptions, type RecordBatchSize } from '@asana-stream/kafka';
import { ContactThrottle } from './contact-throttle';
import { parseDelivery } from './delivery-body';
import { IngestError } from './ingest.errors';

import { SubscriptionsRepository } from './subscriptions.repository';
import { within } from './within';

export interface DeliveryReceipt {
  deliveryId: string;
  eventCount: number;
}

/** How stale a subscription's `last_delivery_at` may get under steady traffic. */
const CONTACT_WRITE_INTERVAL_MS = 10_000;

/** Headers kept with the raw delivery for audit and replay (never the handshake secret). */
const KEPT_HEADERS = ['content-type', 'user-agent', ASANA_HOOK_SIGNATURE_HEADER] as const;
/** A kept header longer than this is dropped: the record's room for headers is bounded. */
const MAX_KEPT_HEADER_BYTES = 256;
/** The quarantine reason is our own message; bounded all the same. */
const MAX_REASON_CHARS = 1000;

/** What is known about a delivery before its body is parsed. */
interface Received {
  subscriptionId: string;
  deliveryId: string;
  receivedAt: string;
  asanaHeaders: Partial<Record<(typeof KEPT_HEADERS)[number], string>>;
}

/**
 * Verifies one webhook delivery and publishes it, in one publish call: the raw body to
 * `asana.deliveries` and every event to `asana.events` keyed by its resource gid. Resolves only
 * once Kafka has all of it, so the 200 Asana gets means nothing can be lost any more. A delivery
 * whose messages Kafka would refuse is refused (413) before anything is published; a signed body
 * that is not a delivery is refused (400) and its bytes kept in the quarantine topic.
 */
@Injectable()
export class ReceiveDeliveryService {
  private readonly log = new Logger(ReceiveDeliveryService.name);
  private readonly contacts = new ContactThrottle(CONTACT_WRITE_INTERVAL_MS);
  /** Every publish is refused whole (413) when a record batch of it would be over the broker's limit. */
  private readonly publishOptions: PublishOptions;

  constructor(
    private readonly subscriptions: SubscriptionsRepository,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
    @Inject(APP_CONFIG) private readonly config: IngestConfig,
  ) {
    const partitions = new Map(
      [TOPICS.events, TOPICS.deliveries, QUARANTINE_TOPIC].map((spec) => [names.physical(spec.name), spec.partitions]),
    );
    this.publishOptions = {
      wholeRecordBatches: {
        maxBytes: config.ingest.KAFKA_MAX_MESSAGE_BYTES,
        partitions: (topic) => partitions.get(topic) ?? 1,
      },
    };
  }

  /** `deadline` (epoch ms): when the answer is due; Kafka not acknowledging by then is a 503. */
  async receive(
    subscriptionId: string,
    rawBody: Buffer,
    headers: Record<string, string | undefined>,
    deadline: number,
  ): Promise<DeliveryReceipt> {
    const subscription = await this.subscriptions.findReceiving(subscriptionId);
    if (!subscription) {
      throw new IngestError('UNKNOWN_SUBSCRIPTION', 'no subscription with a completed handshake has this id');
    }
    if (!isValidAsanaSignature(subscription.secret, rawBody, headers[ASANA_HOOK_SIGNATURE_HEADER])) {
      throw new IngestError('BAD_SIGNATURE', 'X-Hook-Signature does not match the body');
    }
    const received: Received = {
      subscriptionId,
      deliveryId: hash('sha256', rawBody, 'hex').slice(0, 32),
      receivedAt: new Date().toISOString(),
      asanaHeaders: keptHeaders(headers),
    };
    let events: AsanaEvent[];
    try {
      events = parseDelivery(rawBody).events;
    } catch (error) {
      if (!(error instanceof IngestError)) throw error;
      // Signed, so Asana's (or someone holding the secret): keep the bytes for someone to look at.
      const quarantined = await this.quarantine(received, rawBody, error.message, deadline);
      throw new IngestError(error.code, error.message, {
        cause: error.cause,
        details: { deliveryId: received.deliveryId, quarantined },
      });
    }
    const eventMessages = eventEnvelopeMessages(
      { source: 'webhook', subscriptionId, deliveryId: received.deliveryId, receivedAt: received.receivedAt },
      events,
    );
    const topicMessages: TopicMessages[] = [
      {
        topic: this.names.physical(TOPICS.deliveries.name),
        messages: [rawDeliveryMessage(received, rawBody, eventMessages.length)],
      },
    ];
    if (eventMessages.length > 0) {
      topicMessages.push({ topic: this.names.physical(TOPICS.events.name), messages: eventMessages });
    }
    await this.publish(topicMessages, deadline);
    this.recordContact(subscriptionId, eventMessages.length === 0);
    return { deliveryId: received.deliveryId, eventCount: eventMessages.length };
  }

  /**
   * Answers 503 (so Asana retries) when Kafka has not acknowledged by the deadline or the publish
   * failed, and 413 when the delivery is too large for Kafka. The publisher refuses, before
   * sending anything, a delivery whose messages for one partition would make a record batch over
   * `KAFKA_MAX_MESSAGE_BYTES`: the broker takes a send's record batches one by one, so such a
   * batch would fail alone after the others were written. When the broker still refuses one
   * (its limit is below the setting), sending it again cannot help either: 413 too.
   */
  private async publish(topicMessages: TopicMessages[], deadline: number): Promise<void> {
    try {
      await within(
        this.publisher.publish(topicMessages, this.publishOptions),
        deadline - Date.now(),
        () => new IngestError('KAFKA_UNAVAILABLE', 'Kafka did not acknowledge within the request timeout'),
      );
    } catch (cause) {
      const failure = classifyError(cause);
      if (failure.code === 'MESSAGE_TOO_LARGE' && failure.disposition === 'dead-letter') {
        throw this.tooLarge(failure, cause);
      }
      throw new IngestError('KAFKA_UNAVAILABLE', 'the delivery could not be stored; retry later', { cause });
    }
  }

  /** The 413 of a delivery the publisher (it says which batch) or the broker refused as too large. */
  private tooLarge(failure: AsanaStreamError, cause: unknown): IngestError {
    const batch = failure.details as Partial<RecordBatchSize> | undefined;
    if (batch?.topic === undefined || batch.records === undefined || batch.bytes === undefined) {
      return new IngestError('MESSAGE_TOO_LARGE', 'Kafka refused the delivery as too large', {
        cause,
        details: failure.details,
      });
    }
    const max = this.config.ingest.KAFKA_MAX_MESSAGE_BYTES;
    const topic = this.names.logical(batch.topic);
    const what =
      topic === TOPICS.events.name ? `its ${batch.records} events for one partition take` : 'its raw record takes';
    return new IngestError(
      'MESSAGE_TOO_LARGE',
      `the delivery is too large for Kafka: ${what} ${batch.bytes} bytes, more than the ${max} one write accepts`,
      { cause, details: { topic, bytes: batch.bytes, limit: max } },
    );
  }

  /**
   * Keeps a signed body that is not an acceptable delivery, byte for byte, with the reason; false
   * when it could not. The answer is 400 either way: a body that cannot be kept is still not a delivery.
   */
  private async quarantine(received: Received, rawBody: Buffer, reason: string, deadline: number): Promise<boolean> {
    const topic = this.names.physical(QUARANTINE_TOPIC.name);
    const message: Message = {
      key: received.subscriptionId,
      value: rawBody,
      headers: { ...metadataHeaders(received), reason: reason.slice(0, MAX_REASON_CHARS), ...received.asanaHeaders },
    };
    try {
      await this.publish([{ topic, messages: [message] }], deadline);
      return true;
    } catch (error) {
      const cause = error instanceof IngestError && error.cause !== undefined ? error.cause : error;
      this.log.warn({
        msg: 'could not quarantine a malformed delivery',
        subscriptionId: received.subscriptionId,
        deliveryId: received.deliveryId,
        error: classifyError(cause).toJSON(),
      });
      return false;
    }
  }

  /** Records the subscription's last contact without holding the answer: the delivery is already durable. */
  private recordContact(subscriptionId: string, heartbeat: boolean): void {
    if (!this.contacts.shouldRecord(subscriptionId, heartbeat, Date.now())) return;
    this.subscriptions.recordContact(subscriptionId, heartbeat).catch((error: unknown) => {
      this.log.warn({ msg: 'could not record contact time', subscriptionId, error: classifyError(error).toJSON() });
    });
  }
}

/** The `asana.deliveries` record: the raw body as the value, what we know as headers. */
function rawDeliveryMessage(received: Received, rawBody: Buffer, eventCount: number): Message {
  const record: RawDeliveryRecord = {
    key: received.subscriptionId,
    value: rawBody,
    headers: { ...metadataHeaders(received), eventCount: String(eventCount), ...received.asanaHeaders },
  };
  return record;
}

function metadataHeaders({ subscriptionId, deliveryId, receivedAt }: Received) {
  return { subscriptionId, deliveryId, receivedAt };
}

function keptHeaders(headers: Record<string, string | undefined>): Received['asanaHeaders'] {
  const kept: Received['asanaHeaders'] = {};
  for (const name of KEPT_HEADERS) {
    const value = headers[name];
    if (value && Buffer.byteLength(value) <= MAX_KEPT_HEADER_BYTES) kept[name] = value;
  }
  return kept;
}
