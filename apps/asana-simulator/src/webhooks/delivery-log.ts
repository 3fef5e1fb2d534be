export interface DeliveryAttempt {
  webhook: string;
  target: string;
  /** Events in the delivery; 0 for a heartbeat. */
  events: number;
  /** 1 for the first try of a delivery, 2 for its first retry, and so on. */
  attempt: number;
  status: 'delivered' | 'failed';
  /** The receiver's HTTP status; null when it never answered. */
  http_status: number | null;
  error: string | null;
  at: string;
}

export interface DeliveryCounts {
  attempts: number;
  delivered: number;
  failed: number;
  events_delivered: number;
  heartbeats_delivered: number;
  /** Webhooks deleted because their deliveries kept failing for the whole retry window. */
  webhooks_expired: number;
}

/** What the simulator sent, for `GET /_sim/deliveries`; keeps the latest attempts only. */
export class DeliveryLog {
  private readonly attempts: DeliveryAttempt[] = [];
  private readonly totals: DeliveryCounts = {
    attempts: 0,
    delivered: 0,
    failed: 0,
    events_delivered: 0,
    heartbeats_delivered: 0,
    webhooks_expired: 0,
  };

  constructor(private readonly capacity = 10_000) {}

  record(attempt: DeliveryAttempt): void {
    this.totals.attempts += 1;
    if (attempt.status === 'delivered') {
      this.totals.delivered += 1;
      this.totals.events_delivered += attempt.events;
      if (attempt.events === 0) this.totals.heartbeats_delivered += 1;
    } else {
      this.totals.failed += 1;
    }
    this.attempts.push(attempt);
    if (this.attempts.length > this.capacity) this.attempts.shift();
  }

  recordExpiry(): void {
    this.totals.webhooks_expired += 1;
  }

  counts(): DeliveryCounts {
    return { ...this.totals };
  }

  /** The kept attempts, oldest first, optionally of one webhook. */
  entries(webhookGid?: string): DeliveryAttempt[] {
    return webhookGid === undefined ? [...this.attempts] : this.attempts.filter((a) => a.webhook === webhookGid);
  }
}
