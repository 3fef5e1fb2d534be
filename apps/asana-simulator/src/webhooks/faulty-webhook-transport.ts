import type { OnModuleDestroy } from '@nestjs/common';
import type { SeededRandom } from '../control/random';
import type { OutgoingPost, ReceiverAnswer, WebhookTransport } from './webhook-transport';

/** How often each fault strikes a signed delivery, each a probability in [0, 1]. */
export interface WebhookFaultRates {
  /** Answered as delivered, never sent: the events are lost (Asana delivers at most once). */
  drop: number;
  /** Sent, then sent again with the same bytes and signature a little later (Asana's redelivery). */
  duplicate: number;
  /** Answered as delivered at once, held back, and sent after the next delivery to the same target. */
  reorder: number;
}

export interface WebhookFaultCounts {
  dropped: number;
  duplicated: number;
  reordered: number;
}

export interface WebhookFaultTiming {
  /** A held-back delivery goes out after this long when no later delivery overtakes it sooner. */
  holdMs: number;
  /** The second copy of a duplicated delivery follows the first after this long. */
  duplicateDelayMs: number;
}

export const NO_FAULTS: WebhookFaultRates = { drop: 0, duplicate: 0, reorder: 0 };
const DELIVERED: ReceiverAnswer = { status: 200, headers: {}, body: '200 OK' };

/**
 * Makes the simulator's webhooks as unreliable as Asana's: deliveries lost, duplicated and
 * reordered, at configurable rates with seeded randomness, so one seed gives one sequence of
 * faults. Handshakes (unsigned) always pass. At rates of 0 it is the transport it wraps.
 */
export class FaultyWebhookTransport implements WebhookTransport, OnModuleDestroy {
  private rates: WebhookFaultRates;
  private readonly counts: WebhookFaultCounts = { dropped: 0, duplicated: 0, reordered: 0 };
  /** The delivery held back per target, with the timer that sends it at the latest. */
  private readonly held = new Map<string, { request: OutgoingPost; timer: NodeJS.Timeout }>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly inner: WebhookTransport,
    private readonly random: SeededRandom,
    rates: WebhookFaultRates = NO_FAULTS,
    private readonly timing: WebhookFaultTiming = { holdMs: 500, duplicateDelayMs: 200 },
  ) {
    this.rates = { ...rates };
  }

  setRates(rates: WebhookFaultRates): void {
    this.rates = { ...rates };
  }

  stats(): WebhookFaultRates & WebhookFaultCounts {
    return { ...this.rates, ...this.counts };
  }

  async post(request: OutgoingPost): Promise<ReceiverAnswer> {
    if (request.headers['X-Hook-Signature'] === undefined) return this.inner.post(request);
    if (this.strikes(this.rates.drop)) {
      this.counts.dropped += 1;
      return DELIVERED;
    }
    if (!this.held.has(request.url) && this.strikes(this.rates.reorder)) {
      this.counts.reordered += 1;
      const timer = this.later(this.timing.holdMs, () => this.release(request.url));
      this.held.set(request.url, { request, timer });
      return DELIVERED;
    }
    const answer = await this.inner.post(request);
    this.release(request.url);
    if (this.strikes(this.rates.duplicate)) {
      this.counts.duplicated += 1;
      this.later(this.timing.duplicateDelayMs, () => this.sendAside(request));
    }
    return answer;
  }

  onModuleDestroy(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.held.clear();
    (this.inner as Partial<OnModuleDestroy>).onModuleDestroy?.();
  }

  private strikes(rate: number): boolean {
    return rate > 0 && this.random.next() < rate;
  }

  /** Sends the delivery held back for a target, if any, after whatever just went out. */
  private release(url: string): void {
    const held = this.held.get(url);
    if (!held) return;
    this.held.delete(url);
    clearTimeout(held.timer);
    this.timers.delete(held.timer);
    this.sendAside(held.request);
  }

  /** Sends without anyone waiting: Asana already counted this delivery as done. */
  private sendAside(request: OutgoingPost): void {
    this.inner.post(request).catch(() => undefined);
  }

  private later(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }
}
