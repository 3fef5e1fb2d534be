import { Inject, Injectable, Logger } from '@nestjs/common';
import { AsanaClient, nullIfNotVisible, type AsanaResource, type WhileWaiting } from '@asana-stream/asana';
import { TOPICS, TopicNames, type AsanaEventEnvelope, type ResourceStateMessage } from '@asana-stream/contracts';
import { jsonMessage, KafkaPublisher } from '@asana-stream/kafka';
import { causesOf, earliestEventAt } from './coalesce-events';
import { OPT_FIELDS } from './opt-fields';
import { decideCoalescedState } from './resource-state';

export type EnrichOutcome = 'state' | 'tombstone' | 'unsupported-type';

/** What the consumer gives `enrich` for the message it handles. */
export interface EnrichOptions {
  /** The consumer's heartbeat, kept up while the fetch waits for Asana's rate limits or an outage. */
  heartbeat?: WhileWaiting;
  /**
   * Aborted when the consumer closes: a fetch waiting for Asana ends at once with an
   * AsanaStreamError ABORTED (retry), so the message stays uncommitted and is delivered again.
   */
  signal?: AbortSignal;
}

/** How one fetch waits for Asana's rate limits and outages. */
export interface FetchOptions {
  /** Called every few seconds while the fetch waits. */
  whileWaiting?: WhileWaiting;
  /** Ends the wait and the request in flight at once, with an AsanaStreamError ABORTED. */
  signal?: AbortSignal;
  /**
   * Called just before each request goes out to Asana (after any wait, again before a retry): the
   * last call precedes the request whose answer the fetch returns, and versions a tombstone.
   */
  onRequest?: () => void;
}

/** The Asana API as the enricher uses it (an interface, so specs can pass a strict fake). */
export interface ResourceFetcher {
  getResource(type: string, gid: string, optFields?: readonly string[], options?: FetchOptions): Promise<AsanaResource>;
}
export const RESOURCE_FETCHER = Symbol('RESOURCE_FETCHER');

/**
 * Turns compact Asana events into the resource's current state: events carry no state, so it is
 * fetched from the API, once for all the events of one resource the consumer hands over together. A resource Asana no longer shows (404/403), or a `deleted` event
 * newer than the state the API returns, becomes a tombstone (see decideState).
 * A 429 or an outage only slows the fetch down (see PacedResourceFetcher), until the consumer's
 * signal or the app's shutdown cancels it (ABORTED, retry); other failures throw for the
 * consumer to act on their disposition (`classifyError`, `@asana-stream/errors`).
 */
@Injectable()
export class EnrichEventService {
  private readonly log = new Logger(EnrichEventService.name);

  constructor(
    @Inject(RESOURCE_FETCHER) private readonly asana: ResourceFetcher,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
  ) {}

  /**
   * A bare function as `options` is the heartbeat alone, as the consumer passed it before it
   * had a signal to give.
   */
  enrich(envelope: AsanaEventEnvelope, options: EnrichOptions | WhileWaiting = {}): Promise<EnrichOutcome> {
    return this.enrichCoalesced([envelope], options);
  }

  /**
   * One fetch and one state message for several events of one resource (one gid and type, in
   * offset order): the state answers every one of them, its `causes` listing their ids in order.
   * Resolves once Kafka acknowledged the state.
   */
  async enrichCoalesced(
    envelopes: readonly AsanaEventEnvelope[],
    options: EnrichOptions | WhileWaiting = {},
  ): Promise<EnrichOutcome> {
    const { heartbeat, signal } = typeof options === 'function' ? { heartbeat: options, signal: undefined } : options;
    if (envelopes.length === 0) throw new Error('enrichCoalesced needs at least one event');
    const { gid, resource_type: type } = envelopes[0].event.resource;
    if (envelopes.some(({ event }) => event.resource.gid !== gid || event.resource.resource_type !== type)) {
      throw new Error('enrichCoalesced takes the events of one resource only');
    }
    if (!AsanaClient.canFetch(type)) {
      this.log.warn({ msg: 'no API endpoint for this resource type; event not enriched', gid, type });
      return 'unsupported-type';
    }
    const message = await this.fetchState(envelopes, { whileWaiting: heartbeat, signal });
    await this.publisher.publish([
      { topic: this.names.physical(TOPICS.state.name), messages: [jsonMessage(gid, message)] },
    ]);
    return message.deleted ? 'tombstone' : 'state';
  }

  private async fetchState(
    envelopes: readonly AsanaEventEnvelope[],
    options: FetchOptions,
  ): Promise<ResourceStateMessage> {
    const { gid, resource_type: type } = envelopes[0].event.resource;
    // Before the request, what a tombstone is versioned by (resource-version.ts): a fetcher that
    // does not report its requests leaves the time before the whole fetch, earlier and as safe.
    let requestedAt = new Date();
    const onRequest = () => void (requestedAt = new Date());
    const fetched: AsanaResource | null = await nullIfNotVisible(
      this.asana.getResource(type, gid, OPT_FIELDS[type], { ...options, onRequest }),
    );
    const fetchedAt = new Date();
    const events = envelopes.map(({ event }) => event);
    const eventAt = earliestEventAt(events);
    return {
      gid,
      type,
      ...decideCoalescedState(events, fetched, { requestedAt, fetchedAt }),
      fetchedAt: fetchedAt.toISOString(),
      ...(eventAt === undefined ? {} : { eventAt }),
      causes: causesOf(envelopes),
    };
  }
}
