import { setTimeout as sleep } from 'node:timers/promises';

/** How a consumer retries a message whose failure is not the message's fault. */
export interface RetryOptions {
  /** The first retry waits up to this (full jitter: anywhere from 0). Default 200 ms. */
  baseDelayMs?: number;
  /** Waits double per attempt up to this. Default 10 s. */
  maxDelayMs?: number;
  /**
   * A message's retries end this long after its first failure: then `dispositionAfterRetries`
   * decides (halt for a dependency, dead-letter for an unknown error). Other keys of the batch
   * keep going meanwhile, but the next fetch waits for the batch, so this bounds how long other
   * partitions can wait. Default 30 s.
   */
  budgetMs?: number;
  /** At most this many attempts, the first included. Default 10. */
  maxAttempts?: number;
  /** While halted, a message is tried again after this, doubling per try up to `haltMaxDelayMs`. Default 1 s. */
  haltDelayMs?: number;
  /** Default 30 s. */
  haltMaxDelayMs?: number;
}

/**
 * Exponential backoff with full jitter (AWS's "Exponential Backoff And Jitter"): retries of
 * many messages failing together spread out instead of arriving at the dependency in step.
 */
export class RetryPolicy {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly budgetMs: number;
  readonly maxAttempts: number;
  readonly haltDelayMs: number;
  readonly haltMaxDelayMs: number;

  constructor(
    options: RetryOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.budgetMs = options.budgetMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.haltDelayMs = options.haltDelayMs ?? 1000;
    this.haltMaxDelayMs = options.haltMaxDelayMs ?? 30_000;
  }

  /**
   * How long to wait before attempt `nextAttempt` (2 for the first retry), or null when the
   * message's budget is spent: too many attempts, or `budgetMs` gone since its first failure.
   * The wait never runs past the budget.
   */
  delayBefore(nextAttempt: number, firstFailureAt: number, now: number): number | null {
    if (nextAttempt > this.maxAttempts) return null;
    const remaining = this.budgetMs - (now - firstFailureAt);
    if (remaining <= 0) return null;
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (nextAttempt - 2));
    return Math.min(Math.floor(this.random() * ceiling), remaining);
  }

  /**
   * The wait before try `haltTry` (1 for the first) of a halted message: slow, and never near
   * zero (equal jitter), since nothing is expected to change soon.
   */
  haltDelay(haltTry: number): number {
    const ceiling = Math.min(this.haltMaxDelayMs, this.haltDelayMs * 2 ** (haltTry - 1));
    return Math.floor(ceiling / 2 + (this.random() * ceiling) / 2);
  }
}

/** Waits `ms`, or less when `signal` aborts first; resolves false then. Never rejects. */
export async function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
