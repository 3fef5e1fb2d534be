import { validateSync, type ValidationError } from 'class-validator';
import secureJson from 'secure-json-parse';
import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import type { AsanaEventEnvelope, ResourceStateMessage } from './messages';
import { TOPICS } from './topology';
import { asanaEventEnvelopeDto, isPlainObject } from './validation/asana-event-envelope.dto';
import { resourceStateMessageDto } from './validation/resource-state-message.dto';

/** Turns a Kafka record's value into the message its handler is given; throws INVALID_MESSAGE. */
export type MessageDecoder<T = unknown> = (bytes: Uint8Array | null) => T;

/** Builds the DTO instance class-validator checks; the handler gets the parsed object itself. */
type DtoOf = (value: object) => object;

const CONTRACTS: Readonly<Record<string, { name: string; dto: DtoOf }>> = {
  [TOPICS.events.name]: { name: 'AsanaEventEnvelope', dto: asanaEventEnvelopeDto },
  [TOPICS.state.name]: { name: 'ResourceStateMessage', dto: resourceStateMessageDto },
};

/**
 * Validation stops at the first failed constraint of each property (the DTOs list the type check
 * last, as class-validator runs a property's decorators bottom-up) and never whitelists: a field
 * Asana or a newer producer adds passes through untouched.
 */
const VALIDATION = { whitelist: false, forbidUnknownValues: false, stopAtFirstError: true } as const;

/**
 * Decodes one record's value of a logical topic: JSON parsed without letting a `__proto__` or
 * `constructor` key through (secure-json-parse), then checked against the topic's contract
 * (`AsanaEventEnvelope` on `asana.events`, `ResourceStateMessage` on `asana.state`; other topics
 * are only parsed). Throws an `AsanaStreamError` INVALID_MESSAGE (dead-letter) whose message says
 * what is wrong without quoting the value.
 */
export function decodeMessage(topic: string, bytes: Uint8Array | null): unknown {
  const value = parseMessage(topic, bytes);
  const contract = CONTRACTS[topic];
  if (!contract) return value;
  if (!isPlainObject(value)) {
    throw new AsanaStreamError('INVALID_MESSAGE', `${topic}: the value must be a JSON object (a ${contract.name})`);
  }
  const errors = validateSync(contract.dto(value), VALIDATION);
  if (errors.length > 0) throw invalid(topic, contract.name, errors);
  return value;
}

/**
 * Only the JSON step of `decodeMessage`, for topics read without their contract: a `__proto__`
 * or `constructor` key is refused, and the error never quotes the value.
 */
export function parseMessage(topic: string, bytes: Uint8Array | null): unknown {
  if (bytes === null) throw new AsanaStreamError('INVALID_MESSAGE', `the ${topic} record has no value`);
  const text = Buffer.isBuffer(bytes) ? bytes.toString('utf8') : Buffer.from(bytes).toString('utf8');
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    // classifyError keeps only the position or secure-json-parse's reason, never the text.
    throw new AsanaStreamError('INVALID_MESSAGE', `${topic}: ${classifyError(error).message}`, { cause: error });
  }
}

/** The decoder `KafkaConsumerServer` runs for a logical topic before its handler. */
export function messageDecoder(topic: typeof TOPICS.events.name): MessageDecoder<AsanaEventEnvelope>;
export function messageDecoder(topic: typeof TOPICS.state.name): MessageDecoder<ResourceStateMessage>;
export function messageDecoder(topic: string): MessageDecoder;
export function messageDecoder(topic: string): MessageDecoder {
  return (bytes) => decodeMessage(topic, bytes);
}

function invalid(topic: string, contract: string, errors: ValidationError[]): AsanaStreamError {
  // classifyError words class-validator's errors as `path: constraint` (at most five), never values.
  const { message, details } = classifyError(errors);
  return new AsanaStreamError(
    'INVALID_MESSAGE',
    `${topic}: not a valid ${contract}: ${message.replace(/^the message is invalid: /, '')}`,
    {
      details,
    },
  );
}
