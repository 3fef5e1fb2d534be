import { signAsanaBody, type AsanaEvent } from '@asana-stream/asana';
import { Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Clock } from '../clock';
import type { RecordedEvent } from '../workspace/workspace.records';
import type { WorkspaceService } from '../workspace/workspace.service';
import { retryDelayMs } from './backoff';
import type { DeliveryLog } from './delivery-log';
import { eventsSeenBy } from './webhook-filters';
import type { WebhookTransport } from './webhook-transport';
import type { WebhookRecord, WebhookStore } from './webhook.store';

export interface DeliverySettings {
  /** Events wait this long for more to share their delivery. */
  batchDelayMs: number;
  maxEventsPerDelivery: number;
  receiverTimeoutMs: number;
  heartbeatIntervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Failing without a success for this long deletes the webhook. */
  retryWindowMs: number;
}

/** One webhook's outgoing side. */
interface Outbox {
  /** Events waiting out the batching window. */
  pending: AsanaEvent[];
  batchTimer?: NodeJS.Timeout;
  /** Deliveries ready to go, oldest first; an empty one is a heartbeat. */
  ready: AsanaEvent[][];
  /** Attempts made at `ready[0]`. */
  attempts: number;
  /** An attempt is in flight or waiting for its retry: nothing else is sent meanwhile. */
  busy: boolean;
  retryTimer?: NodeJS.Timeout;
  heartbeatTimer?: NodeJS.Timeout;
  heartbeatDue: boolean;
}

const OK_STATUSES = new Set([200, 204]);

/**
 * Sends each webhook its events as Asana does: batched for a short window, signed with the
 * webhook's secret, one delivery in flight per webhook and in order, failures retried with
 * exponential backoff until the retry window runs out and the webhook is deleted, plus a
 * heartbeat `{"events":[]}` after creation and then on an interval.
 */
