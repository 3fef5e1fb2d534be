import { Inject, Injectable, Logger } from '@nestjs/common';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { DataSource } from 'typeorm';
import { AsanaClient } from '@asana-stream/asana';
import { APP_CONFIG, type EnricherConfig } from '@asana-stream/config';
import { TOPICS, TopicNames, type AsanaEventEnvelope } from '@asana-stream/contracts';
import { recordDivergences } from '@asana-stream/db';
import { classifyError } from '@asana-stream/errors';
import { jsonMessage, KafkaPublisher } from '@asana-stream/kafka';
import { tracer } from '@asana-stream/telemetry';
import { PacedResourceFetcher } from '../enrich/paced-resource-fetcher';
import { EventStreamsRepository, type ClaimedStream, type UnfollowedResource } from './event-streams.repository';
import { followsEventsOf, notFollowedReason } from './followed-types';
import { eventsApiEvents, eventStreamRestarts } from '../enricher-metrics';
import { FIRST_READ_REASON, pollStream, type FollowDeps, type PollOutcome } from './follow-events';
import { ReconcilerLoop } from '../reconciler-loop';
import { ResyncRepository } from '../resync/resync.repository';
import { watchedResourceType } from '../resync/watched-resource-type';

/** Streams one replica polls at once. */
const CLAIM_LIMIT = 10;
/** A poll's lease: long enough for its pages at a slow Asana, short enough that a dead replica's lapse soon. */
const LEASE_MS = 120_000;
/** The longest a failing stream waits before its next try. */
const MAX_RETRY_MS = 15 * 60_000;
/** The reason of the first resync of a resource the Events API does not follow (no 412 will ask for one). */
export const NOT_FOLLOWED_REASON =
  "the first resync of a resource Asana's Events API does not take: what happened before its webhook is unknown";

/** The next try after `failures` failed polls in a row: the interval, doubled each time, capped. */
export function retryDelayMs(intervalMs: number, failures: number): number {
  return Math.min(intervalMs * 2 ** Math.min(failures, 20), Math.max(MAX_RETRY_MS, intervalMs));
}

/**
 * Follows Asana's Events API for every resource an active subscription watches (EVENTS_FOLLOW),
 * so that what its webhook loses still reaches the pipeline (see `pollStream`). Every enricher
 * replica runs it; the leases of `event_streams` split the resources among them. Its requests are
 * paced with the enricher's own, within the token's one budget. Only resources of a type the
 * Events API takes are polled (`followsEventsOf`: a task, project or goal; a type not kept yet is
 * learnt from the webhook first, as the resync does); any other (a workspace, …) is not followed,
 * said once per replica in the log, and its first resync asked for in place of a 412's.
 */
