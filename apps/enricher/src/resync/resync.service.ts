import { Inject, Injectable, Logger } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { DataSource } from 'typeorm';
import { AsanaApiError, AsanaClient, nullIfNotVisible } from '@asana-stream/asana';
import { APP_CONFIG, type EnricherConfig } from '@asana-stream/config';
import { TOPICS, TopicNames } from '@asana-stream/contracts';
import { recordDivergences, resolveDivergences, type DivergenceFinder } from '@asana-stream/db';
import { classifyError } from '@asana-stream/errors';
import { jsonMessage, KafkaPublisher } from '@asana-stream/kafka';
import { tracer } from '@asana-stream/telemetry';
import { PacedResourceFetcher } from '../enrich/paced-resource-fetcher';
import { countRepairs, resyncRuns, sweepRuns } from '../enricher-metrics';
import { EventStreamsRepository } from '../follow/event-streams.repository';
import { retryDelayMs } from '../follow/events-follower.service';
import { ResyncRepository, type ClaimedResync, type ClaimedSweep } from './resync.repository';
import { resyncKindFor, sweepKindFor } from './resync-dispatch';
import { divergenceOf, type Repair } from './resync-plan';
import { RESYNC_OPT_FIELDS, resyncResource, type ResyncDeps } from './resync-resource';
import type { ResyncOutcome, ResyncRunDeps } from './resync-run';
import { resyncTask } from './resync-task';
import { resyncWorkspace } from './resync-workspace';
import { sweepResource, type SweepDeps, type SweepOutcome } from './sweep-resource';
import { sweepTask } from './sweep-task';
import { watchedResourceType } from './watched-resource-type';
import { ReconcilerLoop } from '../reconciler-loop';

/** A run's lease, renewed with every page saved. */
const LEASE_MS = 120_000;
/** How often a replica looks for a resync to run while none is. */
const TICK_MS = 1_000;
/**
 * How far before the last sweep's start the next light sweep lists from: a change Asana stamped
 * just before our clock said the sweep started (clocks differ; a write in flight at Asana) is
 * listed again rather than missed. Listing it twice costs nothing: it is current by then.
 */
export const SWEEP_OVERLAP_MS = 60_000;
/**
 * Fields a task's stories are listed with: `created_at` only to show in logs; stories have no
 * `modified_at`, so only the ones the projection lacks are repaired.
 */
const STORY_FIELDS = ['resource_subtype', 'created_at'] as const;
/** How often resolved divergences are deleted (they are left out of every reading before that). */
const RESOLVE_EVERY_MS = 5_000;

/**
 * Runs the resyncs of watched resources, one at a time per replica (see `resyncResource`): those
 * asked for (a 412 of the Events API, `asana-stream reconcile`) first, then the scheduled full one
 * of each resource (RESYNC_FULL_INTERVAL_MS), then light sweeps (`sweepResource`: asked for with
 * `reconcile --since`, or every RESYNC_SWEEP_INTERVAL_MS). Its requests share the enricher's pacer
 * and budget. It also deletes the divergences the projection has caught up with.
 */
