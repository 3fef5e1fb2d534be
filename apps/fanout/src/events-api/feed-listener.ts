import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { FEED_CHANNEL } from '@asana-stream/db';
import { PgNotifications, type NotificationChannel } from '../notifications/pg-notifications';

/**
 * The Events API's wake-ups: the relay's feed channel on the process' LISTEN connection, shared by
 * every long-poll and stream, and the signal that ends them all at shutdown (so open streams never
 * hold the HTTP server past the pod's grace period).
 */
@Injectable()
export class FeedListener implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(FeedListener.name);
  readonly notifications: NotificationChannel;
  private readonly stopping = new AbortController();

  constructor(listener: PgNotifications) {
    this.notifications = listener.channel(FEED_CHANNEL);
  }

  /** Aborts when the app shuts down. */
  get shutdown(): AbortSignal {
    return this.stopping.signal;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.notifications.start().catch((error: unknown) => {
      // Waits connect again by themselves and poll meanwhile: a slower feed, not a broken one.
      this.log.warn({
        msg: 'feed notifications unavailable; the Events API polls until they are back',
        error: String(error),
      });
    });
  }

  onModuleDestroy(): void {
    this.stopping.abort();
  }
}
