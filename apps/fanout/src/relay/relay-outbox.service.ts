import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Message } from 'kafkajs';
import { DataSource, type EntityManager } from 'typeorm';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { changeTopic, routeTopic, TopicNames } from '@asana-stream/contracts';
import { FEED_CHANNEL, OUTBOX_CHANNEL } from '@asana-stream/db';
import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import { KafkaPublisher } from '@asana-stream/kafka';
import { secondsSince } from '@asana-stream/metrics';
import type { ReadinessCheck } from '@asana-stream/runtime';
import { contextFromTraceparent, linksTo, tracer } from '@asana-stream/telemetry';
import { batchDurations, endToEndFreshness, relayFreshness, rowOutcomes } from './fanout-metrics';
import { PgNotifications, type NotificationChannel } from '../notifications/pg-notifications';
import { RouteTable } from '../routes/route-table.service';
import {
  changeMessage,
  failureRecord,
  publishBatch,
  routesOf,
  type ClaimedRow,
  type FailureRecord,
  type PublishOutcome,
} from './relay-batch';

/**
 * Namespace of the relay's per-gid advisory locks (`pg_try_advisory_xact_lock(ns, hashtext(gid))`).
 * `asana-stream outbox redrive|discard` takes the same lock for a gid it changes.
 */
export const RELAY_GID_LOCK_NAMESPACE = 0x6173_616e; // "asan"

/** Publishes of a row that may fail for its own reason before it is parked. */
export const MAX_PUBLISH_ATTEMPTS = 5;

/** After a failed batch the relay waits this long, doubling per failure in a row up to the max. */
const BACKOFF_MS = { first: 100, max: 5000 };

/** What one relay transaction did. */
export interface RelayRound {
  /** Rows claimed (of gids this relay locked). */
  claimed: number;
  /** Rows Kafka acknowledged and now marked published. */
  published: number;
  /** Rows that failed for a reason that may be their own; `parked` of them were parked. */
  failed: number;
  parked: number;
  /** A failure that is no row's (Kafka unavailable): nothing after it was published. */
  stoppedBy?: AsanaStreamError;
}

/**
 * A claim walks at most this many batches' worth of unpublished rows looking for gids no other
 * relay holds: enough for a few replicas to claim full batches side by side under a backlog,
 * never a scan of the whole backlog.
 */
export const CLAIM_WINDOW_BATCHES = 4;

/**
 * Gids of unpublished rows, leaving out gids with a parked row, each locked for this transaction
 * if no other relay holds it (a gid another relay holds is left to it, never waited for): the
 * function `relay_claim_gids` (migration `1765368000000-relay-claim`) walks the rows in id order,
 * a batch's worth at a time, try-locks each slice's gids in order of their first row, and stops
 * once the gids it locked hold at least `$1` rows of those walked, or after `$3` rows. So a relay
 * that finds the head locked claims the next gids. It locks only gids it returns (a gid may come
 * back twice: reentrant, harmless to `= ANY`).
 */
const CLAIM_GIDS = /* sql */ `SELECT DISTINCT c.gid FROM relay_claim_gids($1, $2, $3) AS c(gid)`;

/**
 * The unpublished rows of the locked gids, in id order: a new statement, so its snapshot is taken
 * after the locks were granted and sees everything the gid's previous holder committed (a gid it
 * parked meanwhile shows its parked row first, and `claim` leaves that gid out). The ids are
 * chosen first and only the batch's rows are read whole: the locked gids' later rows are often
 * many times the batch, and turning each one's change into text only to drop it cost more than
 * the rest of the claim.
 */