@Injectable()
export class EventsFollowerService extends ReconcilerLoop {
  private readonly log = new Logger(EventsFollowerService.name);
  private readonly streams: EventStreamsRepository;
  private readonly resyncs: ResyncRepository;
  /** Resources this replica has said it does not follow (each is said once). */
  private readonly announcedUnfollowed = new Set<string>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly asana: AsanaClient,
    private readonly pacer: PacedResourceFetcher,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
    @Inject(APP_CONFIG) private readonly config: EnricherConfig,
  ) {
    super(config);
    this.streams = new EventStreamsRepository(dataSource);
    this.resyncs = new ResyncRepository(dataSource);
  }

  private get intervalMs(): number {
    return this.config.follower.EVENTS_POLL_INTERVAL_MS;
  }

  protected override disabled(): void {
    this.log.log({
      msg: 'not reconciling (EVENTS_FOLLOW=false): no Events API, resyncs or webhook checks; webhooks only',
    });
  }

  protected override started(): void {
    this.log.log({ msg: "following Asana's Events API for every watched resource", intervalMs: this.intervalMs });
  }

  protected async run(signal: AbortSignal): Promise<void> {
    // Due streams are looked for a few times per interval, so one comes round close to its time.
    const tickMs = Math.min(Math.max(Math.floor(this.intervalMs / 4), 50), 5_000);
    while (!signal.aborted) {
      try {
        await this.streams.registerWatchedResources();
        await this.announceUnfollowed(await this.streams.unfollowed());
        const claimed = await this.streams.claimDue(CLAIM_LIMIT, LEASE_MS, this.holder);
        await Promise.all(claimed.map((stream) => this.poll(stream, signal)));
        // A full claim may leave more due streams: look again at once.
        if (claimed.length === CLAIM_LIMIT) continue;
      } catch (error) {
        if (signal.aborted) break;
        this.log.warn({
          msg: 'could not look for due event streams; trying again',
          error: classifyError(error).toJSON(),
        });
      }
      await this.pause(tickMs, signal);
    }
  }

  private async poll(stream: ClaimedStream, signal: AbortSignal): Promise<void> {
    const span = tracer.startSpan(`poll ${TOPICS.events.name} from the Events API`, {
      kind: SpanKind.INTERNAL,
      attributes: { 'asana_stream.resource_gid': stream.resourceGid },
    });
    try {
      const resourceType = await context.with(trace.setSpan(context.active(), span), () => this.typeOf(stream, signal));
      span.setAttribute('asana_stream.resource_type', resourceType ?? 'unknown');
      if (resourceType !== null && !followsEventsOf(resourceType)) {
        // Learnt just now (a subscription made before types were kept): never claimed again.
        span.setAttribute('asana_stream.outcome', 'not-followed');
        await this.announceUnfollowed([{ resourceGid: stream.resourceGid, resourceType }]);
        await this.streams.letGo(stream.resourceGid, this.holder);
        return;
      }
      const outcome = await context.with(trace.setSpan(context.active(), span), () =>
        pollStream(stream, this.holder, this.deps(), signal),
      );
      span.setAttribute('asana_stream.outcome', outcome.kind);
      this.report(stream, outcome);
      if (outcome.kind === 'lease-lost') return;
      // More waiting (the page cap was hit): due again at once.
      const nextInMs = outcome.kind === 'read' && outcome.more ? 0 : this.intervalMs;
      await this.streams.release(stream.resourceGid, this.holder, nextInMs);
    } catch (thrown) {
      const error = classifyError(thrown);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
      if (signal.aborted) {
        // Shutting down: the lease lapses, and the next holder reads from the saved token.
        return;
      }
      const retryInMs = retryDelayMs(this.intervalMs, stream.pollsFailed);
      this.log.warn({
        msg: 'reading the Events API failed; the stream is tried again later',
        resourceGid: stream.resourceGid,
        retryInMs,
        error: error.toJSON(),
      });
      await this.streams
        .releaseFailed(stream.resourceGid, this.holder, retryInMs, `${error.code}: ${error.message}`)
        .catch((releaseError: unknown) =>
          this.log.warn({
            msg: 'could not record the failed poll; its lease lapses instead',
            resourceGid: stream.resourceGid,
            error: classifyError(releaseError).toJSON(),
          }),
        );
    } finally {
      span.end();
    }
  }

  /** What the resource is (`watchedResourceType`, the resync's own): a webhook is asked for through the pacer. */
  private typeOf(stream: ClaimedStream, signal: AbortSignal): Promise<string | null> {
    return watchedResourceType(stream, {
      getWebhook: (webhookGid) =>
        this.pacer.run((cancel) => this.asana.getWebhook(webhookGid, { signal: cancel }), {
          signal,
          purpose: 'events',
        }),
      remember: (resourceGid, resourceType) => this.resyncs.rememberResourceType(resourceGid, resourceType),
    });
  }

  /**
   * Says once (per replica) of each watched resource of a type the Events API does not take that
   * it is not followed, clears a failure an earlier poll of it left, and asks for its first resync
   * if none ever ran (the follower's 412 asks for it for a followed one).
   */
  private async announceUnfollowed(resources: UnfollowedResource[]): Promise<void> {
    for (const { resourceGid, resourceType } of resources) {
      if (this.announcedUnfollowed.has(resourceGid)) continue;
      const { resyncRequested } = await this.streams.settleUnfollowed(resourceGid, NOT_FOLLOWED_REASON);
      this.announcedUnfollowed.add(resourceGid);
      this.log.log({
        msg: 'not following the Events API for this resource',
        resourceGid,
        resourceType,
        reason: notFollowedReason(resourceType),
        resyncRequested,
      });
    }
  }

  private deps(): FollowDeps {
    const topic = this.names.physical(TOPICS.events.name);
    return {
      readEvents: (resource, sync, signal) =>
        this.pacer.run((cancel) => this.asana.getEvents(resource, sync, { signal: cancel }), {
          signal,
          purpose: 'events',
        }),
      streams: this.streams,
      publish: (envelopes: AsanaEventEnvelope[]) =>
        this.publisher.publish([
          { topic, messages: envelopes.map((envelope) => jsonMessage(envelope.event.resource.gid, envelope)) },
        ]),
      recordDivergences: (found) => recordDivergences(this.dataSource, 'events-api', found),
      now: () => new Date(),
    };
  }

  private report(stream: ClaimedStream, outcome: PollOutcome): void {
    if (outcome.kind === 'read') {
      if (outcome.published > 0) eventsApiEvents.labels('published').inc(outcome.published);
      if (outcome.events > outcome.published)
        eventsApiEvents.labels('reflected').inc(outcome.events - outcome.published);
    } else if (outcome.kind === 'restarted') {
      eventStreamRestarts.labels(outcome.reason === FIRST_READ_REASON ? 'first_read' : 'expired').inc();
    }
    if (outcome.kind === 'restarted') {
      this.log.warn({
        msg: 'event stream restarted from a fresh sync token; resync asked for',
        resourceGid: stream.resourceGid,
        reason: outcome.reason,
      });
    } else if (outcome.kind === 'lease-lost') {
      this.log.warn({ msg: 'event stream taken over by another replica mid-poll', resourceGid: stream.resourceGid });
    } else if (outcome.published > 0) {
      this.log.log({
        msg: 'events the webhook did not bring, read from the Events API and published',
        resourceGid: stream.resourceGid,
        read: outcome.events,
        published: outcome.published,
      });
    }
  }
}
