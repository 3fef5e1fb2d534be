import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { Admin, IHeaders, Kafka, Message } from 'kafkajs';
import { DEAD_LETTERED_TOPICS, deadLetterTopic, TopicNames } from '@asana-stream/contracts';
import { safeText } from '@asana-stream/errors';
import {
  DEAD_LETTER_HEADER_PREFIX,
  deadLetterRanges,
  dlqOperatorGroup,
  pendingIn,
  type DeadLetterPartitionRange,
  DEAD_LETTER_HEADERS,
  KafkaPublisher,
  REDRIVEN_FROM_HEADER,
} from '@asana-stream/kafka';
import { cliKafka, withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';

/*
 * A dead-letter topic is a queue an operator works through in order, per partition (see
 * libs/kafka's dead-letter-depth.ts for the operator group). Re-driving or discarding entries
 * moves the group's offset past them (admin setOffsets); the entries stay in the topic until its
 * retention (30 days), for audit. Reading uses a throwaway group set to start there.
 */

/** Entries read, re-driven or discarded per round: bounds the memory `--all` takes. */
const CHUNK = 500;
/** A value shown by `dlq show` is cut after this many characters. */
const SHOWN_VALUE_CHARS = 4000;
const READ_TIMEOUT_MS = 15_000;

interface DeadLetterTopic {
  /** `asana.events.dlq` */
  logical: string;
  physical: string;
  /** The topic its entries came from and are re-driven to, physical: `<prefix>asana.events`. */
  source: string;
}

type PartitionRange = DeadLetterPartitionRange;

/** One dead-lettered message, as read back. */
export interface DeadLetterEntry {
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** When it was dead-lettered (the record's timestamp). */
  writtenAt: string;
}

/** `asana.events`, `asana.events.dlq`, with or without the installation's prefix. */
export function deadLetterTopicNamed(name: string, names: TopicNames): DeadLetterTopic {
  const unprefixed = names.prefix && name.startsWith(names.prefix) ? name.slice(names.prefix.length) : name;
  const source = unprefixed.endsWith('.dlq') ? unprefixed.slice(0, -'.dlq'.length) : unprefixed;
  if (!(DEAD_LETTERED_TOPICS as readonly string[]).includes(source)) {
    const known = DEAD_LETTERED_TOPICS.map((topic) => deadLetterTopic(topic).name).join(', ');
    throw new CliFailure(
      `"${name}" is not a dead-letter topic: name one of ${known} (or the topic it serves: ${DEAD_LETTERED_TOPICS.join(', ')})`,
    );
  }
  const logical = deadLetterTopic(source).name;
  return { logical, physical: names.physical(logical), source: names.physical(source) };
}

function allDeadLetterTopics(names: TopicNames): DeadLetterTopic[] {
  return DEAD_LETTERED_TOPICS.map((source) => deadLetterTopicNamed(source, names));
}

const rangesOf = (admin: Admin, topic: DeadLetterTopic, groupId: string): Promise<PartitionRange[]> =>
  deadLetterRanges(admin, topic.physical, groupId);

const keptIn = (ranges: PartitionRange[]) => ranges.reduce((sum, r) => sum + r.end - r.low, 0);

/** What reading a dead-letter topic needs. */
interface Reading {
  kafka: Kafka;
  admin: Admin;
  names: TopicNames;
}

/**
 * Reads the entries of each range from `from` (inclusive) up to `to` (exclusive) with a consumer
 * of a throwaway group that seeks there once it has joined (what it fetched before is dropped).
 */
async function readRanges(
  { kafka, admin, names }: Reading,
  topic: DeadLetterTopic,
  ranges: { partition: number; from: number; to: number }[],
): Promise<DeadLetterEntry[]> {
  const wanted = ranges.filter((r) => r.to > r.from);
  if (wanted.length === 0) return [];
  const groupId = `${dlqOperatorGroup(names)}-reader-${randomBytes(4).toString('hex')}`;
  const ends = await admin.fetchTopicOffsets(topic.physical);
  const entries: DeadLetterEntry[] = [];
  const remaining = new Map(wanted.map((r) => [r.partition, r]));
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  // A short long-poll: disconnecting waits for the fetch in flight.
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic.physical], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const range = remaining.get(batch.partition);
        if (!range || payload.isStale()) return;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < range.from || offset >= range.to) continue;
          entries.push(entryOf(batch.partition, message));
          if (offset + 1 >= range.to) remaining.delete(batch.partition);
        }
        if (remaining.size === 0) finish();
      },
    });
    for (const { partition, high } of ends) {
      consumer.seek({ topic: topic.physical, partition, offset: String(remaining.get(partition)?.from ?? high) });
    }
    const timedOut = await Promise.race([
      finished.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), READ_TIMEOUT_MS).unref()),
    ]);
    if (timedOut) {
      throw new CliFailure(
        `could not read ${topic.logical} within ${READ_TIMEOUT_MS / 1000} s (still missing partitions ${[...remaining.keys()].join(', ')})`,
      );
    }
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return entries.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