const CLAIM_ROWS = /* sql */ `
  SELECT o.id, o.gid, o.type, o.change::text AS change, o.traceparent, o.attempts,
         o.parked_at IS NOT NULL AS parked,
         (extract(epoch FROM clock_timestamp() - o.created_at) * 1000)::float8 AS "ageMs",
         (extract(epoch FROM clock_timestamp() - o.event_at) * 1000)::float8 AS "eventAgeMs"
  FROM (SELECT c.id FROM outbox c
        WHERE c.published_at IS NULL AND c.gid = ANY($1::text[])
        ORDER BY c.id LIMIT $2) claimed
  JOIN outbox o ON o.id = claimed.id
  ORDER BY o.id`;

/**
 * Marks the published rows and gives them their Events API feed positions, in the order of `$1`
 * (ids sorted ascending: a gid's rows are claimed in id order, so the feed keeps each gid's order),
 * and NOTIFYs the feed's listeners. The counter's row lock is held until COMMIT, so the next relay
 * transaction gets its positions only after this one's are visible: positions commit in order.
 * It is taken last, after Kafka acknowledged, and held only for this statement and the COMMIT.
 * Written so the planner's estimates stay small: a cross join of CTEs estimated at thousands of
 * rows crossed Postgres' JIT threshold and cost tens of milliseconds a batch in compilation.
 */
const MARK_PUBLISHED = /* sql */ `
  WITH counter AS (
    UPDATE events_feed SET last_position = last_position + cardinality($1::bigint[])
    RETURNING last_position - cardinality($1::bigint[]) AS base, pg_notify($2, last_position::text) AS notified
  )
  UPDATE outbox o SET published_at = clock_timestamp(), feed_position = (SELECT base FROM counter) + p.n
  FROM unnest($1::bigint[]) WITH ORDINALITY AS p(id, n)
  WHERE o.id = p.id`;

/**
 * Relays committed outbox rows to `asana.changes.<type>` (key: gid), and to `asana.routes.<name>`
 * of every route a row matches (see `publishRows`), and marks them published.
 *
 * **Claiming.** One transaction per batch. It locks gids of the first unpublished rows with
 * transaction-scoped advisory locks (`pg_try_advisory_xact_lock`: a gid another relay holds is
 * skipped, never waited for), walking on past a locked head until the gids it locked hold a batch
 * (within `CLAIM_WINDOW_BATCHES` batches of rows), then reads those gids' unpublished rows in a
 * new statement, at most a batch in id order (the last gid's later rows wait for its next holder).
 * A gid's rows are thus published by one relay at a time, in id order, and its next holder sees
 * the previous holder's marks: replicas (and retries) never reorder a gid, while different gids go
 * through different replicas at once. Never `id > last seen`: sequence values commit out of order.
 *
 * **Publishing.** The whole batch is one publish call (one `sendBatch` when it fits the
 * publisher's request bounds), the published rows one UPDATE, then COMMIT. Kafka may see a row
 * twice if the process dies between publish and commit: consumers dedupe by `changeId`.
 *
 * **Refusals.** A row Kafka refuses (MESSAGE_TOO_LARGE, an invalid record) is found by splitting
 * the batch, and parked with its attempts and error; an error nothing recognises parks the row
 * after `MAX_PUBLISH_ATTEMPTS`. A parked row blocks only its gid: the claim leaves out gids with a
 * parked row until `asana-stream outbox redrive` or `discard`. Kafka being unavailable is no row's
 * fault: nothing is marked or counted, and the relay backs off and tries again.
 */