export class WebhookDeliveryService implements OnModuleDestroy {
  private readonly logger = new Logger(WebhookDeliveryService.name);
  private readonly outboxes = new Map<string, Outbox>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: WebhookStore,
    private readonly transport: WebhookTransport,
    private readonly log: DeliveryLog,
    private readonly clock: Clock,
    private readonly settings: DeliverySettings,
    workspace: WorkspaceService,
  ) {
    this.unsubscribe = workspace.onEvents((events) => this.route(events));
  }

  /** Starts delivering to a webhook that just passed its handshake: its heartbeat goes first, shortly. */
  start(webhook: WebhookRecord): void {
    const outbox: Outbox = { pending: [], ready: [], attempts: 0, busy: false, heartbeatDue: true };
    this.outboxes.set(webhook.gid, outbox);
    // After the batching window, so the receiver has the 201 (and the secret) before the heartbeat.
    outbox.batchTimer = setTimeout(() => this.flush(webhook.gid), this.settings.batchDelayMs);
    outbox.heartbeatTimer = setInterval(() => this.heartbeat(webhook.gid), this.settings.heartbeatIntervalMs);
  }

  /** Stops everything for a webhook; events not yet delivered are dropped, as Asana drops them. */
  stop(gid: string): void {
    const outbox = this.outboxes.get(gid);
    if (!outbox) return;
    clearTimeout(outbox.batchTimer);
    clearTimeout(outbox.retryTimer);
    clearInterval(outbox.heartbeatTimer);
    this.outboxes.delete(gid);
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    for (const gid of [...this.outboxes.keys()]) this.stop(gid);
  }

  private route(events: readonly RecordedEvent[]): void {
    for (const webhook of this.store.all()) {
      const outbox = this.outboxes.get(webhook.gid);
      if (!outbox) continue;
      const matching = eventsSeenBy(events, webhook.resourceGid, webhook.filters);
      if (matching.length === 0) continue;
      outbox.pending.push(...matching);
      outbox.batchTimer ??= setTimeout(() => this.flush(webhook.gid), this.settings.batchDelayMs);
    }
  }

  private flush(gid: string): void {
    const outbox = this.outboxes.get(gid);
    if (!outbox) return;
    outbox.batchTimer = undefined;
    if (outbox.heartbeatDue) outbox.ready.push([]);
    outbox.heartbeatDue = false;
    const { pending } = outbox;
    outbox.pending = [];
    for (let i = 0; i < pending.length; i += this.settings.maxEventsPerDelivery) {
      outbox.ready.push(pending.slice(i, i + this.settings.maxEventsPerDelivery));
    }
    this.pump(gid);
  }

  /** Queues a heartbeat unless one is already waiting, so a failing target does not pile them up. */
  private heartbeat(gid: string): void {
    const outbox = this.outboxes.get(gid);
    if (!outbox || outbox.ready.some((events) => events.length === 0)) return;
    outbox.ready.push([]);
    this.pump(gid);
  }

  private pump(gid: string): void {
    const outbox = this.outboxes.get(gid);
    if (!outbox || outbox.busy || outbox.ready.length === 0) return;
    outbox.busy = true;
    void this.attempt(gid);
  }

  private async attempt(gid: string): Promise<void> {
    const webhook = this.store.get(gid);
    const outbox = this.outboxes.get(gid);
    if (!webhook || !outbox) return;
    const events = outbox.ready[0];
    outbox.attempts += 1;
    const body = Buffer.from(JSON.stringify({ events }));
    let httpStatus: number | null = null;
    let failure: string | null = null;
    try {
      const answer = await this.transport.post({
        url: webhook.target,
        headers: { 'Content-Type': 'application/json', 'X-Hook-Signature': signAsanaBody(webhook.secret, body) },
        body,
        timeoutMs: this.settings.receiverTimeoutMs,
      });
      httpStatus = answer.status;
      if (!OK_STATUSES.has(answer.status)) failure = answer.body;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    // Deleted (or restarted) while the request was out: its outcome no longer matters.
    if (this.store.get(gid) !== webhook || this.outboxes.get(gid) !== outbox) return;
    const now = this.clock.now();
    this.log.record({
      webhook: gid,
      target: webhook.target,
      events: events.length,
      attempt: outbox.attempts,
      status: failure === null ? 'delivered' : 'failed',
      http_status: httpStatus,
      error: failure,
      at: new Date(now).toISOString(),
    });
    if (failure === null) {
      this.succeeded(webhook, outbox, now);
    } else {
      this.failed(webhook, outbox, now, failure);
    }
  }

  private succeeded(webhook: WebhookRecord, outbox: Outbox, now: number): void {
    webhook.lastSuccessAt = now;
    webhook.deliveryRetryCount = 0;
    webhook.nextAttemptAfter = null;
    webhook.failureDeletionTimestamp = null;
    outbox.ready.shift();
    outbox.attempts = 0;
    outbox.busy = false;
    this.pump(webhook.gid);
  }

  private failed(webhook: WebhookRecord, outbox: Outbox, now: number, content: string): void {
    webhook.lastFailureAt = now;
    webhook.lastFailureContent = content;
    webhook.failureDeletionTimestamp ??= now + this.settings.retryWindowMs;
    if (now >= webhook.failureDeletionTimestamp) {
      this.logger.warn({ message: 'webhook deleted after failing for the whole retry window', gid: webhook.gid });
      this.log.recordExpiry();
      this.store.remove(webhook.gid);
      this.stop(webhook.gid);
      return;
    }
    webhook.deliveryRetryCount += 1;
    const delay = retryDelayMs(webhook.deliveryRetryCount, this.settings.retryBaseMs, this.settings.retryMaxMs);
    // The last retry lands on the deletion deadline, so a receiver back just in time still counts.
    const retryAt = Math.min(now + delay, webhook.failureDeletionTimestamp);
    webhook.nextAttemptAfter = retryAt;
    outbox.retryTimer = setTimeout(
      () => {
        outbox.retryTimer = undefined;
        void this.attempt(webhook.gid);
      },
      Math.max(0, retryAt - now),
    );
  }
}
