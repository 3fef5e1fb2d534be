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
import { EventStreamsRepository, type ClaimedStream } from './event-streams.repository';
import { eventsApiEvents, eventStreamRestarts } from '../enricher-metrics';
import { FIRST_READ_REASON, pollStream, type FollowDeps, type PollOutcome } from './follow-events';
import { ReconcilerLoop } from '../reconciler-loop';

/** Streams one replica polls at once. */
const CLAIM_LIMIT = 10;
/** A poll's lease: long enough for its pages at a slow Asana, short enough that a dead replica's lapse soon. */
const LEASE_MS = 120_000;
/** The longest a failing stream waits before its next try. */
const MAX_RETRY_MS = 15 * 60_000;

/** The next try after `failures` failed polls in a row: the interval, doubled each time, capped. */
export function retryDelayMs(intervalMs: number, failures: number): number {
  return Math.min(intervalMs * 2 ** Math.min(failures, 20), Math.max(MAX_RETRY_MS, intervalMs));
}

/**
 * Follows Asana's Events API for every resource an active subscription watches (EVENTS_FOLLOW),
 * so that what its webhook loses still reaches the pipeline (see `pollStream`). Every enricher
 * replica runs it; the leases of `event_streams` split the resources among them. Its requests are
 * paced with the enricher's own, within the token's one budget.
 */
@Injectable()
export class EventsFollowerService extends ReconcilerLoop {
  private readonly log = new Logger(EventsFollowerService.name);
  private readonly streams: EventStreamsRepository;

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
