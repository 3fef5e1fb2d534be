import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { safeText, type AsanaStreamError } from '@asana-stream/errors';
import type { KafkaPublisher } from './kafka-publisher';

/** Headers a dead-lettered message carries besides its own: why, from where, when. */
export const DEAD_LETTER_HEADERS = {
  code: 'x-dlq-code',
  message: 'x-dlq-message',
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  attempts: 'x-dlq-attempts',
  firstFailureAt: 'x-dlq-first-failure-at',
  lastFailureAt: 'x-dlq-last-failure-at',
} as const;

/** The prefix of every header the dead-letter path adds (re-drive strips them). */
export const DEAD_LETTER_HEADER_PREFIX = 'x-dlq-';

/** Set on a message re-driven from a dead-letter topic: `<dlq topic>/<partition>/<offset>`. */
export const REDRIVEN_FROM_HEADER = 'x-redriven-from';

/** What happened to a message before it was given up on. */
export interface FailureRecord {
  /** Attempts made in this process (a message that does not decode has one). */
  attempts: number;
  firstFailureAt: Date;
  lastFailureAt: Date;
}

/** Where a message was read from, physical topic name included. */
export interface MessageSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/**
 * The dead-letter record of `source`: the same key and value bytes, its own headers (the
 * `traceparent` among them) minus any of an earlier dead-lettering, and the `x-dlq-*` headers.
 * `x-dlq-message` is our error's message, which never holds a body or a secret, cut to 200
 * characters.
 */
export function deadLetterRecord(source: MessageSource, error: AsanaStreamError, failure: FailureRecord): Message {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(source.message.headers ?? {})) {
    if (value !== undefined && !name.startsWith(DEAD_LETTER_HEADER_PREFIX)) headers[name] = value;
  }
  headers[DEAD_LETTER_HEADERS.code] = error.code;
  headers[DEAD_LETTER_HEADERS.message] = safeText(error.message);
  headers[DEAD_LETTER_HEADERS.sourceTopic] = source.topic;
  headers[DEAD_LETTER_HEADERS.sourcePartition] = String(source.partition);
  headers[DEAD_LETTER_HEADERS.sourceOffset] = source.message.offset;
  headers[DEAD_LETTER_HEADERS.attempts] = String(failure.attempts);
  headers[DEAD_LETTER_HEADERS.firstFailureAt] = failure.firstFailureAt.toISOString();
  headers[DEAD_LETTER_HEADERS.lastFailureAt] = failure.lastFailureAt.toISOString();
  return { key: source.message.key, value: source.message.value, headers };
}

/**
 * Writes dead-letter records through the app's `KafkaPublisher` (idempotent, acks=all): a
 * message's offset is resolved only once its record is acknowledged, so a failure that parks
 * a message never loses it.
 */
export class DeadLetterPublisher {
  constructor(private readonly publisher: Pick<KafkaPublisher, 'publish'>) {}

  publish(
    deadLetterTopic: string,
    source: MessageSource,
    error: AsanaStreamError,
    failure: FailureRecord,
  ): Promise<void> {
    return this.publisher.publish([{ topic: deadLetterTopic, messages: [deadLetterRecord(source, error, failure)] }]);
  }
}
