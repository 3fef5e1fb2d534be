import { SimulatorError } from '../simulator.errors';

/** The statuses Asana's API answers when it fails (contract §5). */
const OUTAGE_STATUSES = [500, 502, 503, 504] as const;
/**
 * What an injected failure may answer: an outage's statuses, and the refusals Asana's API gives
 * one request (contract §5). Not 401 or 429: the token and the rate limits decide those.
 */
export const INJECTABLE_STATUSES = [400, 402, 403, 404, 451, ...OUTAGE_STATUSES] as const;
export type InjectableStatus = (typeof INJECTABLE_STATUSES)[number];

/** How many requests a failure strikes: a number, or every one until cancelled. */
export type FailureCount = number | 'forever';

/** Asana's wording where we know it; each status keeps one message so tests can match it. */
const MESSAGES: Record<InjectableStatus, string> = {
  400: 'Invalid Request',
  402: 'This feature is only available to premium users.',
  403: 'Forbidden',
  404: 'Unknown object',
  451: 'Unavailable For Legal Reasons',
  500: 'Server Error',
  502: 'The service is temporarily unavailable',
  503: 'The service is temporarily unavailable',
  504: 'The service is temporarily unavailable',
};

/** An API request failed on purpose, as Asana's API fails during an outage or refuses one request. */
export class InjectedFailureError extends SimulatorError {
  constructor(status: InjectableStatus) {
    super('INJECTED_FAILURE', MESSAGES[status], { status });
  }
}

/** The failures pending for one target (every request, or one gid's) and how many struck. */
export interface FailureStats {
  pending: FailureCount;
  status: InjectableStatus | null;
  injected: number;
}

class Failure {
  private rule: { status: InjectableStatus; left: FailureCount } | null = null;
  private injected = 0;

  set(count: FailureCount, status: InjectableStatus): void {
    this.rule = count === 'forever' || count > 0 ? { status, left: count } : null;
  }

  take(): InjectedFailureError | null {
    if (!this.rule) return null;
    const { status, left } = this.rule;
    if (left !== 'forever') this.rule = left > 1 ? { status, left: left - 1 } : null;
    this.injected += 1;
    return new InjectedFailureError(status);
  }

  stats(): FailureStats {
    return { pending: this.rule?.left ?? 0, status: this.rule?.status ?? null, injected: this.injected };
  }
}

/**
 * Makes API requests fail on purpose (`POST /_sim/api-failures`): the next requests with an
 * outage status, so a client can be shown riding out an Asana outage, or only the requests for
 * one gid (its path names it), so one resource can fail (a 400 forever) while the rest are
 * served. A request for a gid that has failures pending takes one of those, and none of the
 * others. Failed requests have passed the rate limits first, so they count against the budget
 * as at Asana.
 */
export class ApiFailures {
  private readonly everyRequest = new Failure();
  private readonly byGid = new Map<string, Failure>();

  /** `count` 0 cancels what is pending for that target. */
  failNext(count: FailureCount, status: InjectableStatus, gid?: string): void {
    if (gid === undefined) return this.everyRequest.set(count, status);
    let failure = this.byGid.get(gid);
    if (!failure) this.byGid.set(gid, (failure = new Failure()));
    failure.set(count, status);
  }

  /** The failure the request for `path` must answer with, if one is due. */
  take(path: string): InjectedFailureError | null {
    for (const segment of path.split('/')) {
      const failure = this.byGid.get(segment)?.take();
      if (failure) return failure;
    }
    return this.everyRequest.take();
  }

  /** Every request's failures, and each gid's that was ever given some (`gids`). */
  stats(): FailureStats & { gids: Record<string, FailureStats> } {
    const everyRequest = this.everyRequest.stats();
    const gids = Object.fromEntries([...this.byGid].map(([gid, failure]) => [gid, failure.stats()]));
    return { ...everyRequest, gids };
  }
}