@Injectable()
export class ResyncService extends ReconcilerLoop {
  private readonly log = new Logger(ResyncService.name);
  private readonly resyncs: ResyncRepository;
  private readonly streams: EventStreamsRepository;
  private failuresInARow = 0;
  private resolvedAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly asana: AsanaClient,
    private readonly pacer: PacedResourceFetcher,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
    @Inject(APP_CONFIG) private readonly config: EnricherConfig,
  ) {
    super(config);
    this.resyncs = new ResyncRepository(dataSource);
    this.streams = new EventStreamsRepository(dataSource);
  }

  protected async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let claimed: ClaimedResync | null = null;
      let sweep: ClaimedSweep | null = null;
      try {
        await this.resolveNowAndThen();
        claimed = await this.resyncs.claim(LEASE_MS, this.holder);
        sweep = claimed
          ? null
          : await this.resyncs.claimSweep(
              LEASE_MS,
              this.holder,
              this.config.follower.RESYNC_SWEEP_INTERVAL_MS,
              SWEEP_OVERLAP_MS,
            );
      } catch (error) {
        if (signal.aborted) break;
        this.log.warn({
          msg: 'could not look for a resync to run; trying again',
          error: classifyError(error).toJSON(),
        });
      }
      if (claimed) {
        await this.runOne(claimed, signal);
        continue;
      }
      if (sweep) {
        await this.sweepOne(sweep, signal);
        continue;
      }
      await this.pause(TICK_MS, signal);
    }
  }

  private async runOne(claim: ClaimedResync, signal: AbortSignal): Promise<void> {
    const span = tracer.startSpan('resync', {
      kind: SpanKind.INTERNAL,
      attributes: { 'asana_stream.resource_gid': claim.resourceGid },
    });
    this.log.log({
      msg: claim.pages > 0 ? 'resync resumed' : 'resync started',
      resourceGid: claim.resourceGid,
      reason: claim.reason,
      pages: claim.pages,
    });
    try {
      const resourceType = await context.with(trace.setSpan(context.active(), span), () => this.typeOf(claim, signal));
      span.setAttribute('asana_stream.resource_type', resourceType ?? 'unknown');
      const kind = resyncKindFor(resourceType);
      if (kind === 'none') {
        await this.skipResync(claim, resourceType);
        return;
      }
      const outcome = await context.with(trace.setSpan(context.active(), span), () =>
        this.resyncOf(kind, claim, signal),
      );
      span.setAttribute('asana_stream.outcome', outcome.kind);
      this.failuresInARow = 0;
      resyncRuns.labels(outcome.kind === 'lease-lost' ? 'lease_lost' : outcome.kind).inc();
      if (outcome.kind === 'done') countRepairs(outcome.repairs);
      if (outcome.kind === 'done') {
        this.log.log({ msg: 'resync done', resourceGid: claim.resourceGid, resourceType, ...outcome });
      } else if (outcome.kind === 'lease-lost') {
        this.log.warn({ msg: 'resync taken over by another replica mid-run', resourceGid: claim.resourceGid });
      }
    } catch (thrown) {
      const error = classifyError(thrown);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
      if (signal.aborted) return;
      resyncRuns.labels('failed').inc();
      // An offset Asana no longer knows (400) cannot be resumed from: the next run starts over.
      const restart = thrown instanceof AsanaApiError && thrown.code === 'REJECTED' && claim.offset !== null;
      const retryInMs = retryDelayMs(this.config.follower.EVENTS_POLL_INTERVAL_MS, this.failuresInARow++);
      this.log.warn({
        msg: 'resync failed; tried again later',
        resourceGid: claim.resourceGid,
        restart,
        retryInMs,
        error: error.toJSON(),
      });
      await this.resyncs
        .fail(claim.resourceGid, this.holder, `${error.code}: ${error.message}`, retryInMs, restart)
        .catch((failError: unknown) =>
          this.log.warn({ msg: 'could not record the failed resync', error: classifyError(failError).toJSON() }),
        );
    } finally {
      span.end();
    }
  }

  private resyncOf(
    kind: 'project' | 'task' | 'workspace',
    claim: ClaimedResync,
    signal: AbortSignal,
  ): Promise<ResyncOutcome> {
    const gid = claim.resourceGid;
    switch (kind) {
      case 'project':
        return resyncResource(claim, this.holder, this.deps(gid), signal);
      case 'task':
        return resyncTask(
          claim,
          this.holder,
          {
            ...this.runDeps(gid),
            getTask: (task, cancel) => this.fetchOrNull('task', task, 'resync', cancel),
            listSubtasks: (task, offset, cancel) =>
              this.paced(
                (abort) => this.asana.listSubtasks(task, { optFields: RESYNC_OPT_FIELDS, offset }, { signal: abort }),
                'resync',
                cancel,
              ),
            listStories: (task, offset, cancel) =>
              this.paced(
                (abort) => this.asana.listTaskStories(task, { optFields: STORY_FIELDS, offset }, { signal: abort }),
                'resync',
                cancel,
              ),
          },
          signal,
        );
      case 'workspace':
        return resyncWorkspace(
          claim,
          this.holder,
          {
            ...this.runDeps(gid),
            listProjects: (workspace, offset, cancel) =>
              this.paced(
                (abort) =>
                  this.asana.listWorkspaceProjects(
                    workspace,
                    { optFields: ['modified_at'], offset },
                    { signal: abort },
                  ),
                'resync',
                cancel,
              ),
          },
          signal,
        );
    }
  }

  /** What the resource is (`watchedResourceType`): a webhook is asked for through the pacer. */
  private typeOf(claim: ClaimedResync, signal: AbortSignal): Promise<string | null> {
    return watchedResourceType(claim, {
      getWebhook: (webhookGid) =>
        this.paced((cancel) => this.asana.getWebhook(webhookGid, { signal: cancel }), 'resync', signal),
      remember: (resourceGid, resourceType) => this.resyncs.rememberResourceType(resourceGid, resourceType),
    });
  }

  /**
   * A resource of a type with no resync (a portfolio, team, goal, …): nothing is listed or
   * repaired, and no tombstone is made for it; the run ends so that it is not asked again until
   * the next scheduled one, and `asana-stream status` counts the resource as not resynced.
   */
  private async skipResync(claim: ClaimedResync, resourceType: string | null): Promise<void> {
    resyncRuns.labels('skipped').inc();
    this.failuresInARow = 0;
    this.log.warn({
      msg: 'resync skipped: no resync for this resource type; nothing repaired',
      resourceGid: claim.resourceGid,
      resourceType,
      reason: claim.reason,
    });
    const finished = await this.resyncs.finish(
      claim.resourceGid,
      this.holder,
      0,
      this.config.follower.RESYNC_FULL_INTERVAL_MS,
    );
    if (!finished) {
      this.log.warn({ msg: 'resync taken over by another replica mid-run', resourceGid: claim.resourceGid });
    }
  }

  private async resolveNowAndThen(): Promise<void> {
    if (Date.now() - this.resolvedAt < RESOLVE_EVERY_MS) return;
    this.resolvedAt = Date.now();
    await resolveDivergences(this.dataSource);
  }

  private async sweepOne(claim: ClaimedSweep, signal: AbortSignal): Promise<void> {
    const span = tracer.startSpan('sweep', {
      kind: SpanKind.INTERNAL,
      attributes: { 'asana_stream.resource_gid': claim.resourceGid },
    });
    const fields = { resourceGid: claim.resourceGid, since: claim.since.toISOString() };
    try {
      const outcome = await context.with(trace.setSpan(context.active(), span), () => this.sweepOf(claim, signal));
      if (outcome.kind === 'skipped') {
        sweepRuns.labels('skipped').inc();
        // Every sweep interval per such resource: quiet.
        this.log.debug({ msg: 'sweep skipped: no light sweep for this resource type', ...fields, ...outcome });
        return;
      }
      span.setAttribute('asana_stream.outcome', outcome.kind);
      this.failuresInARow = 0;
      sweepRuns.labels(outcome.kind === 'lease-lost' ? 'lease_lost' : outcome.kind).inc();
      if (outcome.kind === 'done') {
        countRepairs(outcome.repairs);
        // A sweep every 15 minutes per project that finds nothing stays quiet.
        const found = outcome.repairs.missing + outcome.repairs.stale > 0 || claim.requestedSince !== null;
        if (found) this.log.log({ msg: 'sweep done', ...fields, ...outcome });
        else this.log.debug({ msg: 'sweep done', ...fields, ...outcome });
      } else if (outcome.kind === 'lease-lost') {
        this.log.warn({ msg: 'sweep taken over by another replica mid-run', ...fields });
      }
    } catch (thrown) {
      const error = classifyError(thrown);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
      if (signal.aborted) return;
      sweepRuns.labels('failed').inc();
      // From the shorter of the two intervals: an hourly Events API must not hold sweeps back that long.
      const { EVENTS_POLL_INTERVAL_MS, RESYNC_SWEEP_INTERVAL_MS } = this.config.follower;
      const base = Math.min(EVENTS_POLL_INTERVAL_MS, RESYNC_SWEEP_INTERVAL_MS || EVENTS_POLL_INTERVAL_MS);
      const retryInMs = retryDelayMs(base, this.failuresInARow++);
      this.log.warn({ msg: 'sweep failed; tried again later', ...fields, retryInMs, error: error.toJSON() });
      await this.resyncs
        .failSweep(claim.resourceGid, this.holder, `${error.code}: ${error.message}`, retryInMs)
        .catch((failError: unknown) =>
          this.log.warn({ msg: 'could not record the failed sweep', error: classifyError(failError).toJSON() }),
        );
    } finally {
      span.end();
    }
  }

  private async sweepOf(
    claim: ClaimedSweep,
    signal: AbortSignal,
  ): Promise<SweepOutcome | { kind: 'skipped'; resourceType: string | null }> {
    const gid = claim.resourceGid;
    switch (sweepKindFor(claim.resourceType)) {
      case 'project-tasks-modified':
        return sweepResource(claim, this.holder, this.sweepDeps(gid), signal);
      case 'task-itself':
        return sweepTask(
          claim,
          this.holder,
          { ...this.sweepRunDeps(gid), getTask: (task, cancel) => this.fetchOrNull('task', task, 'sweep', cancel) },
          signal,
        );
      case 'none':
        // Its sweep ends at once, so the resource comes round again only after the interval.
        if (!(await this.resyncs.finishSweep(claim, this.holder, { missing: 0, stale: 0 }))) {
          return { kind: 'lease-lost' };
        }
        return { kind: 'skipped', resourceType: claim.resourceType };
    }
  }

  private paced<T>(request: (cancel?: AbortSignal) => Promise<T>, purpose: 'resync' | 'sweep', signal: AbortSignal) {
    return this.pacer.run(request, { signal, purpose });
  }

  /** A resource with the resync's fields; null when Asana no longer shows it (404/403). */
  private fetchOrNull(type: string, gid: string, purpose: 'resync' | 'sweep', signal: AbortSignal) {
    return nullIfNotVisible(
      this.paced((cancel) => this.asana.getResource(type, gid, RESYNC_OPT_FIELDS, { signal: cancel }), purpose, signal),
    );
  }

  /** Records the repairs' divergences, then publishes their events (keyed by resource gid). */
  private repairThrough(resourceGid: string, foundBy: DivergenceFinder): (repairs: Repair[]) => Promise<void> {
    const topic = this.names.physical(TOPICS.events.name);
    return async (repairs) => {
      await recordDivergences(
        this.dataSource,
        foundBy,
        repairs.map((repair) => divergenceOf(repair, resourceGid)),
      );
      await this.publisher.publish([
        { topic, messages: repairs.map(({ envelope }) => jsonMessage(envelope.event.resource.gid, envelope)) },
      ]);
    };
  }

  private sweepDeps(resourceGid: string): SweepDeps {
    return {
      ...this.sweepRunDeps(resourceGid),
      listModifiedTasks: (gid, since, offset, signal) =>
        this.pacer.run(
          (cancel) =>
            this.asana.listTasksModifiedSince(gid, since, { optFields: RESYNC_OPT_FIELDS, offset }, { signal: cancel }),
          { signal, purpose: 'sweep' },
        ),
    };
  }

  /** What every type's light sweep shares. */
  private sweepRunDeps(resourceGid: string): Omit<SweepDeps, 'listModifiedTasks'> {
    return {
      projectedVersions: (gids) => this.streams.projectedVersions(gids),
      repository: this.resyncs,
      repair: this.repairThrough(resourceGid, 'sweep'),
      now: () => new Date(),
      leaseMs: LEASE_MS,
    };
  }

  private deps(resourceGid: string): ResyncDeps {
    return {
      ...this.runDeps(resourceGid),
      getProject: (gid, signal) => this.fetchOrNull('project', gid, 'resync', signal),
      listTasks: (gid, offset, signal) =>
        this.paced(
          (cancel) => this.asana.listProjectTasks(gid, { optFields: RESYNC_OPT_FIELDS, offset }, { signal: cancel }),
          'resync',
          signal,
        ),
    };
  }

  /** What every type's resync shares. */
  private runDeps(resourceGid: string): ResyncRunDeps & { repository: ResyncRepository } {
    return {
      projectedVersions: (gids) => this.streams.projectedVersions(gids),
      repository: this.resyncs,
      repair: this.repairThrough(resourceGid, 'resync'),
      now: () => new Date(),
      leaseMs: LEASE_MS,
      fullIntervalMs: this.config.follower.RESYNC_FULL_INTERVAL_MS,
      onProgress: (progress) => this.log.log({ msg: 'resync progress', resourceGid, ...progress }),
    };
  }
}
