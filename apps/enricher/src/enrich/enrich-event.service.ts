import { Inject, Injectable, Logger } from '@nestjs/common';
import { AsanaApiError, AsanaClient, type AsanaResource, type WhileWaiting } from '@asana-stream/asana';
import { TOPICS, TopicNames, type AsanaEventEnvelope, type ResourceStateMessage } from '@asana-stream/contracts';
import { jsonMessage, KafkaPublisher } from '@asana-stream/kafka';
import { OPT_FIELDS } from './opt-fields';
import { decideState } from './resource-state';

export type EnrichOutcome = 'state' | 'tombstone' | 'unsupported-type';

/**
 * The Asana API as the enricher uses it (an interface, so specs can pass a strict fake).
 * `whileWaiting` is called every few seconds while a fetch waits for the rate limits.
 */
export interface ResourceFetcher {
  getResource(
    type: string,
    gid: string,
    optFields?: readonly string[],
    whileWaiting?: WhileWaiting,
  ): Promise<AsanaResource>;
}
export const RESOURCE_FETCHER = Symbol('RESOURCE_FETCHER');

/**
 * Turns one compact Asana event into the resource's current state: events carry no state, so
 * it is fetched from the API. A resource Asana no longer shows (404/403), or a `deleted` event
 * newer than the state the API returns, becomes a tombstone (see decideState).
 * A 429 or an outage only slows the fetch down (see PacedResourceFetcher); other failures throw
 * for the consumer to act on their disposition (`classifyError`, `@asana-stream/errors`).
 */
@Injectable()
export class EnrichEventService {
  private readonly log = new Logger(EnrichEventService.name);

  constructor(
    @Inject(RESOURCE_FETCHER) private readonly asana: ResourceFetcher,
    private readonly publisher: KafkaPublisher,
    private readonly names: TopicNames,
  ) {}

  /** `whileWaiting`: the consumer's heartbeat, kept up while the fetch waits for Asana's rate limits. */
  async enrich(envelope: AsanaEventEnvelope, whileWaiting?: WhileWaiting): Promise<EnrichOutcome> {
    const { gid, resource_type: type } = envelope.event.resource;
    if (!AsanaClient.canFetch(type)) {
      this.log.warn({ msg: 'no API endpoint for this resource type; event not enriched', gid, type });
      return 'unsupported-type';
    }
    const message = await this.fetchState(envelope, whileWaiting);
    await this.publisher.publish([
      { topic: this.names.physical(TOPICS.state.name), messages: [jsonMessage(gid, message)] },
    ]);
    return message.deleted ? 'tombstone' : 'state';
  }

  private async fetchState(
    { event, eventId }: AsanaEventEnvelope,
    whileWaiting: WhileWaiting | undefined,
  ): Promise<ResourceStateMessage> {
    const { gid, resource_type: type } = event.resource;
    let fetched: AsanaResource | null;
    try {
      fetched = await this.asana.getResource(type, gid, OPT_FIELDS[type], whileWaiting);
    } catch (error) {
      if (!(error instanceof AsanaApiError) || error.code !== 'NOT_VISIBLE') throw error;
      fetched = null;
    }
    const fetchedAt = new Date();
    return {
      gid,
      type,
      ...decideState(event, fetched, fetchedAt),
      fetchedAt: fetchedAt.toISOString(),
      causes: [eventId],
    };
  }
}