function entryOf(
  partition: number,
  message: { key: Buffer | null; value: Buffer | null; headers?: IHeaders; offset: string; timestamp: string },
): DeadLetterEntry {
  return {
    partition,
    offset: Number(message.offset),
    key: message.key?.toString() ?? null,
    value: message.value,
    headers: Object.fromEntries(
      Object.entries(message.headers ?? {})
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => [name, Array.isArray(value) ? String(value[value.length - 1]) : String(value)]),
    ),
    writtenAt: new Date(Number(message.timestamp)).toISOString(),
  };
}

/**
 * The next `limit` pending entries, oldest first across partitions: each partition's entries
 * in offset order (a prefix of what it has pending), merged by when they were dead-lettered.
 */
async function nextPending(
  reading: Reading,
  topic: DeadLetterTopic,
  ranges: PartitionRange[],
  limit: number,
): Promise<DeadLetterEntry[]> {
  const read = await readRanges(
    reading,
    topic,
    ranges.map((r) => ({ partition: r.partition, from: r.next, to: Math.min(r.end, r.next + limit) })),
  );
  const heads = new Map<number, DeadLetterEntry[]>();
  for (const entry of read) heads.set(entry.partition, [...(heads.get(entry.partition) ?? []), entry]);
  const merged: DeadLetterEntry[] = [];
  while (merged.length < limit && heads.size > 0) {
    let oldest: DeadLetterEntry[] | undefined;
    for (const queue of heads.values()) if (!oldest || queue[0].writtenAt < oldest[0].writtenAt) oldest = queue;
    const entry = oldest!.shift()!;
    merged.push(entry);
    if (oldest!.length === 0) heads.delete(entry.partition);
  }
  return merged;
}

/**
 * Moves the operator group past `entries` (each partition to its last entry + 1). kafkajs' admin
 * `setOffsets` would take a fetch timeout (5 s) each time, so a member of the operator group
 * that fetches nothing commits them.
 */
async function markHandled({ kafka, names }: Reading, topic: DeadLetterTopic, entries: DeadLetterEntry[]) {
  const next = new Map<number, number>();
  for (const entry of entries) next.set(entry.partition, Math.max(next.get(entry.partition) ?? 0, entry.offset + 1));
  if (next.size === 0) return;
  const consumer = kafka.consumer({
    groupId: dlqOperatorGroup(names),
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic.physical] });
    // Never resolves a message: whatever it fetches before the pause is not marked handled.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
    consumer.pause([{ topic: topic.physical }]);
    await consumer.commitOffsets(
      [...next].map(([partition, offset]) => ({ topic: topic.physical, partition, offset: String(offset) })),
    );
  } finally {
    await consumer.disconnect();
  }
}

