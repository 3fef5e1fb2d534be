import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Admin } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { allTopics, TOPICS, TopicNames } from '@asana-stream/contracts';
import { divergenceSummary, EVENTS_API_RESOURCE_TYPES, RESYNCED_RESOURCE_TYPES } from '@asana-stream/db';
import { consumerGroupId, deadLetterDepths } from '@asana-stream/kafka';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure, DEMO_ENV_HINT } from '../cli-failure';

/** What has flowed through each stage so far. */
export interface PipelineStatus {
  deliveries: number;
  events: number;
  enricherLag: number;
  states: number;
  projectorLag: number;
  tasks: { live: number; deleted: number };
  projects: { live: number; deleted: number };
  /** `parked`: rows the relay parked (see `asana-stream outbox parked`), counted in `unpublished` too. */
  outbox: { total: number; unpublished: number; parked: number };
  changes: number;
  /** Entries pending per dead-letter topic (`asana.events.dlq`: 0), see `asana-stream dlq list`. */
  deadLetters: Record<string, number>;
  /**
   * The Events API follower (`event_streams`): resources followed (with a sync token), failing (the
   * last poll failed), waiting for a resync (a 412 asked for one), events read, and of those the
   * ones published because the projection lacked them (lost webhook events), and when the oldest
   * successful poll of a followed resource was (null: none yet); `notFollowed`: watched resources
   * of a type Asana's Events API does not take (a workspace, team, portfolio, …: see
   * `EVENTS_API_RESOURCE_TYPES`), by type, which the follower never polls.
   */
  eventsApi: {
    followed: number;
    failing: number;
    resyncRequested: number;
    eventsRead: number;
    eventsPublished: number;
    oldestPollAt: string | null;
    notFollowed: Record<string, number>;
  };
  /**
   * Resyncs of watched resources: asked for and not started, running (with their pages so far),
   * repairs made by cause over every run (a resource Asana lacked in Postgres, held older, or that
   * vanished from Asana), and the oldest last full resync of a followed resource (null: none yet).
   * Completeness: the oldest last light sweep of a followed resource (null: one has none yet), the
   * divergences open (Postgres found behind Asana by a sweep, a resync or the Events API, and not
   * yet caught up) and the age of the oldest in seconds (0 when none), and the same per resource.
   */
  resync: {
    awaiting: number;
    running: number;
    pages: number;
    repairs: { missing: number; stale: number; vanished: number };
    oldestResyncAt: string | null;
    oldestSweepAt: string | null;
    openDivergences: number;
    oldestDivergenceAgeSeconds: number;
    resources: ResourceCompleteness[];
    /**
     * Watched resources of a type with no resync (a portfolio, team, goal, …: see
     * `RESYNCED_RESOURCE_TYPES`), by type: nothing the webhooks lose on them is ever repaired.
     */
    withoutResync: Record<string, number>;
  };
}

/** One followed resource's last successful sweeps and its open divergences. */
export interface ResourceCompleteness {
  resource: string;
  /** When its last light sweep ended (null: none yet). */
  lastSweepAt: string | null;
  /** When its last full resync ended (null: none yet). */
  lastFullResyncAt: string | null;
  openDivergences: number;
  /** When its oldest open divergence was found (null: none). */
  oldestDivergenceAt: string | null;
}

async function messagesIn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

async function lagOf(admin: Admin, groupId: string, topic: string): Promise<number> {
  // Committed offsets first: read after the end offsets, a commit in between would show a negative lag.
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const ends = await admin.fetchTopicOffsets(topic);
  return ends.reduce((lag, end) => {
    const done = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
    return lag + Number(end.high) - (done < 0 ? Number(end.low) : done);
  }, 0);
}

async function rowCounts(dataSource: DataSource, table: 'tasks' | 'projects') {
  const [row] = await dataSource.query<{ live: string; deleted: string }[]>(
    /* sql */ `SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS live, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted FROM ${table}`,
  );
  return { live: Number(row.live), deleted: Number(row.deleted) };
}

