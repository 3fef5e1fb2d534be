import type { Admin, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { DEAD_LETTERED_TOPICS, deadLetterTopic, TOPICS, type TopicNames } from '@asana-stream/contracts';
import { consumerGroupId, DEAD_LETTER_HEADERS, dlqOperatorGroup, REDRIVEN_FROM_HEADER } from '@asana-stream/kafka';
import { scanForKey, type KeyScan, type KeyScanLimits } from './key-scan';

/** What a lookup runs its SQL through: a TypeORM `DataSource` or `EntityManager` fits. */
export interface LookupDatabase {
  query<T = unknown>(sql: string, parameters?: unknown[]): Promise<T>;
}

/** What a lookup reads: Postgres, and Kafka through a connected admin client and the client itself. */
export interface LookupSources {
  db: LookupDatabase;
  kafka: Kafka;
  admin: Admin;
  names: TopicNames;
}

/** How much a lookup reads; the defaults keep one under a few seconds on a busy installation. */
export interface LookupLimits extends KeyScanLimits {
  /** Most recent outbox rows listed. */
  outboxRows: number;
}

/** 20 outbox rows; the last 5,000 messages of each partition read, for 10 s at most. */
export const DEFAULT_LOOKUP_LIMITS: LookupLimits = { outboxRows: 20, maxMessages: 5000, timeoutMs: 10_000 };

/** A projection row: the resource as Postgres holds it now. */
export interface ProjectionRow {
  table: 'tasks' | 'projects' | 'resources';
  type: string;
  version: number;
  deletedAt: string | null;
  updatedAt: string;
  state: unknown;
}

/** What happened to an outbox row: `discarded` is an operator's `outbox discard` of a parked row. */
export type OutboxRowState = 'published' | 'pending' | 'parked' | 'discarded';

/** One change the projector wrote to the outbox, and what the fanout relay did with it. */
export interface OutboxChange {
  id: string;
  type: string;
  action: string | null;
  version: number | null;
  /** Names of the fields the change reports, never their values. */
  fields: string[];
  state: OutboxRowState;
  createdAt: string;
  publishedAt: string | null;
  parkedAt: string | null;
  attempts: number;
  lastError: string | null;
  traceId: string | null;
}

/** Where a topic was read and how much of it: a lookup of Kafka is a bounded scan of one partition. */
export interface ScanRange {
  /** Logical topic name (`asana.events`). */
  topic: string;
  partition: number;
  from: number;
  to: number;
  /** Every message of the partition kept by Kafka was read (nothing older left unread). */
  fromEarliest: boolean;
  /** The whole range was read within the time limit. */
  complete: boolean;
}

/** One dead-lettered message of the resource. */
export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  /** Still to handle: at or past the operator group's position (see `asana-stream dlq`). */
  pending: boolean;
  code: string | null;
  reason: string | null;
  attempts: number | null;
  /** `<topic>/<partition>/<offset>` it was read from. */
  source: string | null;
  deadLetteredAt: string;
  traceId: string | null;
}

/** One event of the resource on `asana.events`, with the delivery it came in and its trace. */
export interface ResourceEvent {
  partition: number;
  offset: string;
  eventId: string | null;
  source: string | null;
  action: string | null;
  resourceType: string | null;
  /** The field a `changed` event names (Asana's events carry no values we keep here). */
  field: string | null;
  createdAt: string | null;
  receivedAt: string | null;
  /** The subscription (key of `asana.deliveries`) and delivery the event arrived in, for webhooks. */
  subscriptionId: string | null;
  deliveryId: string | null;
  /** The trace that follows the event through every stage (its `traceparent`). */
  traceId: string | null;
  /** `<dlq topic>/<partition>/<offset>` when an operator re-drove it. */
  redrivenFrom: string | null;
}

/** Everything asana-stream knows about one gid: what `asana-stream lookup` and fanout's `GET /lookup/:gid` show. */
export interface ResourceLookup {
  gid: string;
  /** Whether anything at all was found. */
  found: boolean;
  projections: ProjectionRow[];
  outbox: { total: number; rows: OutboxChange[] };
  deadLetters: { entries: DeadLetter[]; scanned: ScanRange[] };
  events: { entries: ResourceEvent[]; scanned: ScanRange };
}

const GID = /^\d{1,40}$/;

