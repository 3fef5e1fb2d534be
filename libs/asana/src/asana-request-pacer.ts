import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { isAsanaStreamError } from '@asana-stream/errors';
import { abortedError, AsanaApiError } from './asana-api.errors';

export interface AsanaRequestPacerOptions {
  /** This process's share of the token's budget (Asana: 150 a minute on free domains, 1,500 on paid). */
  requestsPerMinute: number;
  /**
   * The budget is counted in windows of this length, each allowing its share of the minute's
   * budget: a shorter window spreads requests more evenly, and no wait for budget exceeds it.
   */
  windowMs?: number;
  /** Told of every 429 or outage answer and the pause it caused (for logs and metrics). */
  onPause?: (error: AsanaApiError, pauseMs: number) => void;
}

/** Called at least every `WAIT_SLICE_MS` while a wait lasts (a Kafka consumer's heartbeat). */
export type WhileWaiting = () => Promise<void>;

/** How one caller waits for the pacer. */
export interface PacedWaitOptions {
  whileWaiting?: WhileWaiting;
  /**
   * Ends the caller's wait (for budget, a 429's Retry-After or an outage's backoff) and its
   * request in flight at once, with an AsanaStreamError ABORTED: a consumer that is closing must
   * not sit out a pause of up to a minute. Other callers keep waiting.
   */
  signal?: AbortSignal;
}

const DEFAULT_WINDOW_MS = 10_000;
/** A third of kafkajs' default session timeout (30 s), its own default heartbeat interval. */
export const WAIT_SLICE_MS = 3_000;
const BUDGET_KEY = 'asana';

/** The first pause after a 429 without a usable Retry-After, or after an outage answer. */
export const FIRST_PAUSE_MS = 1_000;
/** Longest pause after 429s without Retry-After (Asana's own windows are a minute). */
export const MAX_RATE_LIMIT_PAUSE_MS = 32_000;
/** Longest pause while Asana's API keeps failing. */
export const MAX_OUTAGE_PAUSE_MS = 60_000;

/**
 * How long to hold every request after `error`, given how many pausing answers without a
 * Retry-After came right before it; null when the error is not Asana's to retry (its
 * disposition is not `retry`: the request's own business, or a halt such as a refused token).
 * - 429: Asana's `Retry-After` when it sent one (refused requests count against the budget, so
 *   asking sooner only makes it worse); otherwise 1 s, doubling up to 32 s.
 * - An outage (5xx, timeout, refused connection, a body that is not Asana's JSON): 1 s, doubling
 *   up to 60 s. Asana failing fails every request alike, so they all wait, and ask again after.
 */
export function pauseAfterMs(error: unknown, previousPauses: number): number | null {
  if (!(error instanceof AsanaApiError) || error.disposition !== 'retry') return null;
  const backoff = (max: number) => Math.min(max, FIRST_PAUSE_MS * 2 ** previousPauses);
  return error.code === 'RATE_LIMITED'
    ? (error.retryAfterMs ?? backoff(MAX_RATE_LIMIT_PAUSE_MS))
    : backoff(MAX_OUTAGE_PAUSE_MS);
}

/**
 * Paces one process's requests to Asana's API: a request budget per minute (rate-limiter-flexible
 * counts it), and a pause every request waits out after Asana answered 429 or failed. Waits call
 * `whileWaiting` every few seconds, so a consumer waiting here keeps its partitions, and end at
 * once when the caller's `signal` is aborted, so it can still shut down during an outage.
 */
export class AsanaRequestPacer {
  private readonly budget: RateLimiterMemory;
  private resumeAt = 0;
  /** Pausing answers in a row that carried no Retry-After: the exponent of the next backoff. */
  private pausesInARow = 0;

  constructor(private readonly options: AsanaRequestPacerOptions) {
    const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    const perWindow = Math.floor((options.requestsPerMinute * windowMs) / 60_000);
    if (!Number.isFinite(perWindow) || perWindow < 1) {
      throw new Error(
        `a budget of ${options.requestsPerMinute} requests a minute allows none per ${windowMs} ms window: ` +
          `raise it to at least ${Math.ceil(60_000 / windowMs)}`,
      );
    }
    this.budget = new RateLimiterMemory({ points: perWindow, duration: windowMs / 1000 });
  }

  /**
   * Runs one request to Asana when the pacing allows, and again after the pause each 429 or
   * outage answer causes, until Asana answers otherwise: neither is the request's fault, so
   * neither reaches the caller. Every other outcome, errors included, is the caller's.
   * `request` is given the caller's signal, to cancel its fetch with.
   */
  async run<T>(request: (signal?: AbortSignal) => Promise<T>, options: PacedWaitOptions = {}): Promise<T> {
    for (;;) {
      await this.acquire(options);
      try {
        const result = await request(options.signal);
        this.pausesInARow = 0;
        return result;
      } catch (error) {
        // A cancelled request says nothing about Asana: the backoff stays as it was.
        if (isAborted(error)) throw error;
        const pauseMs = pauseAfterMs(error, this.pausesInARow);
        if (pauseMs === null) {
          this.pausesInARow = 0;
          throw error;
        }
        const withRetryAfter = (error as AsanaApiError).retryAfterMs !== null;
        this.pausesInARow = withRetryAfter ? 0 : this.pausesInARow + 1;
        this.pauseFor(pauseMs);
        this.options.onPause?.(error as AsanaApiError, pauseMs);
      }
    }
  }

  /**
   * Resolves when a request may go: no pause in force, and room in the budget (taken here).
   * Rejects with ABORTED, taking no budget, as soon as `signal` is aborted.
   */
  async acquire({ whileWaiting, signal }: PacedWaitOptions = {}): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw abortedError("waiting for Asana's API", signal);
      const paused = this.resumeAt - Date.now();
      if (paused > 0) {
        await waitOut(paused, whileWaiting, signal);
        continue;
      }
      try {
        await this.budget.consume(BUDGET_KEY);
        return;
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        await waitOut(Math.max(1, refusal.msBeforeNext), whileWaiting, signal);
      }
    }
  }

  /** Holds every request, the ones waiting and the ones to come, for `ms` from now. */
  pauseFor(ms: number): void {
    this.resumeAt = Math.max(this.resumeAt, Date.now() + ms);
  }

  /** Milliseconds until the pause ends; 0 when none is in force. */
  pausedForMs(): number {
    return Math.max(0, this.resumeAt - Date.now());
  }
}

/**
 * The global setTimeout, not node:timers/promises, so that specs can drive it with fake timers.
 * An abort ends it at once and clears the timer.
 */
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await unlessAborted(new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), signal);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or ABORTED as soon as `signal` is aborted (a heartbeat to a broker that hangs too). */
function unlessAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortedError("waiting for Asana's API", signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function waitOut(ms: number, whileWaiting: WhileWaiting | undefined, signal: AbortSignal | undefined) {
  for (let left = ms; left > 0; left -= WAIT_SLICE_MS) {
    await sleep(Math.min(left, WAIT_SLICE_MS), signal);
    if (whileWaiting) await unlessAborted(whileWaiting(), signal);
  }
}

function isAborted(error: unknown): boolean {
  return isAsanaStreamError(error) && error.code === 'ABORTED';
}
