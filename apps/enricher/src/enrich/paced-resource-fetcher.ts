import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { Pool, type QueryConfig } from 'pg';
import {
  abortedError,
  AsanaRequestPacer,
  type AsanaClient,
  type AsanaResource,
  type SharedBudgetStore,
} from '@asana-stream/asana';
import { classifyError } from '@asana-stream/errors';
import { secondsSince } from '@asana-stream/metrics';
import { asanaRequestDuration, asanaRequests, recordBudget } from '../enricher-metrics';
import type { FetchOptions, ResourceFetcher } from './enrich-event.service';

/** How the fetcher paces its requests (the enricher's ASANA_* and ENRICHER_* settings). */
export interface PacingSettings {
  /** The token's budget when `budgetDatabaseUrl` shares it, else this process's. */
  requestsPerMinute: number;
  /** Requests of this process in flight at once. Default 50 (Asana's cap for a token's reads). */
  maxInFlight?: number;
  /** Postgres where every replica using the token counts its budget; unset: counted in memory. */
  budgetDatabaseUrl?: string;
  /** With `budgetDatabaseUrl`: the token, whose hash keys the budget's row. */
  token?: string;
  /** With `budgetDatabaseUrl`: this process's own budget while that Postgres cannot be asked. */
  fallbackRequestsPerMinute?: number;
}

/** The longest reconciliation waits for live enrichment to stop queueing before it queues too. */
export const RECONCILIATION_MAX_WAIT_MS = 30_000;

/** What a request to Asana is for, as its metrics label it. */
export type AsanaRequestPurpose = 'enrich' | 'events' | 'resync' | 'sweep' | 'webhooks';

/** Counts each request (each try, 429s and outages included) by its outcome, and times it. */
function measured<T>(
  purpose: AsanaRequestPurpose,
  request: (signal?: AbortSignal) => Promise<T>,
): (signal?: AbortSignal) => Promise<T> {
  const duration = asanaRequestDuration.labels(purpose);
  return async (signal) => {
    const startedAt = performance.now();
    try {
      const result = await request(signal);
      asanaRequests.labels(purpose, 'ok').inc();
      return result;
    } catch (error) {
      asanaRequests.labels(purpose, classifyError(error).code).inc();
      throw error;
    } finally {
      duration.observe(secondsSince(startedAt));
    }
  };
}

/** The migration's table (`libs/db`: AsanaRequestBudget). */
export const BUDGET_TABLE = 'asana_request_budget';
const STORE_TIMEOUT_MS = 2_000;
const STORE_WARNING_INTERVAL_MS = 60_000;

/** What keys a token's budget: a hash of the token, never the token. */
export function budgetKeyOf(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 32);
}

/**
 * The enricher's view of Asana's API: every fetch waits for the request pacer (a slot among the
 * process's requests in flight, the token's budget, and the pause after a 429 or an outage
 * answer) and is asked again after it, so rate limits and outages slow the enricher down instead
 * of failing events.
 *
 * A fetch ends at once with ABORTED when its caller's signal is aborted, and every fetch does when
 * the app shuts down: during an outage a fetch waits for Asana indefinitely, and the consumer's
 * close waits for the fetch, so without this SIGTERM would wait until Kubernetes' SIGKILL.
 */