/** The message to publish again: its key, value and own headers, none of the dead-letter ones. */
export function redriveMessage(topic: DeadLetterTopic, entry: DeadLetterEntry): Message {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(entry.headers)) {
    if (!name.startsWith(DEAD_LETTER_HEADER_PREFIX)) headers[name] = value;
  }
  headers[REDRIVEN_FROM_HEADER] = `${topic.physical}/${entry.partition}/${entry.offset}`;
  return { key: entry.key, value: entry.value, headers };
}

const where = (entry: DeadLetterEntry) => `${entry.partition}:${entry.offset}`;

function summaryOf(entry: DeadLetterEntry) {
  return {
    entry: where(entry),
    partition: entry.partition,
    offset: entry.offset,
    key: entry.key,
    code: entry.headers[DEAD_LETTER_HEADERS.code] ?? null,
    attempts:
      entry.headers[DEAD_LETTER_HEADERS.attempts] === undefined
        ? null
        : Number(entry.headers[DEAD_LETTER_HEADERS.attempts]),
    lastFailureAt: entry.headers[DEAD_LETTER_HEADERS.lastFailureAt] ?? null,
    reason: entry.headers[DEAD_LETTER_HEADERS.message] ?? null,
    source: entry.headers[DEAD_LETTER_HEADERS.sourceTopic]
      ? `${entry.headers[DEAD_LETTER_HEADERS.sourceTopic]}/${entry.headers[DEAD_LETTER_HEADERS.sourcePartition]}/${entry.headers[DEAD_LETTER_HEADERS.sourceOffset]}`
      : null,
  };
}

/** A plain table: columns as wide as their widest cell, the last one as it is. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  '),
  );
}

/** A value as an operator reads it: JSON indented when it is JSON, else its text, cut at a sane length. */
export function showValue(value: Buffer | null): string[] {
  if (value === null) return ['value: none (null)'];
  const text = value.toString('utf8');
  let shown: string;
  let kind: string;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
    kind = 'JSON';
  } catch {
    shown = JSON.stringify(text);
    kind = 'not JSON, shown as a string';
  }
  const cut = shown.length > SHOWN_VALUE_CHARS;
  return [
    `value (${kind}, ${value.length} bytes):`,
    cut ? `${shown.slice(0, SHOWN_VALUE_CHARS)}\n… (${shown.length - SHOWN_VALUE_CHARS} more characters)` : shown,
  ];
}

function howMany(options: { count?: string; all?: boolean }, verb: string): number {
  if (options.all && options.count !== undefined) throw new CliFailure(`${verb} takes --count N or --all, not both`);
  if (options.all) return Infinity;
  if (options.count === undefined) throw new CliFailure(`say how many entries to ${verb}: --count N or --all`);
  const count = Number(options.count);
  if (!Number.isInteger(count) || count < 1)
    throw new CliFailure(`--count takes a whole number of entries, got "${options.count}"`);
  return count;
}

function nothingPending(topic: DeadLetterTopic, ranges: PartitionRange[]): CliFailure {
  return new CliFailure(`nothing pending in ${topic.logical} (${keptIn(ranges)} entries in the topic, all handled)`);
}

