import secureJson from 'secure-json-parse';
import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import type { AsanaEventEnvelope, ResourceStateMessage } from './messages';
import { TOPICS } from './topology';
import {
  asanaEventEnvelopeContract,
  resourceStateMessageContract,
  type ContractValidator,
} from './validation/contract-validators';

/** Turns a Kafka record's value into the message its handler is given; throws INVALID_MESSAGE. */
export type MessageDecoder<T = unknown> = (bytes: Uint8Array | null) => T;

/** The contract of each logical topic whose values are checked before their handler runs. */
const CONTRACTS: Readonly<Record<string, ContractValidator>> = {
  [TOPICS.events.name]: asanaEventEnvelopeContract,
  [TOPICS.state.name]: resourceStateMessageContract,
};

/** At most this many problems are named in an error; the rest are counted. */
const SHOWN_PROBLEMS = 5;

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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AsanaStreamError('INVALID_MESSAGE', `${topic}: the value must be a JSON object (a ${contract.name})`);
  }
  const problems = contract.problems(value);
  if (problems.length > 0) throw invalid(topic, contract.name, problems);
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

function invalid(topic: string, contract: string, problems: string[]): AsanaStreamError {
  const more = problems.length > SHOWN_PROBLEMS ? ` (and ${problems.length - SHOWN_PROBLEMS} more)` : '';
  const properties = [...new Set(problems.map((problem) => problem.slice(0, problem.indexOf(':'))))];
  return new AsanaStreamError(
    'INVALID_MESSAGE',
    `${topic}: not a valid ${contract}: ${problems.slice(0, SHOWN_PROBLEMS).join('; ')}${more}`,
    { details: { properties: properties.slice(0, 20) } },
  );
}