export class PacedResourceFetcher implements ResourceFetcher, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new Logger(PacedResourceFetcher.name);
  private readonly pacer: AsanaRequestPacer;
  private readonly shutdown = new AbortController();
  private readonly pool?: Pool;
  private lastStoreWarning = 0;
  /** Enrichment fetches not yet given their first try (waiting for a slot, the budget or a pause). */
  private liveWaiting = 0;
  private readonly liveDrained = new EventEmitter().setMaxListeners(0);

  /** `pacing` as a number: the budget a minute, counted in memory, with the default cap in flight. */
  constructor(
    private readonly client: Pick<AsanaClient, 'getResource'>,
    pacing: number | PacingSettings,
  ) {
    const settings: PacingSettings = typeof pacing === 'number' ? { requestsPerMinute: pacing } : pacing;
    let shared: SharedBudgetStore | undefined;
    if (settings.budgetDatabaseUrl !== undefined) {
      if (settings.token === undefined) throw new Error('a shared budget is keyed by the token: pass it');
      this.pool = new Pool({
        connectionString: settings.budgetDatabaseUrl,
        max: 4,
        connectionTimeoutMillis: STORE_TIMEOUT_MS,
        statement_timeout: STORE_TIMEOUT_MS,
        query_timeout: STORE_TIMEOUT_MS + 500,
        application_name: 'asana-stream-enricher-budget',
      });
      // An idle connection's error (Postgres restarted) must not crash the process; the next
      // query gets a fresh connection, and while none can be had the fallback budget counts.
      this.pool.on('error', (error) => this.storeFailed(error));
      const pool = this.pool;
      shared = {
        pool: {
          query: (query: QueryConfig) =>
            pool.query(query).catch((error: unknown) => {
              this.storeFailed(error);
              throw error;
            }),
        },
        tableName: BUDGET_TABLE,
        key: budgetKeyOf(settings.token),
        fallbackRequestsPerMinute: settings.fallbackRequestsPerMinute ?? settings.requestsPerMinute,
      };
    }
    this.pacer = new AsanaRequestPacer({
      requestsPerMinute: settings.requestsPerMinute,
      maxInFlight: settings.maxInFlight,
      shared,
      onBudget: recordBudget,
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

  /** Requests to Asana in flight now. */
  get inFlight(): number {
    return this.pacer.inFlight;
  }

  getResource(
    type: string,
    gid: string,
    optFields?: readonly string[],
    { whileWaiting, signal, onRequest }: FetchOptions = {},
  ): Promise<AsanaResource> {
    // Waiting for its slot and budget until its first try: reconciliation holds back meanwhile.
    this.liveWaiting++;
    let waiting = true;
    const served = () => {
      if (!waiting) return;
      waiting = false;
      if (--this.liveWaiting === 0) this.liveDrained.emit('drained');
    };
    const request = measured('enrich', (cancel?: AbortSignal) => {
      served();
      onRequest?.();
      return this.client.getResource(type, gid, optFields, { signal: cancel });
    });
    return this.pacer
      .run(request, {
        whileWaiting,
        signal: signal ? AbortSignal.any([this.shutdown.signal, signal]) : this.shutdown.signal,
      })
      .finally(served);
  }

  /**
   * Any other request to Asana (reconciliation: the Events API follower, resyncs, the webhook
   * monitor), paced within the same budget and cancelled as fetches are. Live traffic first: it
   * enters the pacer only once no enrichment fetch is waiting for its turn, or after
   * `RECONCILIATION_MAX_WAIT_MS`, so repairs never delay fresh changes and are never starved.
   */
  async run<T>(
    request: (signal?: AbortSignal) => Promise<T>,
    { signal, purpose }: { signal?: AbortSignal; purpose: AsanaRequestPurpose },
  ): Promise<T> {
    const cancel = signal ? AbortSignal.any([this.shutdown.signal, signal]) : this.shutdown.signal;
    await this.afterLiveTraffic(cancel, purpose);
    return this.pacer.run(measured(purpose, request), { signal: cancel });
  }

  /** Resolves once no enrichment fetch waits (or the longest wait is over); rejects ABORTED on `signal`. */
  private async afterLiveTraffic(signal: AbortSignal, purpose: string): Promise<void> {
    const deadline = Date.now() + RECONCILIATION_MAX_WAIT_MS;
    while (this.liveWaiting > 0 && Date.now() < deadline) {
      if (signal.aborted) throw abortedError(`a ${purpose} request to Asana`, signal);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.liveDrained.off('drained', done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(deadline - Date.now(), 0));
        this.liveDrained.on('drained', done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    if (signal.aborted) throw abortedError(`a ${purpose} request to Asana`, signal);
  }

  /**
   * Ends every fetch, waiting or in flight, and refuses new ones. Before shutdown, not on it:
   * Nest closes the consumer between the two hooks, and the close waits for the handler in flight.
   */
  beforeApplicationShutdown(): void {
    this.shutdown.abort();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool?.end();
  }

  private storeFailed(error: unknown): void {
    const now = Date.now();
    if (now - this.lastStoreWarning < STORE_WARNING_INTERVAL_MS) return;
    this.lastStoreWarning = now;
    this.log.warn({
      msg: "the shared Asana budget's Postgres failed: counting this process's fallback budget until it answers",
      error: error instanceof Error ? { name: error.name, code: (error as { code?: unknown }).code } : String(error),
    });
  }
}