/** Why `gid` is not one Asana could have made (a numeric string), or undefined when it could be. */
export function gidProblem(gid: string): string | undefined {
  if (GID.test(gid)) return undefined;
  const shown = JSON.stringify(gid.length > 60 ? `${gid.slice(0, 60)}…` : gid);
  return `${shown} is not an Asana gid: a gid is a string of digits, e.g. 1208000000000001`;
}

/** The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), or null. */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  const match = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent?.trim() ?? '');
  return match && !/^0+$/.test(match[1]) ? match[1] : null;
}

/**
 * Looks one resource up by its gid everywhere asana-stream keeps it: its projection rows, its
 * most recent outbox changes and their publication, its dead letters on both dead-letter topics,
 * and its events on `asana.events` with the delivery and trace each came with. Kafka is read as
 * `scanForKey` does: the gid's partition only, bounded in messages and time; `scanned` says what
 * was read, so an answer never claims more than it saw.
 */
export async function lookupResource(
  sources: LookupSources,
  gid: string,
  limits: LookupLimits = DEFAULT_LOOKUP_LIMITS,
): Promise<ResourceLookup> {
  const problem = gidProblem(gid);
  if (problem) throw new RangeError(problem);
  const { names } = sources;
  const eventsTopic = names.physical(TOPICS.events.name);
  const deadLetterTopics = DEAD_LETTERED_TOPICS.map((topic) => names.physical(deadLetterTopic(topic).name));
  const [projections, outbox, scans] = await Promise.all([
    projectionRows(sources.db, gid),
    outboxChanges(sources.db, gid, limits.outboxRows),
    scanForKey(
      sources.kafka,
      sources.admin,
      { topics: [eventsTopic, ...deadLetterTopics], key: gid, groupPrefix: consumerGroupId(names.prefix, 'lookup') },
      limits,
    ),
  ]);
  const [eventScan, ...deadLetterScans] = scans;
  const handledBefore = await operatorPositions(sources.admin, names, deadLetterScans);
  const deadLetters = deadLetterScans.flatMap((scan) =>
    scan.messages.map((message) => deadLetterOf(names, scan, message, handledBefore.get(scan.topic) ?? 0)),
  );
  const events = eventScan.messages.map(eventOf);
  return {
    gid,
    found: projections.length > 0 || outbox.total > 0 || deadLetters.length > 0 || events.length > 0,
    projections,
    outbox,
    deadLetters: { entries: deadLetters, scanned: deadLetterScans.map((scan) => rangeOf(names, scan)) },
    events: { entries: events, scanned: rangeOf(names, eventScan) },
  };
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());

async function projectionRows(db: LookupDatabase, gid: string): Promise<ProjectionRow[]> {
  const rows = await db.query<
    {
      table: ProjectionRow['table'];
      type: string;
      version: string;
      deleted_at: Date | null;
      updated_at: Date;
      state: unknown;
    }[]
  >(
    /* sql */ `SELECT 'tasks' AS "table", 'task' AS type, version, deleted_at, updated_at, state FROM tasks WHERE gid = $1
               UNION ALL
               SELECT 'projects', 'project', version, deleted_at, updated_at, state FROM projects WHERE gid = $1
               UNION ALL
               SELECT 'resources', type, version, deleted_at, updated_at, state FROM resources WHERE gid = $1`,
    [gid],
  );
  return rows.map((row) => ({
    table: row.table,
    type: row.type,
    version: Number(row.version),
    deletedAt: iso(row.deleted_at),
    updatedAt: iso(row.updated_at)!,
    state: row.state,
  }));
}

async function outboxChanges(db: LookupDatabase, gid: string, limit: number): Promise<ResourceLookup['outbox']> {
  const [{ total }] = await db.query<{ total: number }[]>(
    /* sql */ `SELECT count(*)::int AS total FROM outbox WHERE gid = $1`,
    [gid],
  );
  const rows = await db.query<
    {
      id: string;
      type: string;
      action: string | null;
      version: string | null;
      fields: string[];
      created_at: Date;
      published_at: Date | null;
      parked_at: Date | null;
      attempts: number;
      last_error: string | null;
      traceparent: string | null;
    }[]
  >(
    /* sql */ `SELECT id, type, change->>'action' AS action, change->>'version' AS version,
                      ARRAY(SELECT DISTINCT json_object_keys(CASE WHEN json_typeof(change->'changes') = 'object'
                                                                 THEN change->'changes' ELSE '{}'::json END) ORDER BY 1) AS fields,
                      created_at, published_at, parked_at, attempts, last_error, traceparent
               FROM outbox WHERE gid = $1 ORDER BY id DESC LIMIT $2`,
    [gid, limit],
  );
  return {
    total,
    rows: rows.reverse().map((row) => ({
      id: row.id,
      type: row.type,
      action: row.action,
      version: row.version === null ? null : Number(row.version),
      fields: row.fields,
      state:
        row.published_at === null
          ? row.parked_at === null
            ? 'pending'
            : 'parked'
          : row.parked_at === null
            ? 'published'
            : 'discarded',
      createdAt: iso(row.created_at)!,
      publishedAt: iso(row.published_at),
      parkedAt: iso(row.parked_at),
      attempts: row.attempts,
      lastError: row.last_error,
      traceId: traceIdOf(row.traceparent),
    })),
  };
}