export async function readStatus(admin: Admin, dataSource: DataSource, names: TopicNames): Promise<PipelineStatus> {
  const topic = (logical: string) => names.physical(logical);
  const changeTopics = allTopics().filter((t) => t.name.startsWith('asana.changes.'));
  const [
    deliveries,
    events,
    enricherLag,
    states,
    projectorLag,
    changes,
    tasks,
    projects,
    [outbox],
    deadLetters,
    [eventsApi, resync],
  ] = await Promise.all([
    messagesIn(admin, topic(TOPICS.deliveries.name)),
    messagesIn(admin, topic(TOPICS.events.name)),
    lagOf(admin, consumerGroupId(names.prefix, 'enricher'), topic(TOPICS.events.name)),
    messagesIn(admin, topic(TOPICS.state.name)),
    lagOf(admin, consumerGroupId(names.prefix, 'projector'), topic(TOPICS.state.name)),
    Promise.all(changeTopics.map((t) => messagesIn(admin, topic(t.name)))).then((counts) =>
      counts.reduce((a, b) => a + b, 0),
    ),
    rowCounts(dataSource, 'tasks'),
    rowCounts(dataSource, 'projects'),
    dataSource.query<
      { total: string; unpublished: string; parked: string }[]
    >(/* sql */ `SELECT count(*) AS total, count(*) FILTER (WHERE published_at IS NULL) AS unpublished,
                          count(*) FILTER (WHERE parked_at IS NOT NULL AND published_at IS NULL) AS parked FROM outbox`),
    deadLetterDepths(admin, names),
    reconciliationStatus(dataSource),
  ]);
  return {
    deliveries,
    events,
    enricherLag,
    states,
    projectorLag,
    tasks,
    projects,
    outbox: { total: Number(outbox.total), unpublished: Number(outbox.unpublished), parked: Number(outbox.parked) },
    changes,
    deadLetters,
    eventsApi,
    resync,
  };
}

async function reconciliationStatus(
  dataSource: DataSource,
): Promise<[PipelineStatus['eventsApi'], PipelineStatus['resync']]> {
  const [[row], resources, divergences, withoutResync, notFollowed] = await Promise.all([
    summaryRow(dataSource),
    followedResources(dataSource),
    divergenceSummary(dataSource),
    watchedNotIn(dataSource, RESYNCED_RESOURCE_TYPES),
    watchedNotIn(dataSource, EVENTS_API_RESOURCE_TYPES),
  ]);
  return [
    {
      followed: row.followed,
      failing: row.failing,
      resyncRequested: row.resync_requested,
      eventsRead: Number(row.events_read),
      eventsPublished: Number(row.events_published),
      oldestPollAt: row.oldest_poll_at?.toISOString() ?? null,
      notFollowed: Object.fromEntries(notFollowed.map((r) => [r.resource_type, r.resources])),
    },
    {
      awaiting: row.resync_requested,
      running: row.running,
      pages: row.pages,
      repairs: { missing: Number(row.missing), stale: Number(row.stale), vanished: Number(row.vanished) },
      oldestResyncAt: row.oldest_resync_at?.toISOString() ?? null,
      oldestSweepAt: row.oldest_sweep_at?.toISOString() ?? null,
      openDivergences: divergences.open,
      oldestDivergenceAgeSeconds: Math.round(divergences.oldestAgeSeconds * 10) / 10,
      resources: resources.map((r) => ({
        resource: r.resource_gid,
        lastSweepAt: r.last_sweep_at?.toISOString() ?? null,
        lastFullResyncAt: r.last_resync_at?.toISOString() ?? null,
        openDivergences: divergences.byResource.get(r.resource_gid)?.open ?? 0,
        oldestDivergenceAt: divergences.byResource.get(r.resource_gid)?.oldestFoundAt?.toISOString() ?? null,
      })),
      withoutResync: Object.fromEntries(withoutResync.map((r) => [r.resource_type, r.resources])),
    },
  ];
}

