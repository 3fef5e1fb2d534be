import { setTimeout as sleep } from 'node:timers/promises';
import type { TopicNames, TopicSpec } from '@asana-stream/contracts';
import type { Admin, Kafka } from 'kafkajs';

const TOPIC_READY_TIMEOUT_MS = 30_000;

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
}

/** Whole attempts of `ensureTopics` on a retriable error, and the pause before the next. */
const ENSURE_ATTEMPTS = 3;
const ENSURE_RETRY_MS = 1000;

/**
 * Creates the topics that are missing, with their partitions and configs, and checks the ones
 * that exist have the partitions the topology asks for (fewer would break per-gid scaling).
 * Tried up to three times on a retriable error: a busy broker can answer a topic it has just
 * created with UNKNOWN_TOPIC_OR_PARTITION, which kafkajs' createTopics does not retry, and every
 * step here is idempotent.
 */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[], names: TopicNames): Promise<EnsureTopicsResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ensureTopicsOnce(kafka, specs, names);
    } catch (error) {
      if (attempt >= ENSURE_ATTEMPTS || (error as { retriable?: boolean }).retriable !== true) throw error;
      await sleep(ENSURE_RETRY_MS);
    }
  }
}

async function ensureTopicsOnce(kafka: Kafka, specs: TopicSpec[], names: TopicNames): Promise<EnsureTopicsResult> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const present = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !present.has(names.physical(spec.name)));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({
          topic: names.physical(spec.name),
          numPartitions: spec.partitions,
          configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
        })),
      });
      await waitUntilTopicsServe(
        admin,
        missing.map((spec) => names.physical(spec.name)),
      );
    }
    const existingSpecs = specs.filter((spec) => present.has(names.physical(spec.name)));
    if (existingSpecs.length > 0) {
      const metadata = await admin.fetchTopicMetadata({ topics: existingSpecs.map((s) => names.physical(s.name)) });
      for (const topic of metadata.topics) {
        const spec = existingSpecs.find((s) => names.physical(s.name) === topic.name);
        if (spec && topic.partitions.length < spec.partitions) {
          throw new Error(
            `topic ${topic.name} has ${topic.partitions.length} partitions, the topology needs ${spec.partitions}: ` +
              `raise it with kafka-topics --alter (keys move partitions: drain consumers first)`,
          );
        }
      }
    }
    return {
      created: missing.map((s) => names.physical(s.name)),
      existing: existingSpecs.map((s) => names.physical(s.name)),
    };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until every partition of the topics answers a ListOffsets request. `waitForLeaders` only
 * waits for the metadata to name a leader; the leader can still answer NOT_LEADER_OR_FOLLOWER
 * for a moment after that, and a client's first request would fail.
 */
async function waitUntilTopicsServe(admin: Admin, topics: string[], timeoutMs = TOPIC_READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const topic of topics) {
    for (;;) {
      try {
        await admin.fetchTopicOffsets(topic);
        break;
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || Date.now() > deadline) {
          throw new Error(`topic ${topic} was created but its partitions do not serve yet: ${String(error)}`, {
            cause: error,
          });
        }
        await sleep(100);
      }
    }
  }
}

/** Deletes the topics that exist and waits until the broker no longer lists them. */
export async function deleteTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  names: TopicNames,
  timeoutMs = 30_000,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const wanted = new Set(specs.map((spec) => names.physical(spec.name)));
    const present = (await admin.listTopics()).filter((topic) => wanted.has(topic));
    if (present.length === 0) return [];
    await admin.deleteTopics({ topics: present, timeout: timeoutMs });
    // Deletion completes asynchronously; creating a topic that is still being deleted fails.
    const deadline = Date.now() + timeoutMs;
    while ((await admin.listTopics()).some((topic) => wanted.has(topic))) {
      if (Date.now() > deadline)
        throw new Error(`topics still listed ${timeoutMs} ms after deletion: ${present.join(', ')}`);
      await sleep(200);
    }
    return present;
  } finally {
    await admin.disconnect();
  }
}