@Injectable()
export class RelayOutboxService implements OnApplicationBootstrap, OnModuleDestroy, ReadinessCheck {
  readonly name = 'outbox-relay';
  private readonly log = new Logger(RelayOutboxService.name);
  /** The projector's NOTIFY after each transaction that wrote outbox rows. */
  private readonly notifications: NotificationChannel;
  private readonly stopping = new AbortController();
  private running = false;
  private loops: Promise<void>[] = [];
  /** Emits `full` when a round claimed a whole batch: a backlog, which the helper loops drain too. */
  private readonly backlog = new EventEmitter();
  private lastError: string | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
    @Inject(APP_CONFIG) private readonly config: FanoutConfig,
    listener: PgNotifications,
    /** The routes declared (`routes apply`); without it, the type topics only. */
    @Optional() private readonly routes?: RouteTable,
  ) {
    this.notifications = listener.channel(OUTBOX_CHANNEL);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.notifications.start();
    this.running = true;
    const helpers = this.config.fanout.FANOUT_RELAY_CONCURRENCY - 1;
    this.backlog.setMaxListeners(helpers + 1);
    this.loops = [this.run('leader'), ...Array.from({ length: helpers }, () => this.run('helper'))];
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await Promise.all(this.loops);
  }

  async problem(): Promise<string | null> {
    if (!this.running) return 'the relay is not running';
    return this.lastError;
  }

  /**
   * One relay loop. The leader waits for the projector's notifications (or polls); the helpers
   * (`FANOUT_RELAY_CONCURRENCY` - 1) wait for a round that claimed a whole batch, and drain that
   * backlog beside it, each claiming gids no other loop holds, until their own rounds come back
   * short. At a steady trickle only the leader runs, so one change costs one claim. A leader whose
   * claim found the waiting gids held by helpers hears from them once they published.
   */
  private async run(role: 'leader' | 'helper'): Promise<void> {
    const { FANOUT_BATCH_SIZE: batchSize, FANOUT_POLL_INTERVAL_MS: pollMs } = this.config.fanout;
    let failuresInARow = 0;
    let refusalsInARow = 0;
    if (role === 'helper') await this.backlogAppears();
    while (this.running) {
      const seen = this.notifications.seen;
      try {
        const round = await this.relayRound(batchSize);
        if (round.stoppedBy) throw round.stoppedBy;
        this.lastError = null;
        failuresInARow = 0;
        if (round.failed > round.parked) {
          // A row to try again (an error nothing recognised): not at once, and the other gids
          // wait that long too, at most a few seconds before the row is parked.
          await this.pause(++refusalsInARow);
          continue;
        }
        refusalsInARow = 0;
        if (round.claimed === batchSize) {
          this.backlog.emit('full'); // more may be waiting: the idle helpers join in
          continue;
        }
        if (role === 'helper' && round.published > 0) this.notifications.wake();
      } catch (error) {
        failuresInARow++;
        const failure = classifyError(error);
        this.lastError = `relay batch failed: ${failure.message}`;
        if (failuresInARow === 1 || failuresInARow % 20 === 0) {
          this.log.error({ msg: 'relay batch failed; retrying', error: failure.toJSON(), failuresInARow });
        }
        await this.pause(failuresInARow);
        continue;
      }
      if (!this.running) break;
      if (role === 'leader') await this.notifications.wait(pollMs, seen, this.stopping.signal);
      else await this.backlogAppears();
    }
  }

  /** Resolves when a round claims a whole batch, or at shutdown. */
  private async backlogAppears(): Promise<void> {
    await once(this.backlog, 'full', { signal: this.stopping.signal }).catch(() => undefined);
  }

  /** Backs off after the `n`th failure in a row; ends at once on shutdown. */
  private async pause(n: number): Promise<void> {
    const ms = Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** Math.min(n - 1, 16));
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }

  /**
   * Relays one batch of at most `limit` rows; returns how many were published. Rejects when no
   * row could be tried (Kafka unavailable); rows it published before such a failure stay marked.
   */
  async relayBatch(limit: number): Promise<number> {
    const round = await this.relayRound(limit);
    if (round.stoppedBy) throw round.stoppedBy;
    return round.published;
  }

  /** One transaction: claim, publish, mark (and record refusals); measured once it committed or failed. */
  async relayRound(limit: number): Promise<RelayRound> {
    if (this.routes && !this.routes.loaded) {
      // Publishing without the routes would leave them gaps nobody sees: no row's fault, wait.
      throw new AsanaStreamError('DATABASE_UNAVAILABLE', 'the routes have not been read yet; relaying waits for them');
    }
    const startedAt = performance.now();
    const times = { claimedAt: 0, ackedAt: 0 };
    let published: ClaimedRow[] = [];
    let round: RelayRound;
    try {
      round = await this.dataSource.transaction(async (manager) => {
        const result = await this.relayIn(manager, limit, times);
        published = result.outcome?.published ?? [];
        return result.round;
      });
    } catch (error) {
      batchDurations.failed.observe(secondsSince(startedAt));
      throw error;
    }
    if (round.claimed > 0) {
      (round.stoppedBy ? batchDurations.failed : batchDurations.ok).observe(secondsSince(startedAt));
      this.countRound(round, published, times.ackedAt - times.claimedAt);
    }
    return round;
  }

  /**
   * Counts a committed round's rows, and each published row's freshness: its age when claimed
   * (Postgres' clock) plus claim to acknowledgement (ours), so no two clocks are compared.
   */
  private countRound(round: RelayRound, published: readonly ClaimedRow[], claimToAckMs: number): void {
    if (round.published > 0) rowOutcomes.published.inc(round.published);
    if (round.failed > round.parked) rowOutcomes.refused.inc(round.failed - round.parked);
    if (round.parked > 0) rowOutcomes.parked.inc(round.parked);
    for (const row of published) {
      if (typeof row.ageMs === 'number') relayFreshness.observe(Math.max(0, row.ageMs + claimToAckMs) / 1000);
      if (typeof row.eventAgeMs === 'number') {
        endToEndFreshness.observe(Math.max(0, row.eventAgeMs + claimToAckMs) / 1000);
      }
    }
  }

  private async relayIn(
    manager: EntityManager,
    limit: number,
    times: { claimedAt: number; ackedAt: number },
  ): Promise<{ outcome?: PublishOutcome; round: RelayRound }> {
    const rows = await this.claim(manager, limit);
    times.claimedAt = performance.now();
    if (rows.length === 0) return { round: { claimed: 0, published: 0, failed: 0, parked: 0 } };
    const outcome = await this.publish(rows);
    times.ackedAt = performance.now();
    const records = outcome.failed.map((failure) => failureRecord(failure, MAX_PUBLISH_ATTEMPTS));
    if (outcome.published.length === 0 && records.length === 0) {
      // Nothing to record: the transaction's locks go with the rollback.
      throw outcome.stoppedBy ?? new AsanaStreamError('INTERNAL', 'a relay batch published nothing');
    }
    await this.record(manager, outcome, records);
    const round: RelayRound = {
      claimed: rows.length,
      published: outcome.published.length,
      failed: records.length,
      parked: records.filter((r) => r.park).length,
      stoppedBy: outcome.stoppedBy,
    };
    return { outcome, round };
  }

  private async claim(manager: EntityManager, limit: number): Promise<ClaimedRow[]> {
    const gids = await manager.query<{ gid: string }[]>(CLAIM_GIDS, [
      limit,
      RELAY_GID_LOCK_NAMESPACE,
      limit * CLAIM_WINDOW_BATCHES,
    ]);
    if (gids.length === 0) return [];
    const rows = await manager.query<(ClaimedRow & { parked: boolean })[]>(CLAIM_ROWS, [gids.map((g) => g.gid), limit]);
    // A gid parked by its previous holder since the walk saw it: it waits for an operator.
    const parked = new Set(rows.filter((row) => row.parked).map((row) => row.gid));
    return parked.size === 0 ? rows : rows.filter((row) => !parked.has(row.gid));
  }

  private async record(manager: EntityManager, outcome: PublishOutcome, records: FailureRecord[]): Promise<void> {
    if (outcome.published.length > 0) {
      const ids = outcome.published.map((row) => BigInt(row.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      await manager.query(MARK_PUBLISHED, [ids.map(String), FEED_CHANNEL]);
    }
    if (records.length > 0) {
      await manager.query(
        /* sql */ `UPDATE outbox o SET attempts = f.attempts, last_error = f.last_error,
                     parked_at = CASE WHEN f.park THEN now() END
                   FROM unnest($1::bigint[], $2::int[], $3::text[], $4::boolean[]) AS f(id, attempts, last_error, park)
                   WHERE o.id = f.id`,
        [
          records.map((r) => r.id),
          records.map((r) => r.attempts),
          records.map((r) => r.lastError),
          records.map((r) => r.park),
        ],
      );
    }
    for (const failure of outcome.failed) {
      const record = records.find((r) => r.id === failure.row.id)!;
      this.log.warn({
        msg: record.park ? 'outbox row parked; its gid waits behind it' : 'outbox row refused; retrying',
        id: failure.row.id,
        gid: failure.row.gid,
        attempts: record.attempts,
        error: failure.error.toJSON(),
      });
    }
    this.log.debug({ msg: 'relayed outbox rows', count: outcome.published.length });
  }

  /**
   * Publishes the batch inside one span: its parent is the first row's trace (the context its
   * projector transaction wrote to `traceparent`), and it links the other rows' traces (at most
   * `MAX_SPAN_LINKS`, the SDK's limit).
   */
  private publish(rows: ClaimedRow[]): Promise<PublishOutcome> {
    const [first, ...others] = rows;
    const links = linksTo(others.map((row) => row.traceparent));
    const attributes = { 'asana.outbox_rows': rows.length, 'asana.outbox_first_id': first.id, 'asana.gid': first.gid };
    return tracer.startActiveSpan(
      'outbox relay',
      { links, attributes },
      contextFromTraceparent(first.traceparent),
      async (span) => {
        try {
          const outcome = await publishBatch(rows, (part) => this.publishRows(part));
          if (outcome.stoppedBy || outcome.failed.length > 0) span.setStatus({ code: 2 });
          return outcome;
        } finally {
          span.end();
        }
      },
    );
  }

  /**
   * One publish call for the rows: per topic, its rows in id order (a gid's rows share a topic).
   * Each row goes to its change topic and to the topic of every route it matches, in this same
   * call: the publisher drops a call's later messages after a failed request, so on every topic a
   * gid's later row is never written while an earlier one was not, and a row is marked published
   * only once every topic it belongs on acknowledged it.
   *
   * A route topic Kafka refuses therefore holds the row back on its change topic too, for every
   * gid in the batch: the price of a route never missing a change. It is not silent: the relay's
   * readiness fails with the error, the batch failure is logged (and this warning names the route
   * topics in the call), and `asana-stream routes apply` (which re-creates a missing topic) or
   * `routes delete --name <route>` frees it within seconds, the routes being reloaded.
   */
  private publishRows(rows: ClaimedRow[]): Promise<void> {
    const routes = this.routes?.snapshot() ?? [];
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, message: Message): void => {
      const messages = byTopic.get(topic);
      if (messages) messages.push(message);
      else byTopic.set(topic, [message]);
    };
    const routed = new Set<string>();
    for (const row of rows) {
      const message = changeMessage(row);
      add(this.names.physical(changeTopic(row.type).name), message);
      for (const route of routesOf(row, routes)) {
        const topic = this.names.physical(routeTopic(route.name).name);
        routed.add(topic);
        add(topic, { ...message });
      }
    }
    const published = this.publisher.publish([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    if (routed.size === 0) return published;
    return published.catch((error: unknown) => {
      if (Date.now() - this.routeFailureLoggedAt > 60_000) {
        this.routeFailureLoggedAt = Date.now();
        this.log.warn({
          msg: 'a relay publish that included route topics failed; if a route topic is the cause, fix it with `asana-stream routes apply` or remove it with `routes delete`',
          routeTopics: [...routed],
          error: classifyError(error).toJSON(),
        });
      }
      throw error;
    });
  }

  private routeFailureLoggedAt = 0;
}