/** The followed resources (with a sync token), by gid: their last light sweep and full resync. */
function followedResources(dataSource: DataSource) {
  return dataSource.query<{ resource_gid: string; last_sweep_at: Date | null; last_resync_at: Date | null }[]>(
    /* sql */ `SELECT resource_gid, last_sweep_at, last_resync_at FROM event_streams WHERE sync_token IS NOT NULL ORDER BY resource_gid`,
  );
}

/**
 * Watched resources (active subscriptions) of a known type not in `types`, by type: those the
 * enricher has no resync for (`RESYNCED_RESOURCE_TYPES`), or that the Events API does not take.
 */
function watchedNotIn(dataSource: DataSource, types: readonly string[]) {
  return dataSource.query<{ resource_type: string; resources: number }[]>(
    /* sql */ `SELECT resource_type, count(DISTINCT resource_gid)::int AS resources FROM subscriptions
               WHERE status = 'active' AND resource_type IS NOT NULL AND resource_type <> ALL($1::text[])
               GROUP BY resource_type ORDER BY resource_type`,
    [types],
  );
}

function summaryRow(dataSource: DataSource) {
  return dataSource.query<
    {
      followed: number;
      failing: number;
      resync_requested: number;
      events_read: string;
      events_published: string;
      oldest_poll_at: Date | null;
      running: number;
      pages: number;
      missing: string;
      stale: string;
      vanished: string;
      oldest_resync_at: Date | null;
      oldest_sweep_at: Date | null;
    }[]
  >(/* sql */ `SELECT count(*) FILTER (WHERE sync_token IS NOT NULL)::int AS followed,
                      count(*) FILTER (WHERE polls_failed > 0)::int AS failing,
                      count(*) FILTER (WHERE resync_requested_at IS NOT NULL AND resync_started_at IS NULL)::int AS resync_requested,
                      coalesce(sum(events_read), 0)::text AS events_read,
                      coalesce(sum(events_published), 0)::text AS events_published,
                      min(last_polled_at) FILTER (WHERE sync_token IS NOT NULL AND polls_failed = 0) AS oldest_poll_at,
                      count(*) FILTER (WHERE resync_started_at IS NOT NULL)::int AS running,
                      coalesce(sum(resync_pages), 0)::int AS pages,
                      coalesce(sum(repairs_missing), 0)::text AS missing,
                      coalesce(sum(repairs_stale), 0)::text AS stale,
                      coalesce(sum(repairs_vanished), 0)::text AS vanished,
                      min(last_resync_at) FILTER (WHERE sync_token IS NOT NULL) AS oldest_resync_at,
                      min(last_sweep_at) FILTER (WHERE sync_token IS NOT NULL) AS oldest_sweep_at
               FROM event_streams`);
}

/** `, without resync: goal 2, team 1` when resources of a type with no resync are watched. */
function withoutResync(byType: Record<string, number>): string {
  return byTypeSuffix('without resync', byType);
}

/** `, <label>: workspace 1, team 2`, or nothing when no type is counted. */
function byTypeSuffix(label: string, byType: Record<string, number>): string {
  const types = Object.entries(byType);
  return types.length === 0 ? '' : `, ${label}: ${types.map(([type, n]) => `${type} ${n}`).join(', ')}`;
}

/** How long ago `at` was, in the status line's few characters: 42s, 17m, 6h, 3d. */
function ago(at: string | null, now: number): string {
  if (at === null) return 'never';
  return `${seconds(Math.max(0, (now - Date.parse(at)) / 1000))} ago`;
}