export function registerDlqCommands(program: Command, context: () => CliContext): void {
  const dlq = program
    .command('dlq')
    .description(
      'dead-letter topics (asana.events.dlq, asana.state.dlq): messages a consumer could not process, handled in order',
    );

  dlq
    .command('list')
    .description('per dead-letter topic: how many entries are pending, and the first ones')
    .argument('[topic]', 'one dead-letter topic (asana.events.dlq or asana.events); all when omitted')
    .option('--limit <n>', 'entries shown per topic', '10')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { limit: string; json?: boolean }) => {
      const { config, print } = context();
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 0)
        throw new CliFailure(`--limit takes a whole number, got "${options.limit}"`);
      const topics = name === undefined ? allDeadLetterTopics(names) : [deadLetterTopicNamed(name, names)];
      await withConnections(config, { kafka: true }, async ({ kafka, admin }) => {
        const listed = [];
        for (const topic of topics) {
          const ranges = await rangesOf(admin, topic, dlqOperatorGroup(names));
          const pending = pendingIn(ranges);
          const entries =
            limit > 0 && pending > 0 ? await nextPending({ kafka, admin, names }, topic, ranges, limit) : [];
          listed.push({
            topic: topic.logical,
            physical: topic.physical,
            pending,
            kept: keptIn(ranges),
            entries: entries.map(summaryOf),
          });
        }
        if (options.json) {
          print(JSON.stringify(listed));
          return;
        }
        for (const { topic, pending, kept, entries } of listed) {
          if (pending === 0) {
            print(`${topic}: nothing pending (${kept} in the topic, all handled)`);
            continue;
          }
          print(`${topic}: ${pending} pending of ${kept} (operator group ${dlqOperatorGroup(names)})`);
          const rows = [['ENTRY', 'KEY', 'CODE', 'ATTEMPTS', 'LAST FAILURE', 'REASON']];
          for (const e of entries) {
            rows.push([
              e.entry,
              e.key ?? '-',
              e.code ?? '-',
              String(e.attempts ?? '-'),
              e.lastFailureAt ?? '-',
              safeText(e.reason ?? '-'),
            ]);
          }
          for (const line of table(rows)) print(`  ${line}`);
          if (pending > entries.length) print(`  … ${pending - entries.length} more`);
        }
      });
    });

  dlq
    .command('show')
    .description(
      'one entry whole: its headers and its value (the next pending one unless --partition and --offset say which)',
    )
    .argument('<topic>', 'asana.events.dlq or asana.events, asana.state.dlq or asana.state')
    .option('--partition <p>', 'partition of the entry')
    .option('--offset <o>', 'offset of the entry')
    .option('--json', 'print JSON (the value as text)')
    .action(async (name: string, options: { partition?: string; offset?: string; json?: boolean }) => {
      const { config, print } = context();
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const topic = deadLetterTopicNamed(name, names);
      if ((options.partition === undefined) !== (options.offset === undefined)) {
        throw new CliFailure('give --partition and --offset together, or neither for the next pending entry');
      }
      const entry = await withConnections(config, { kafka: true }, async ({ kafka, admin }) => {
        const ranges = await rangesOf(admin, topic, dlqOperatorGroup(names));
        if (options.partition === undefined) {
          const [next] = await nextPending({ kafka, admin, names }, topic, ranges, 1);
          if (!next) throw nothingPending(topic, ranges);
          return next;
        }
        const [partition, offset] = [Number(options.partition), Number(options.offset)];
        const range = ranges.find((r) => r.partition === partition);
        if (!range)
          throw new CliFailure(
            `${topic.logical} has no partition ${options.partition} (it has 0..${ranges.length - 1})`,
          );
        if (!Number.isInteger(offset) || offset < range.low || offset >= range.end) {
          throw new CliFailure(
            `${topic.logical} partition ${partition} holds no entry at offset ${options.offset}` +
              (range.end > range.low ? ` (it holds ${range.low}..${range.end - 1})` : ' (it is empty)'),
          );
        }
        const [found] = await readRanges({ kafka, admin, names }, topic, [{ partition, from: offset, to: offset + 1 }]);
        return found;
      });
      if (options.json) {
        print(JSON.stringify({ topic: topic.logical, ...entry, value: entry.value?.toString('utf8') ?? null }));
        return;
      }
      print(`${topic.logical} ${where(entry)}  key ${entry.key ?? '(none)'}  dead-lettered ${entry.writtenAt}`);
      print('headers:');
      for (const [header, value] of Object.entries(entry.headers)) print(`  ${header}: ${value}`);
      for (const line of showValue(entry.value)) print(line);
    });

  dlq
    .command('redrive')
    .description(
      'publish the next pending entries again to the topic they came from (same key, value and headers), then mark them handled',
    )
    .argument('<topic>', 'asana.events.dlq or asana.events, asana.state.dlq or asana.state')
    .option('--count <n>', 'how many of the next pending entries')
    .option('--all', 'every pending entry')
    .action(async (name: string, options: { count?: string; all?: boolean }) => {
      const { config, say, print } = context();
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const topic = deadLetterTopicNamed(name, names);
      const wanted = howMany(options, 'redrive');
      await withConnections(config, { kafka: true }, async ({ kafka, admin }) => {
        let ranges = await rangesOf(admin, topic, dlqOperatorGroup(names));
        if (pendingIn(ranges) === 0) throw nothingPending(topic, ranges);
        // Through the normal path: the app's publisher, idempotent and acks=all, keyed as before.
        const publisher = new KafkaPublisher(cliKafka(config));
        await publisher.onModuleInit();
        let redriven = 0;
        try {
          while (redriven < wanted && pendingIn(ranges) > 0) {
            const entries = await nextPending(
              { kafka, admin, names },
              topic,
              ranges,
              Math.min(CHUNK, wanted - redriven),
            );
            await publisher.publish([
              { topic: topic.source, messages: entries.map((entry) => redriveMessage(topic, entry)) },
            ]);
            // Only once Kafka has them again: a failure in between re-drives them twice, which
            // the pipeline takes as duplicates.
            await markHandled({ kafka, admin, names }, topic, entries);
            for (const entry of entries)
              say(`re-driven ${topic.logical} ${where(entry)} (key ${entry.key}) to ${topic.source}`);
            redriven += entries.length;
            ranges = await rangesOf(admin, topic, dlqOperatorGroup(names));
          }
        } finally {
          await publisher.onApplicationShutdown();
        }
        print(`re-driven: ${redriven} from ${topic.logical} to ${topic.source}; still pending: ${pendingIn(ranges)}`);
      });
    });

  dlq
    .command('discard')
    .description(
      'mark the next pending entries handled without re-driving them (they stay in the topic until its retention)',
    )
    .argument('<topic>', 'asana.events.dlq or asana.events, asana.state.dlq or asana.state')
    .option('--count <n>', 'how many of the next pending entries')
    .option('--all', 'every pending entry')
    .option('--yes', 'confirm: these messages will never be processed')
    .action(async (name: string, options: { count?: string; all?: boolean; yes?: boolean }) => {
      const { config, say, print } = context();
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const topic = deadLetterTopicNamed(name, names);
      const wanted = howMany(options, 'discard');
      if (!options.yes) {
        throw new CliFailure(
          `discarding means those messages are never processed (they stay in ${topic.logical} until its retention, for audit): run again with --yes to do it`,
        );
      }
      await withConnections(config, { kafka: true }, async ({ kafka, admin }) => {
        let ranges = await rangesOf(admin, topic, dlqOperatorGroup(names));
        if (pendingIn(ranges) === 0) throw nothingPending(topic, ranges);
        let discarded = 0;
        while (discarded < wanted && pendingIn(ranges) > 0) {
          const entries = await nextPending(
            { kafka, admin, names },
            topic,
            ranges,
            Math.min(CHUNK, wanted - discarded),
          );
          await markHandled({ kafka, admin, names }, topic, entries);
          for (const entry of entries) {
            say(
              `discarded ${topic.logical} ${where(entry)} (key ${entry.key}, ${entry.headers[DEAD_LETTER_HEADERS.code] ?? 'no code'})`,
            );
          }
          discarded += entries.length;
          ranges = await rangesOf(admin, topic, dlqOperatorGroup(names));
        }
        print(`discarded: ${discarded} from ${topic.logical}; still pending: ${pendingIn(ranges)}`);
      });
    });
}
