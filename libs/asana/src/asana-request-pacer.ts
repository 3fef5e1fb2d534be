import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { isAsanaStreamError } from '@asana-stream/errors';
import { abortedError, AsanaApiError } from './asana-api.errors';

/**
 * A budget shared by every process using one token, counted in Postgres (rate-limiter-flexible's
 * `RateLimiterPostgres`), so N replicas together stay within the token's quota.
 */
export interface SharedBudgetStore {
  /** A `pg` Pool (rate-limiter-flexible's `storeType: 'pool'`). */
  pool: unknown;
  /** The table, created by a migration (`key` varchar primary key, `points` integer, `expire` bigint). */
  tableName: string;
  /** What identifies the token in the table: a hash of it, never the token. */
  key: string;
  /**
   * This process's own budget while Postgres cannot be asked (rate-limiter-flexible's insurance
   * limiter): a share of the token's, so every replica falling back at once stays within it.
   */
  fallbackRequestsPerMinute: number;
}

export interface AsanaRequestPacerOptions {
  /**
   * The budget, requests a minute (Asana: 150 a token on free domains, 1,500 on paid): the
   * token's, shared through `shared`; without it, this process's own.
   */
  requestsPerMinute: number;
  /** Counts the budget in Postgres for every process using the token; without it, in memory. */
  shared?: SharedBudgetStore;
  /**
   * Requests of this process in flight at once (Asana: 50 reads a token); a request waits for a
   * slot before it takes budget. Default 50.
   */
  maxInFlight?: number;
  /**
   * The budget is counted in windows of this length, each allowing its share of the minute's
   * budget: a shorter window spreads requests more evenly, and no wait for budget exceeds it.
   */
  windowMs?: number;
  /** Told of every 429 or outage answer and the pause it caused (for logs and metrics). */
  onPause?: (error: AsanaApiError, pauseMs: number) => void;
  /**
   * Told what the budget holds each time a request asks it (for metrics): the requests left in
   * the current window after taking one (the token's, when shared), or 0 and `exhausted` when the
   * window was spent and the request waits for the next.
   */
  onBudget?: (remaining: number, exhausted: boolean) => void;
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
/**
 * A spent window's successor opens this share of a window late. Our windows start on our clock,
 * Asana's when it counts our first request, a few ms later: a share spent at the start of our
 * window could land just before Asana's window turns, and be refused. Opening each window 2.5 %
 * late lets Asana's windows run ahead of ours, and any of its windows holds at most its quota
 * (for 1,500 a minute: six 10-second shares of 250 take 61.5 s), at 97.5 % of the quota.
 */
export const WINDOW_MARGIN = 0.025;
/** A third of kafkajs' default session timeout (30 s), its own default heartbeat interval. */
export const WAIT_SLICE_MS = 3_000;
const BUDGET_KEY = 'asana';
/** Asana's cap on one token's reads in flight (contract §6). */
export const DEFAULT_MAX_IN_FLIGHT = 50;

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
  private readonly budget: RateLimiterAbstract;
  private readonly budgetKey: string;
  private readonly slots: Slots;
  private resumeAt = 0;
  /** When a spent window's successor opens: its end plus the margin (WINDOW_MARGIN). */
  private windowOpensAt = 0;
  private readonly windowMarginMs: number;
  /** Pausing answers in a row that carried no Retry-After: the exponent of the next backoff. */
  private pausesInARow = 0;

  constructor(private readonly options: AsanaRequestPacerOptions) {
    const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.windowMarginMs = Math.ceil(windowMs * WINDOW_MARGIN);
    const duration = windowMs / 1000;
    const perWindow = pointsPerWindow(options.requestsPerMinute, windowMs);
    const { shared } = options;
    if (shared) {
      this.budget = new RateLimiterPostgres({
        storeClient: shared.pool,
        storeType: 'pool',
        tableName: shared.tableName,
        // The table is the migration's; its one row per token is reused, never piles up.
        tableCreated: true,
        clearExpiredByTimeout: false,
        keyPrefix: 'asana',
        points: perWindow,
        duration,
        // Once this process saw the window spent, it asks Postgres no more until the window ends.
        inMemoryBlockOnConsumed: perWindow,
        insuranceLimiter: new RateLimiterMemory({
          points: pointsPerWindow(shared.fallbackRequestsPerMinute, windowMs),
          duration,
        }),
      });
      this.budgetKey = shared.key;
    } else {
      this.budget = new RateLimiterMemory({ points: perWindow, duration });
      this.budgetKey = BUDGET_KEY;
    }
    const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new Error(`maxInFlight must be a positive integer, not ${maxInFlight}`);
    }
    this.slots = new Slots(maxInFlight);
  }

  /** Requests of this process in flight now (each holds a slot from before its budget until its answer). */
  get inFlight(): number {
    return this.slots.taken;
  }

  /**
   * Runs one request to Asana when the pacing allows, and again after the pause each 429 or
   * outage answer causes, until Asana answers otherwise: neither is the request's fault, so
   * neither reaches the caller. Every other outcome, errors included, is the caller's.
   * `request` is given the caller's signal, to cancel its fetch with.
   */
  async run<T>(request: (signal?: AbortSignal) => Promise<T>, options: PacedWaitOptions = {}): Promise<T> {
    for (;;) {
      // The slot first, then the budget: budget taken while waiting for a slot would be spent in
      // a later window than it was counted in, and a window could then see more than its share.
      await this.slots.take(options.signal);
      try {
        await this.acquire(options);
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
      } finally {
        this.slots.give();
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
      const held = Math.max(this.resumeAt, this.windowOpensAt) - Date.now();
      if (held > 0) {
        await waitOut(held, whileWaiting, signal);
        continue;
      }
      try {
        const taken = await this.budget.consume(this.budgetKey);
        this.options.onBudget?.(taken.remainingPoints, false);
        return;
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        this.options.onBudget?.(0, true);
        const opensAt = Date.now() + Math.max(1, refusal.msBeforeNext) + this.windowMarginMs;
        this.windowOpensAt = Math.max(this.windowOpensAt, opensAt);
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

function pointsPerWindow(requestsPerMinute: number, windowMs: number): number {
  const perWindow = Math.floor((requestsPerMinute * windowMs) / 60_000);
  if (!Number.isFinite(perWindow) || perWindow < 1) {
    throw new Error(
      `a budget of ${requestsPerMinute} requests a minute allows none per ${windowMs} ms window: ` +
        `raise it to at least ${Math.ceil(60_000 / windowMs)}`,
    );
  }
  return perWindow;
}

/** A counting semaphore whose waiters are served first come, first served, and leave on abort. */
class Slots {
  taken = 0;
  private readonly waiting: { resolve: () => void }[] = [];

  constructor(private readonly size: number) {}

  async take(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw abortedError("waiting for Asana's API", signal);
    if (this.taken < this.size && this.waiting.length === 0) {
      this.taken += 1;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(abortedError("waiting for Asana's API", signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  give(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.taken -= 1;
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
