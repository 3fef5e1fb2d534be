import { Logger } from '@nestjs/common';
import { AsanaRequestPacer, type AsanaClient, type AsanaResource, type WhileWaiting } from '@asana-stream/asana';
import type { ResourceFetcher } from './enrich-event.service';

/**
 * The enricher's view of Asana's API: every fetch waits for the request pacer (the replica's
 * budget, and the pause after a 429 or an outage answer) and is asked again after it, so rate
 * limits and outages slow the enricher down instead of failing events.
 */
export class PacedResourceFetcher implements ResourceFetcher {
  private readonly log = new Logger(PacedResourceFetcher.name);
  private readonly pacer: AsanaRequestPacer;

  constructor(
    private readonly client: Pick<AsanaClient, 'getResource'>,
    requestsPerMinute: number,
  ) {
    this.pacer = new AsanaRequestPacer({
      requestsPerMinute,
      onPause: (error, pauseMs) =>
        this.log.warn({
          msg:
            error.code === 'RATE_LIMITED'
              ? 'Asana answered 429: holding every request to its API'
              : "Asana's API is failing: holding every request to it",
          pauseMs,
          error: error.toJSON(),
        }),
    });
  }

  getResource(
    type: string,
    gid: string,
    optFields?: readonly string[],
    whileWaiting?: WhileWaiting,
  ): Promise<AsanaResource> {
    return this.pacer.run(() => this.client.getResource(type, gid, optFields), whileWaiting);
  }
}
