import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { FEED_CHANNEL } from '@asana-stream/db';
import { OutboxNotifications } from '../relay/outbox-notifications';

/**
 * The Events API's wake-ups: one LISTEN connection per process on the relay's feed channel, shared
 * by every long-poll and stream, and the signal that ends them all at shutdown (so open streams
 * never hold the HTTP server past the pod's grace period).
 */
@Injectable()
export class FeedListener implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(FeedListener.name);
  readonly notifications: OutboxNotifications;
  private readonly stopping = new AbortController();

  constructor(@Inject(APP_CONFIG) config: FanoutConfig) {
    this.notifications = new OutboxNotifications(config.db.DATABASE_URL, FEED_CHANNEL);
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

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.notifications.stop();
  }
}
