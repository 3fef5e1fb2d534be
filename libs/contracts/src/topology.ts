/**
 * The one place that names asana-stream's Kafka topics, their partition counts and configs.
 * Everything about one Asana resource is keyed by its gid, so it stays on one partition
 * (and in order) through every topic.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** Resource types that get their own change topic; every other type goes to `asana.changes.other`. */
export const CHANGE_TOPIC_TYPES = ['task', 'project', 'section', 'story', 'tag', 'user'] as const;
export type ChangeTopicType = (typeof CHANGE_TOPIC_TYPES)[number] | 'other';

export interface TopicSpec {
  /** Logical name, also the handler pattern consumers subscribe with. */
  readonly name: string;
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string>>;
}

/** Partitions bound the replicas of each consumer app; 6 leaves room to scale a small install. */
export const DEFAULT_PARTITIONS = 6;

/**
 * Replication of every topic on a production cluster (the Strimzi `KafkaTopic`s generated from this
 * module, k8s/kafka/topics): three copies, and a write acknowledged (acks=all) only once two hold
 * it, so one broker can be down or restarting without losing an acknowledged message or refusing
 * writes. Not part of `configs`: `asana-stream setup` also creates topics on a one-broker local
 * cluster, where both are left to the broker's defaults.
 */
export const PRODUCTION_REPLICATION = { replicas: 3, minInsyncReplicas: 2 } as const;

export const TOPICS = {
  /** One Asana event + envelope, keyed by resource gid. */
  events: {
    name: 'asana.events',
    partitions: DEFAULT_PARTITIONS,
    configs: { 'retention.ms': String(7 * DAY_MS), 'cleanup.policy': 'delete' },
  },
  /** Raw signed delivery bodies and headers, keyed by subscription id: audit and replay. */
  deliveries: {
    name: 'asana.deliveries',
    partitions: DEFAULT_PARTITIONS,
    configs: { 'retention.ms': String(30 * DAY_MS), 'cleanup.policy': 'delete' },
  },
  /** Current state or tombstone per gid, versioned; compacted into a bootstrap table. */
  state: {
    name: 'asana.state',
    partitions: DEFAULT_PARTITIONS,
    configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(DAY_MS) },
  },
} as const satisfies Record<string, TopicSpec>;

/** Topics whose consumers dead-letter what they cannot process: each has a `<name>.dlq`. */
export const DEAD_LETTERED_TOPICS = [TOPICS.events.name, TOPICS.state.name] as const;

/**
 * Where a consumer parks a message it cannot process (same key, the failure in its headers),
 * so its partition moves on; kept long, for an operator to inspect, re-drive or discard.
 */
export function deadLetterTopic(logical: string): TopicSpec {
  return {
    name: `${logical}.dlq`,
    partitions: DEFAULT_PARTITIONS,
    configs: { 'retention.ms': String(30 * DAY_MS), 'cleanup.policy': 'delete' },
  };
}

/**
 * Signed deliveries ingest refused as malformed (too deep, not UTF-8, not a delivery), kept byte
 * for byte for inspection, keyed by subscription id.
 */
export const QUARANTINE_TOPIC: TopicSpec = {
  name: 'asana.deliveries.quarantine',
  partitions: 1,
  configs: { 'retention.ms': String(30 * DAY_MS), 'cleanup.policy': 'delete' },
};

/** The change topic downstream teams subscribe to for one resource type. */
export function changeTopic(resourceType: string): TopicSpec {
  const type: ChangeTopicType = (CHANGE_TOPIC_TYPES as readonly string[]).includes(resourceType)
    ? (resourceType as ChangeTopicType)
    : 'other';
  return {
    name: `asana.changes.${type}`,
    partitions: DEFAULT_PARTITIONS,
    configs: { 'retention.ms': String(7 * DAY_MS), 'cleanup.policy': 'delete' },
  };
}

/** Every topic the project creates. */
export function allTopics(): TopicSpec[] {
  return [
    ...Object.values(TOPICS),
    ...[...CHANGE_TOPIC_TYPES, 'other'].map((type) => changeTopic(type)),
    ...DEAD_LETTERED_TOPICS.map((name) => deadLetterTopic(name)),
    QUARANTINE_TOPIC,
  ];
}

/**
 * Maps logical topic names to the physical ones of one installation: a prefix lets several
 * installations, or test runs, share a cluster.
 */
export class TopicNames {
  constructor(readonly prefix: string) {}

  physical(logical: string): string {
    return `${this.prefix}${logical}`;
  }

  logical(physical: string): string {
    if (!physical.startsWith(this.prefix)) throw new Error(`topic ${physical} lacks the prefix "${this.prefix}"`);
    return physical.slice(this.prefix.length);
  }
}
