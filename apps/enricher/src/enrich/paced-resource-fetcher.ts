import { Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { AsanaRequestPacer, type AsanaClient, type AsanaResource } from '@asana-stream/asana';
import type { FetchOptions, ResourceFetcher } from './enrich-event.service';

/**
 * The enricher's view of Asana's API: every fetch waits for the request pacer (the replica's
 * budget, and the pause after a 429 or an outage answer) and is asked again after it, so rate
 * limits and outages slow the enricher down instead of failing events.
 *
 * A fetch ends at once with ABORTED when its caller's signal is aborted, and every fetch does when
 * the app shuts down: during an outage a fetch waits for Asana indefinitely, and the consumer's
 * close waits for the fetch, so without this SIGTERM would wait until Kubernetes' SIGKILL.
 */
export class PacedResourceFetcher implements ResourceFetcher, BeforeApplicationShutdown {
  private readonly log = new Logger(PacedResourceFetcher.name);
  private readonly pacer: AsanaRequestPacer;
  private readonly shutdown = new AbortController();

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
    { whileWaiting, signal, onRequest }: FetchOptions = {},
  ): Promise<AsanaResource> {
    const request = (cancel?: AbortSignal) => {
      onRequest?.();
      return this.client.getResource(type, gid, optFields, { signal: cancel });
    };
    return this.pacer.run(request, {
      whileWaiting,
      signal: signal ? AbortSignal.any([this.shutdown.signal, signal]) : this.shutdown.signal,
    });
  }

  /**
   * Ends every fetch, waiting or in flight, and refuses new ones. Before shutdown, not on it:
   * Nest closes the consumer between the two hooks, and the close waits for the handler in flight.
   */
  beforeApplicationShutdown(): void {
    this.shutdown.abort();
  }
}
