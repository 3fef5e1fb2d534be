import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { EnricherConfig } from '@asana-stream/config';

/** How long shutdown waits for a loop's round in flight (its Asana requests are cancelled at once). */
const STOP_TIMEOUT_MS = 5_000;

/**
 * The life of one of the enricher's reconciliation loops (the Events API follower, resyncs, the
 * webhook monitor): started with the app when EVENTS_FOLLOW is on, told to stop (its signal
 * aborted) before the app shuts down, and waited for only briefly, since what it leaves unsaved
 * the next holder of its lease does again.
 */
export abstract class ReconcilerLoop implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Names this replica in the leases it takes. */
  protected readonly holder = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly stopping = new AbortController();
  private running?: Promise<void>;

  protected constructor(private readonly loopConfig: EnricherConfig) {}

  /** Runs until `signal` aborts. */
  protected abstract run(signal: AbortSignal): Promise<void>;

  /** Called once when the loop starts, e.g. to say so. */
  protected started(): void {}

  /** Called once when EVENTS_FOLLOW=false keeps the loop from starting. */
  protected disabled(): void {}

  onApplicationBootstrap(): void {
    if (this.loopConfig.follower.EVENTS_FOLLOW !== 'true') {
      this.disabled();
      return;
    }
    this.started();
    this.running = this.run(this.stopping.signal);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    if (!this.running) return;
    await Promise.race([this.running, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
  }

  /** Waits `ms`, or less when the loop is told to stop. */
  protected async pause(ms: number, signal: AbortSignal): Promise<void> {
    await sleep(ms, undefined, { signal }).catch(() => undefined);
  }
}
