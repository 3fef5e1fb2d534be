import type { Admin } from 'kafkajs';
import type { Gauge } from 'prom-client';
import { DEAD_LETTERED_TOPICS, deadLetterTopic, type TopicNames } from '@asana-stream/contracts';
import { gauge, safeCollect, ScrapeCache } from '@asana-stream/metrics';
import { consumerGroupId } from './kafka-client';

/*
 * A dead-letter topic is a queue an operator works through in order, per partition. The operator
 * group (`<prefix>asana-stream-dlq-operator`) never consumes: its committed offset on each
 * dead-letter partition marks where the entries still to handle begin (`asana-stream dlq` moves
 * it past what it re-drives or discards). Pending = end offset − that mark, per partition.
 */

/** The operator group of an installation. */
export const dlqOperatorGroup = (names: TopicNames): string => consumerGroupId(names.prefix, 'dlq-operator');

export interface DeadLetterPartitionRange {
  partition: number;
  /** First entry still pending: the operator group's committed offset, or the earliest kept. */
  next: number;
  /** One past the last entry. */
  end: number;
  low: number;
}

/** Where each partition of a dead-letter topic (physical name) stands for the operator group. */
export async function deadLetterRanges(
  admin: Admin,
  physicalTopic: string,
  groupId: string,
): Promise<DeadLetterPartitionRange[]> {
  // Committed offsets first: an entry handled between the two reads then shows as pending, never the reverse.
  const [committed] = await admin.fetchOffsets({ groupId, topics: [physicalTopic] });
  const ends = await admin.fetchTopicOffsets(physicalTopic);
  return ends
    .map(({ partition, low, high }) => {
      const done = Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
      // Entries past retention are gone: pending starts at the earliest one still kept.
      return { partition, next: Math.max(done, Number(low)), end: Number(high), low: Number(low) };
    })
    .sort((a, b) => a.partition - b.partition);
}

export const pendingIn = (ranges: readonly DeadLetterPartitionRange[]): number =>
  ranges.reduce((sum, r) => sum + r.end - r.next, 0);

/**
 * Entries still to handle per dead-letter topic, by logical name (`asana.events.dlq`), of the
 * topics given (logical sources, default every dead-lettered one): what `status` and the gauge show.
 */
export async function deadLetterDepths(
  admin: Admin,
  names: TopicNames,
  sources: readonly string[] = DEAD_LETTERED_TOPICS,
): Promise<Record<string, number>> {
  const depths: Record<string, number> = {};
  for (const source of sources) {
    const logical = deadLetterTopic(source).name;
    depths[logical] = pendingIn(await deadLetterRanges(admin, names.physical(logical), dlqOperatorGroup(names)));
  }
  return depths;
}

let depths: ScrapeCache<Record<string, number>> | undefined;

export const deadLettersPending: Gauge<'topic'> = gauge({
  name: 'asana_stream_dead_letters_pending',
  help: 'Dead-letter entries not yet re-driven or discarded, per dead-letter topic (logical name), as `asana-stream dlq list` counts them; reported by the app that consumes the topic they came from (read from the broker at scrape, at most every 15 s).',
  labelNames: ['topic'] as const,
  collect: safeCollect(async function (this: Gauge<'topic'>) {
    const current = await depths?.get();
    for (const [topic, pending] of Object.entries(current ?? {})) this.labels(topic).set(pending);
  }),
});

/**
 * Feeds `asana_stream_dead_letters_pending` for the topics an app consumes: one admin client,
 * connected at the first scrape, read at most every 15 s; a broker that does not answer leaves
 * the last value (the scrape waits 3 s at most).
 */
export class DeadLetterDepthGauge {
  private connected?: Promise<void>;

  constructor(
    private readonly admin: Admin,
    private readonly names: TopicNames,
    private readonly sources: readonly string[],
  ) {}

  onApplicationBootstrap(): void {
    const sources = this.sources.filter((source) => (DEAD_LETTERED_TOPICS as readonly string[]).includes(source));
    if (sources.length === 0) return;
    depths = new ScrapeCache(
      async () => {
        this.connected ??= this.admin.connect().catch((error: unknown) => {
          this.connected = undefined;
          throw error;
        });
        await this.connected;
        return deadLetterDepths(this.admin, this.names, sources);
      },
      { maxAgeMs: 15_000, timeoutMs: 3000 },
    );
  }

  async onModuleDestroy(): Promise<void> {
    depths = undefined;
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
  }
}
