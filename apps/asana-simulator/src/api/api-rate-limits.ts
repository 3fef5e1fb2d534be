import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { SimulatorError } from '../simulator.errors';

export interface ApiRateLimitOptions {
  /** Requests one token may make per window; 0 turns the request limit off. */
  requestsPerWindow: number;
  windowSeconds: number;
  /** Requests of one token in flight at once, by kind (Asana: 50 reads, 15 writes). */
  maxConcurrentReads: number;
  maxConcurrentWrites: number;
}

export type RequestKind = 'read' | 'write';

/** What the limits have done so far (`GET /_sim/rate-limits`). */
export interface ApiRateLimitStats {
  admitted: number;
  /** Refused by the request budget: 429 with `Retry-After`. */
  rateLimited: number;
  /** Refused for too many requests in flight: 429 without `Retry-After`, as Asana may answer. */
  concurrencyLimited: number;
}

/**
 * The most requests of one kind one token had in flight at once (`GET /_sim/rate-limits/in-flight`),
 * counting each arriving request, refused ones too: a client that sends more than the cap shows
 * above it, although the cap keeps the requests served at or below it.
 */
export interface InFlightPeaks {
  mostReads: number;
  mostWrites: number;
}

/** A request the limits let through; `finish()` once its response is done. */
export interface AdmittedRequest {
  finish(): void;
}

/** Asana's message on every 429. */
export const RATE_LIMITED_MESSAGE = 'You have made too many requests recently. Please, be chill.';

/** A 429; `retryAfterSeconds`, when known, goes out as the `Retry-After` header. */
export class RateLimitedError extends SimulatorError {
  constructor(readonly retryAfterSeconds: number | null) {
    super('RATE_LIMITED', RATE_LIMITED_MESSAGE, {
      headers: retryAfterSeconds === null ? {} : { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/**
 * Asana's API rate limits (contract §6), per token: a request budget per window (Asana: 150 a
 * minute on free domains, 1,500 on paid), counted in fixed windows, where refused requests count
 * too; and a cap on requests in flight. Every refusal is a 429; the budget's carries `Retry-After`
 * in whole seconds until the window resets, the concurrency cap's carries none.
 */
export class ApiRateLimits {
  private readonly budget: RateLimiterMemory | null;
  private readonly inFlight = new Map<string, Record<RequestKind, number>>();
  private readonly counts: ApiRateLimitStats = { admitted: 0, rateLimited: 0, concurrencyLimited: 0 };
  private readonly peaks: Record<RequestKind, number> = { read: 0, write: 0 };

  constructor(readonly options: ApiRateLimitOptions) {
    this.budget =
      options.requestsPerWindow > 0
        ? new RateLimiterMemory({ points: options.requestsPerWindow, duration: options.windowSeconds })
        : null;
  }

  static kindOf(method: string): RequestKind {
    return ['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()) ? 'read' : 'write';
  }

  /** Admits one request of `token`, or throws a RateLimitedError. */
  async admit(token: string, kind: RequestKind): Promise<AdmittedRequest> {
    const open = this.inFlight.get(token) ?? { read: 0, write: 0 };
    const cap = kind === 'read' ? this.options.maxConcurrentReads : this.options.maxConcurrentWrites;
    this.peaks[kind] = Math.max(this.peaks[kind], open[kind] + 1);
    if (open[kind] >= cap) {
      this.counts.concurrencyLimited += 1;
      throw new RateLimitedError(null);
    }
    // Counted before the budget is asked, so requests waiting on the budget hold their slot.
    open[kind] += 1;
    this.inFlight.set(token, open);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      open[kind] -= 1;
    };
    try {
      await this.budget?.consume(token);
    } catch (refusal) {
      finish();
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      this.counts.rateLimited += 1;
      throw new RateLimitedError(Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)));
    }
    this.counts.admitted += 1;
    return { finish };
  }

  stats(): ApiRateLimitStats & ApiRateLimitOptions {
    return { ...this.options, ...this.counts };
  }

  /** The most reads and writes one token had in flight at once so far, refused arrivals included. */
  inFlightPeaks(): InFlightPeaks {
    return { mostReads: this.peaks.read, mostWrites: this.peaks.write };
  }
}