function seconds(s: number): string {
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/**
 * Fails with one line when the installation's topics are not there: reading offsets of a missing
 * topic makes kafkajs retry its metadata for a long time before it gives up.
 */
export async function assertTopicsExist(admin: Admin, names: TopicNames, brokers: string): Promise<void> {
  const present = new Set(await admin.listTopics());
  const missing = allTopics()
    .map((t) => names.physical(t.name))
    .filter((topic) => !present.has(topic));
  if (missing.length === 0) return;
  throw new CliFailure(
    `${missing.length} of the installation's topics do not exist at ${brokers} (e.g. ${missing[0]}; ` +
      `KAFKA_TOPIC_PREFIX=${JSON.stringify(names.prefix)}): run \`asana-stream setup\`, or set KAFKA_TOPIC_PREFIX ` +
      `to the installation's prefix (${DEMO_ENV_HINT})`,
  );
}

/** One line per stage boundary, left to right in the order data flows. */
export function formatStatus(s: PipelineStatus, now = Date.now()): string {
  return [
    `ingest: ${s.deliveries} deliveries → ${s.events} events`,
    // What the webhooks lost, read back into asana.events beside ingest's.
    `events api: ${s.eventsApi.followed} followed, ${s.eventsApi.eventsPublished} of ${s.eventsApi.eventsRead} events published` +
      (s.eventsApi.failing > 0 ? `, ${s.eventsApi.failing} failing` : '') +
      (s.eventsApi.resyncRequested > 0 ? `, ${s.eventsApi.resyncRequested} awaiting resync` : '') +
      byTypeSuffix('not followed', s.eventsApi.notFollowed),
    `resync: ${s.resync.running} running${s.resync.running > 0 ? ` (${s.resync.pages} pages)` : ''}, ` +
      `repairs ${s.resync.repairs.missing} missing, ${s.resync.repairs.stale} stale, ${s.resync.repairs.vanished} vanished, ` +
      `oldest sweep ${ago(s.resync.oldestSweepAt, now)} (full ${ago(s.resync.oldestResyncAt, now)}), ` +
      `divergences ${s.resync.openDivergences} (oldest ${seconds(s.resync.oldestDivergenceAgeSeconds)})` +
      withoutResync(s.resync.withoutResync),
    `enricher: lag ${s.enricherLag} → ${s.states} states`,
    `projector: lag ${s.projectorLag} → tasks ${s.tasks.live} (+${s.tasks.deleted} deleted), projects ${s.projects.live}`,
    `fanout: outbox ${s.outbox.total} (${s.outbox.unpublished} pending${s.outbox.parked > 0 ? `, ${s.outbox.parked} parked` : ''}) → ${s.changes} changes`,
    // `asana.events.dlq` → `events`: the line stays short; `dlq list` names them whole.
    `dlq: ${Object.entries(s.deadLetters)
      .map(([topic, pending]) => `${topic.replace(/^asana\./, '').replace(/\.dlq$/, '')} ${pending}`)
      .join(', ')}`,
  ].join(' | ');
}

export function registerStatusCommand(program: Command, context: () => CliContext): void {
  program
    .command('status')
    .description(
      'show what has flowed through each stage: topic counts, consumer lag, projection rows, outbox (pending, parked), dead letters pending, the Events API follower, resyncs and sweeps with the oldest divergence',
    )
    .option('--watch <seconds>', 'refresh every N seconds until interrupted')
    .option('--json', 'print JSON instead of one line')
    .action(async (options: { watch?: string; json?: boolean }) => {
      const { config, print } = context();
      const interval = options.watch === undefined ? 0 : Number(options.watch);
      if (!Number.isFinite(interval) || interval < 0)
        throw new CliFailure(`--watch takes a number of seconds, got "${options.watch}"`);
      let stopped = false;
      process.once('SIGINT', () => (stopped = true));
      const names = new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX);
      await withConnections(config, { kafka: true, database: true }, async ({ admin, dataSource }) => {
        await assertTopicsExist(admin, names, config.kafka.KAFKA_BROKERS);
        do {
          const status = await readStatus(admin, dataSource, names);
          print(
            options.json ? JSON.stringify(status) : `${new Date().toISOString().slice(11, 19)} ${formatStatus(status)}`,
          );
          if (interval > 0) await sleep(interval * 1000);
        } while (interval > 0 && !stopped);
      });
    });
}
