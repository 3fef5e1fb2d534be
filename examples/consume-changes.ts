/**
 * A downstream team's first consumer of asana-stream: reads `asana.changes.<type>` with kafkajs,
 * skips what it already applied (by `changeId`), and applies each change once, per resource in order.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 GROUP_ID=my-team TYPES=task,project node examples/consume-changes.ts
 *
 * Environment: KAFKA_BROKERS (host:port list), GROUP_ID (your team's consumer group: the offsets
 * are yours), TYPES (resource types, default `task`), KAFKA_TOPIC_PREFIX (the installation's, often
 * empty), FROM_BEGINNING (`true` to start a new group at the oldest message kept). It prints one
 * JSON line per change applied or skipped, and stops cleanly on Ctrl-C or SIGTERM.
 */
import { Kafka, logLevel } from 'kafkajs';

/** The message of `asana.changes.<type>` (docs/contracts.md has every field). */
interface ResourceChange {
  schema: number;
  changeId: string;
  gid: string;
  type: string;
  action: 'created' | 'updated' | 'deleted' | 'undeleted';
  version: number;
  changes: Record<string, { from: unknown; to: unknown }>;
  state: Record<string, unknown> | null;
  causes: string[];
  occurredAt: string;
}

/**
 * What this consumer has applied: the last `changeId` per gid. A gid's changeIds only grow, so a
 * change at or below the last one applied is a repeat (a relay that re-published after a crash, a
 * rebalance that re-delivered). Keep it in your own database, written in the same transaction as
 * what the change does there; a Map is enough for this example.
 */
const lastApplied = new Map<string, bigint>();

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Your team's work goes here: update a table, call a service, send a notification. */
function apply(change: ResourceChange): void {
  print({
    applied: change.changeId,
    gid: change.gid,
    type: change.type,
    action: change.action,
    fields: Object.keys(change.changes),
  });
}

function handle(value: Buffer | null): void {
  if (!value) return;
  const change = JSON.parse(value.toString('utf8')) as ResourceChange;
  const id = BigInt(change.changeId);
  const last = lastApplied.get(change.gid);
  if (last !== undefined && id <= last) {
    print({ skipped: change.changeId, gid: change.gid, reason: 'already applied' });
    return;
  }
  apply(change);
  lastApplied.set(change.gid, id);
}

async function main(): Promise<void> {
  const env = process.env;
  const brokers = (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const prefix = env.KAFKA_TOPIC_PREFIX ?? '';
  const types = (env.TYPES ?? 'task').split(',').map((type) => type.trim());
  const kafka = new Kafka({ clientId: 'asana-stream-example-consumer', brokers, logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: env.GROUP_ID ?? 'asana-stream-example' });

  const stop = async (): Promise<void> => {
    await consumer.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  await consumer.connect();
  await consumer.subscribe({
    topics: types.map((type) => `${prefix}asana.changes.${type}`),
    fromBeginning: env.FROM_BEGINNING === 'true',
  });
  // One message at a time per partition: a gid's changes arrive, and are applied, in order.
  await consumer.run({ eachMessage: async ({ message }) => handle(message.value) });
  print({ consuming: types, group: env.GROUP_ID ?? 'asana-stream-example' });
}

main().catch((error: unknown) => {
  process.stderr.write(`consumer failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
