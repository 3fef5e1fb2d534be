import { CHANGE_TOPIC_TYPES, changeTopic, TOPICS, type TopicSpec } from '../topology';
import {
  ASANA_EVENT_ENVELOPE_SCHEMA,
  RESOURCE_CHANGE_MESSAGE_SCHEMA,
  RESOURCE_STATE_MESSAGE_SCHEMA,
} from '../validation/schemas';
import { breakingChanges } from './schema-compatibility';

/** A Kafka header a published message may carry (UTF-8 string value). */
export interface PublishedHeader {
  name: string;
  /** Whether every message carries it. */
  always: boolean;
  /** What a valid value looks like, when the header has a fixed format. */
  pattern?: string;
  description: string;
}

/** A message downstream teams may read, with its versioned schema and how Kafka carries it. */
export interface PublishedContract {
  /** The schema file's stem: `libs/contracts/schemas/<name>.v<version>.json`. */
  name: string;
  /** The major version: bumped (a new file, the old one kept) by any breaking change. */
  version: number;
  /** The topic (or topic pattern) it is the value of, as Markdown. */
  topic: string;
  /** More about the topic, for the docs. */
  topicNote: string;
  /** What the Kafka message key is. */
  key: string;
  headers: readonly PublishedHeader[];
  /** The schema, the one source of truth for the message's TypeScript type too. */
  schema: { readonly $id: string; readonly title: string; readonly description: string };
}

/**
 * The trace context every asana-stream producer writes: `KafkaPublisher` injects it with
 * OpenTelemetry's W3C propagators (the Node SDK's default, `tracecontext,baggage`) and nothing else.
 */
function traceHeaders(whose: string): readonly PublishedHeader[] {
  return [
    {
      name: 'traceparent',
      always: false,
      pattern: '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
      description: `W3C Trace Context of the producer’s \`send <topic>\` span, so a reader’s span can join the trace that began with Asana’s webhook POST. Written whenever the producer runs with OpenTelemetry, as every deployed app does. ${whose}`,
    },
    { name: 'tracestate', always: false, description: 'W3C Trace Context vendor state, when the trace carries any.' },
    {
      name: 'baggage',
      always: false,
      description: 'W3C Baggage, when the trace context carries any (asana-stream sets none itself).',
    },
  ];
}

/** A topic's retention in days, from its configs, for the docs. */
function retention(topic: TopicSpec): string {
  const ms = Number(topic.configs['retention.ms']);
  return Number.isFinite(ms) ? `${ms / 86_400_000} days of retention` : 'the broker’s default retention';
}

/** Every message published to downstream teams, by schema name. */
export const PUBLISHED_CONTRACTS: readonly PublishedContract[] = [
  {
    name: 'resource-change',
    version: 1,
    topic: '`asana.changes.<type>`',
    topicNote: `\`<type>\` is ${CHANGE_TOPIC_TYPES.map((t) => `\`${t}\``).join(', ')}, or \`other\` for any other resource type; ${retention(changeTopic('other'))}`,
    key: 'the resource gid (`gid`): one resource’s changes are on one partition, in the order they were applied',
    headers: traceHeaders(
      'The fanout relay publishes a batch of outbox rows in the trace of its first row (the projector’s `apply asana.state` span that wrote that change) and links the other rows’ traces from it.',
    ),
    schema: RESOURCE_CHANGE_MESSAGE_SCHEMA,
  },
  {
    name: 'resource-state',
    version: 1,
    topic: `\`${TOPICS.state.name}\``,
    topicNote: 'compacted: the latest message of a gid is the resource as last known, a table to bootstrap from',
    key: 'the resource gid (`gid`)',
    headers: traceHeaders('The enricher publishes each state in the trace of the event that asked for it.'),
    schema: RESOURCE_STATE_MESSAGE_SCHEMA,
  },
  {
    name: 'asana-event-envelope',
    version: 1,
    topic: `\`${TOPICS.events.name}\``,
    topicNote: retention(TOPICS.events),
    key: 'the gid of the event’s resource (`event.resource.gid`)',
    headers: traceHeaders(
      'ingest publishes a webhook’s events in the trace of Asana’s POST; the events follower and resyncs in a trace of their own.',
    ),
    schema: ASANA_EVENT_ENVELOPE_SCHEMA,
  },
];

