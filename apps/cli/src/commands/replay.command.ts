import type { Command } from 'commander';
import type { Message } from 'kafkajs';
import { ROUTE_NAME, routeMatches, routeTopic, TopicNames, type RoutableChange } from '@asana-stream/contracts';
import { findRoute } from '@asana-stream/db';
import { ensureTopics, KafkaPublisher } from '@asana-stream/kafka';
import { cliKafka, withConnections, type CliContext } from '../cli-context';
import { CliFailure } from '../cli-failure';
import { parseSince } from './parse-since';

/** The header every replayed message carries, so a reader can tell a replay from the live flow. */
export const REPLAY_HEADER = 'asana-stream-replay';

/** Outbox rows read (and published) per statement. */
const CHUNK_ROWS = 1000;
/** A progress line at most this often. */
const PROGRESS_EVERY_MS = 2000;

interface ReplayRow {
  position: string;
  id: string;
  gid: string;
  change: string;
  published_at: Date;
}

/**
 * The window's changes in feed order: still retained, published, with a feed position (a discarded
 * row never reached a topic, so it has none), published in [since, until). Positions are handed
 * out in commit order, so feed order keeps each gid's order.
 */
const READ_WINDOW = /* sql */ `
  SELECT o.feed_position::text AS position, o.id::text AS id, o.gid, o.change::text AS change, o.published_at
  FROM outbox o
  WHERE o.feed_position > $1::bigint AND o.published_at >= $2 AND o.published_at < $3
    AND ($4::text[] IS NULL OR o.type = ANY($4::text[]))
  ORDER BY o.feed_position LIMIT $5`;

/**
 * `asana-stream replay --route R --since T [--until T] [--dry-run]`: publishes the window's changes
 * that match route R again, to R's topic only, in feed order, each with `asana-stream-replay: 1`.
 * Consumers dedupe by `changeId` as always, so a replay over what they have is harmless.
 */
export function registerReplayCommand(program: Command, context: () => CliContext): void {
  program
    .command('replay')
    .description(
      "publish a window's changes matching a route again, to that route's topic only (asana.routes.<name>), in feed order, each with the header asana-stream-replay: 1",
    )
    .requiredOption('--route <name>', 'the route (see `asana-stream routes list`)')
    .requiredOption('--since <time>', 'from when the changes were published: an ISO time or a duration back (6h, 2d)')
    .option('--until <time>', 'until when (exclusive; default: now), same forms')
    .option('--dry-run', 'count what would be replayed, publish nothing')
    .addHelpText(
      'after',
      `
Only changes the outbox still keeps (FANOUT_RETENTION_HOURS, 7 days by default) can be replayed.
Nobody else's topic is touched: neither asana.changes.<type> nor another route's.
Progress goes to stderr; the summary line last.`,
    )
    .action(async (options: { route: string; since: string; until?: string; dryRun?: boolean }) => {
      const { config, print, say } = context();
      if (!ROUTE_NAME.test(options.route)) throw new CliFailure(`"${options.route}" is not a route's name`);
      const now = new Date();
      const since = parseSince(options.since, now);
      let until = now;
      try {
        if (options.until !== undefined) until = parseSince(options.until, now);
      } catch (error) {
        throw new CliFailure((error as Error).message.replaceAll('--since', '--until'));
      }
      if (until.getTime() <= since.getTime()) {
        throw new CliFailure(`--until (${until.toISOString()}) must be after --since (${since.toISOString()})`);
      }
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      const topic = names.physical(routeTopic(options.route).name);
      const summary = await withConnections(config, { kafka: !options.dryRun, database: true }, async (opened) => {
        const route = await findRoute(opened.dataSource, options.route);
        if (!route) throw new CliFailure(`no route named ${options.route} (see \`asana-stream routes list\`)`);
        let publisher: KafkaPublisher | undefined;
        if (!options.dryRun) {
          await ensureTopics(opened.kafka, [routeTopic(route.name)], names);
          publisher = new KafkaPublisher(cliKafka(config));
          await publisher.onModuleInit();
        }
        const counts = { scanned: 0, matched: 0 };
        let lastProgress = Date.now();
        try {
          const [first] = await opened.dataSource.query<{ after: string }[]>(
            /* sql */ `SELECT (coalesce(min(feed_position), 1) - 1)::text AS after FROM outbox
                       WHERE feed_position IS NOT NULL AND published_at >= $1`,
            [since],
          );
          let after = first.after;
          for (;;) {
            const rows = await opened.dataSource.query<ReplayRow[]>(READ_WINDOW, [
              after,
              since,
              until,
              route.filter.types ?? null,
              CHUNK_ROWS,
            ]);
            if (rows.length === 0) break;
            after = rows[rows.length - 1].position;
            counts.scanned += rows.length;
            const messages: Message[] = [];
            for (const row of rows) {
              const change = JSON.parse(row.change) as RoutableChange & Record<string, unknown>;
              if (!routeMatches(route.filter, change)) continue;
              messages.push({
                key: row.gid,
                value: JSON.stringify({ ...change, changeId: row.id }),
                headers: { [REPLAY_HEADER]: '1' },
              });
            }
            counts.matched += messages.length;
            // One chunk at a time, each after the previous was acknowledged: feed order, so each gid's order, holds.
            if (publisher && messages.length > 0) await publisher.publish([{ topic, messages }]);
            if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
              lastProgress = Date.now();
              say(
                `${options.dryRun ? 'counted' : 'replayed'} ${counts.matched} of ${counts.scanned} changes scanned, through ${rows[rows.length - 1].published_at.toISOString()}`,
              );
            }
            if (rows.length < CHUNK_ROWS) break;
          }
        } finally {
          await publisher?.onApplicationShutdown();
        }
        return counts;
      });
      const window = `published from ${since.toISOString()} until ${until.toISOString()}`;
      print(
        options.dryRun
          ? `dry run: would replay ${summary.matched} changes matching route ${options.route} (of ${summary.scanned} scanned), ${window}, to ${topic}`
          : `replayed ${summary.matched} changes matching route ${options.route} (of ${summary.scanned} scanned), ${window}, to ${topic}`,
      );
    });
}