/** Per dead-letter topic, the operator group's committed offset on the gid's partition. */
async function operatorPositions(admin: Admin, names: TopicNames, scans: KeyScan[]): Promise<Map<string, number>> {
  const positions = new Map<string, number>();
  const wanted = scans.filter((scan) => scan.messages.length > 0);
  if (wanted.length === 0) return positions;
  const committed = await admin.fetchOffsets({
    groupId: dlqOperatorGroup(names),
    topics: wanted.map((scan) => scan.topic),
  });
  for (const scan of wanted) {
    const offset = committed
      .find((c) => c.topic === scan.topic)
      ?.partitions.find((p) => p.partition === scan.partition)?.offset;
    positions.set(scan.topic, Math.max(0, Number(offset ?? -1)));
  }
  return positions;
}

function header(headers: IHeaders | undefined, name: string): string | null {
  const value = headers?.[name];
  if (value === undefined) return null;
  return String(Array.isArray(value) ? value[value.length - 1] : value);
}

function rangeOf(names: TopicNames, scan: KeyScan): ScanRange {
  return {
    topic: names.logical(scan.topic),
    partition: scan.partition,
    from: scan.from,
    to: scan.to,
    fromEarliest: scan.fromEarliest,
    complete: scan.complete,
  };
}

function deadLetterOf(
  names: TopicNames,
  scan: KeyScan,
  message: KafkaMessage & { partition: number },
  handledBefore: number,
): DeadLetter {
  const attempts = header(message.headers, DEAD_LETTER_HEADERS.attempts);
  const sourceTopic = header(message.headers, DEAD_LETTER_HEADERS.sourceTopic);
  return {
    topic: names.logical(scan.topic),
    partition: message.partition,
    offset: message.offset,
    pending: Number(message.offset) >= handledBefore,
    code: header(message.headers, DEAD_LETTER_HEADERS.code),
    reason: header(message.headers, DEAD_LETTER_HEADERS.message),
    attempts: attempts === null ? null : Number(attempts),
    source:
      sourceTopic === null
        ? null
        : `${sourceTopic}/${header(message.headers, DEAD_LETTER_HEADERS.sourcePartition)}/${header(message.headers, DEAD_LETTER_HEADERS.sourceOffset)}`,
    deadLetteredAt: new Date(Number(message.timestamp)).toISOString(),
    traceId: traceIdOf(header(message.headers, 'traceparent')),
  };
}

/** The parts of an `AsanaEventEnvelope` an operator follows; anything unreadable is null, never a failure. */
function eventOf(message: KafkaMessage & { partition: number }): ResourceEvent {
  let envelope: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(message.value?.toString('utf8') ?? 'null');
    if (parsed !== null && typeof parsed === 'object') envelope = parsed as Record<string, unknown>;
  } catch {
    // A message that is not JSON was dead-lettered by the enricher; it is listed with its trace only.
  }
  const event = (envelope.event ?? {}) as {
    action?: unknown;
    created_at?: unknown;
    resource?: unknown;
    change?: unknown;
  };
  const resource = (event.resource ?? {}) as { resource_type?: unknown };
  const change = (event.change ?? {}) as { field?: unknown };
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
  return {
    partition: message.partition,
    offset: message.offset,
    eventId: text(envelope.eventId),
    source: text(envelope.source),
    action: text(event.action),
    resourceType: text(resource.resource_type),
    field: text(change.field),
    createdAt: text(event.created_at),
    receivedAt: text(envelope.receivedAt),
    subscriptionId: text(envelope.subscriptionId),
    deliveryId: text(envelope.deliveryId),
    traceId: traceIdOf(header(message.headers, 'traceparent')),
    redrivenFrom: header(message.headers, REDRIVEN_FROM_HEADER),
  };
}
