import { SimulatorError } from '../simulator.errors';

/** The statuses Asana's API answers when it fails (contract §5). */
export const OUTAGE_STATUSES = [500, 502, 503, 504] as const;
export type OutageStatus = (typeof OUTAGE_STATUSES)[number];

/** An API request failed on purpose, as Asana's API fails during an outage. */
export class InjectedFailureError extends SimulatorError {
  constructor(status: OutageStatus) {
    super('INJECTED_FAILURE', status === 500 ? 'Server Error' : 'The service is temporarily unavailable', { status });
  }
}

/**
 * Makes the next API requests fail with an outage status (`POST /_sim/api-failures`), so a client
 * can be shown riding out an Asana outage. Failed requests have passed the rate limits first, so
 * they count against the budget as at Asana.
 */
export class ApiFailures {
  private pending: { status: OutageStatus; left: number } | null = null;
  private injected = 0;

  failNext(count: number, status: OutageStatus): void {
    this.pending = count > 0 ? { status, left: count } : null;
  }

  /** The failure the next request must answer with, if one is due. */
  take(): InjectedFailureError | null {
    if (!this.pending) return null;
    const { status } = this.pending;
    this.pending.left -= 1;
    if (this.pending.left === 0) this.pending = null;
    this.injected += 1;
    return new InjectedFailureError(status);
  }

  stats(): { pending: number; status: OutageStatus | null; injected: number } {
    return { pending: this.pending?.left ?? 0, status: this.pending?.status ?? null, injected: this.injected };
  }
}