/**
 * What is wrong with a published message's Kafka headers (UTF-8 strings by name): a header the
 * contract does not list, one it says is always there but is missing, or a value out of format.
 */
export function headerProblems(contract: PublishedContract, headers: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const header = contract.headers.find((h) => h.name === name);
    if (!header) problems.push(`header ${name}: not part of the ${contract.name} contract`);
    else if (header.pattern && !new RegExp(header.pattern).test(value)) {
      problems.push(`header ${name}: must match ${header.pattern}`);
    }
  }
  for (const header of contract.headers) {
    if (header.always && !(header.name in headers)) problems.push(`header ${header.name}: is required`);
  }
  return problems;
}

/** The published contract of that name (throws for an unknown one: a programming error). */
export function publishedContract(name: string): PublishedContract {
  const contract = PUBLISHED_CONTRACTS.find((c) => c.name === name);
  if (!contract) throw new Error(`no published contract ${name}`);
  return contract;
}

/** The published file of a contract's version: `<name>.v<version>.json`. */
export const schemaFileName = (name: string, version: number): string => `${name}.v${version}.json`;

/** The `$id` a contract's version must have. */
export const schemaId = (name: string, version: number): string => `urn:asana-stream:contract:${name}:v${version}`;

/**
 * What is wrong with the published schema files (`files`: file name → parsed JSON) given the
 * current contracts; empty when they may be committed as they are. Per contract:
 * - its `$id` names its version, and a change message's `schema` const is that version;
 * - every version up to the current one is published: an old version stays, since its messages
 *   stay on the topics for their retention and readers migrate on their own schedule;
 * - the current version's file does not differ from the current schema in a way that breaks its
 *   readers (`breakingChanges`): such a change needs the version bumped instead;
 * - and it is the current schema exactly (a compatible change is written to it, so the file says
 *   what producers now write).
 */
export function publicationProblems(
  contracts: readonly PublishedContract[],
  files: ReadonlyMap<string, unknown>,
): string[] {
  const problems: string[] = [];
  const known = new Set<string>();
  for (const contract of contracts) {
    const { name, version, schema } = contract;
    const file = schemaFileName(name, version);
    if (schema.$id !== schemaId(name, version)) {
      problems.push(`${name}: its $id must be ${schemaId(name, version)} (version ${version}), not ${schema.$id}`);
    }
    const schemaConst = (schema as { properties?: { schema?: { const?: unknown } } }).properties?.schema?.const;
    if (schemaConst !== undefined && schemaConst !== version) {
      problems.push(`${name}: its \`schema\` field must be the const ${version}, not ${JSON.stringify(schemaConst)}`);
    }
    for (let v = 1; v <= version; v++) {
      known.add(schemaFileName(name, v));
      if (!files.has(schemaFileName(name, v))) {
        problems.push(
          v === version
            ? `${file} is missing: run \`npm run contracts:write\``
            : `${schemaFileName(name, v)} is missing: an old version stays published`,
        );
      }
    }
    const published = files.get(file);
    if (published === undefined) continue;
    const breaking = breakingChanges(published, schema);
    if (breaking.length > 0) {
      problems.push(
        `${file}: the current ${name} schema breaks its readers (${breaking
          .map((b) => `${b.path}: ${b.problem}`)
          .join(
            '; ',
          )}): publish it as version ${version + 1} (a new ${schemaFileName(name, version + 1)}, ${file} kept) instead`,
      );
    } else if (JSON.stringify(canonical(published)) !== JSON.stringify(canonical(schema))) {
      problems.push(`${file} is not the current ${name} schema (a compatible change): run \`npm run contracts:write\``);
    }
  }
  for (const file of files.keys()) {
    if (!known.has(file)) problems.push(`${file} belongs to no published contract version`);
  }
  return problems;
}

/** The JSON with object keys sorted, so files compare by content, not layout. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
}
