import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { findEventsApiConsumer, hashConsumerToken, type EventsApiConsumer } from '@asana-stream/db';
import { EventsApiError } from './events-api.errors';

/** How long a token's answer (a consumer, or none) is reused: a deleted consumer stops within it. */
export const CONSUMER_CACHE_MS = 5000;
const MAX_CACHED = 10_000;

/**
 * Who is calling the Events API: `Authorization: Bearer <token>` for a consumer made with
 * `asana-stream consumers create`. Answers are cached for CONSUMER_CACHE_MS per token (by hash).
 */
@Injectable()
export class ConsumerAuthService {
  private readonly cache = new Map<string, { consumer: EventsApiConsumer | null; at: number }>();

  constructor(private readonly dataSource: DataSource) {}

  async authenticate(authorization: string | undefined): Promise<EventsApiConsumer> {
    const token = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(authorization ?? '')?.[1];
    if (!token) {
      throw new EventsApiError(
        'UNAUTHENTICATED',
        'send Authorization: Bearer <token>; an operator makes a token with `asana-stream consumers create --name <team>`',
      );
    }
    const key = hashConsumerToken(token).toString('hex');
    const now = Date.now();
    let entry = this.cache.get(key);
    if (!entry || now - entry.at > CONSUMER_CACHE_MS) {
      let consumer: EventsApiConsumer | null;
      try {
        consumer = await findEventsApiConsumer(this.dataSource, token);
      } catch {
        throw new EventsApiError('UNAVAILABLE', "the feed's database does not answer; retry shortly");
      }
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      entry = { consumer, at: now };
      this.cache.set(key, entry);
    }
    if (!entry.consumer) {
      throw new EventsApiError(
        'UNAUTHENTICATED',
        'this token belongs to no consumer (deleted, or mistyped); an operator makes one with `asana-stream consumers create --name <team>`',
      );
    }
    return entry.consumer;
  }
}
