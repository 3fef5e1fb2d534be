import type { LoggerService } from '@nestjs/common';
import type { AsanaStreamError } from '@asana-stream/errors';

export type ConsumerStatus = 'starting' | 'running' | 'restarting' | 'crashed' | 'stopped';

export interface ConsumerHealthOptions {
  /** No answer from the broker (fetch, heartbeat, join, commit) for this long: not ready. */
  contactTimeoutMs: number;
  /** A halted consumer logs its error line at most this often. */
  haltLogIntervalMs: number;
  now?: () => number;
}

/**
 * What the readiness and liveness probes learn about one consumer: whether kafkajs runs it, when
 * the broker last answered, and whether messages are halted waiting for someone to act.
 */
export class ConsumerHealth {
  private currentStatus: ConsumerStatus = 'starting';
  private statusReason: string | null = null;
  private lastContactAt = 0;
  private readonly halts = new Map<object, string>();
  private lastHaltLogAt = -Infinity;
  private readonly now: () => number;

  constructor(
    private readonly options: ConsumerHealthOptions,
    private readonly log: LoggerService,
  ) {
    this.now = options.now ?? Date.now;
  }

  get status(): ConsumerStatus {
    return this.currentStatus;
  }

  /** How many messages (or batches) are halted right now. */
  get haltedCount(): number {
    return this.halts.size;
  }

  /** The reasons messages are halted right now, one per halted message. */
  get haltReasons(): string[] {
    return [...new Set(this.halts.values())];
  }

  setStatus(status: ConsumerStatus, reason: string | null = null): void {
    this.currentStatus = status;
    this.statusReason = reason;
  }

  /** The broker answered: a fetch, a heartbeat, a group join or a commit. */
  contact(): void {
    this.lastContactAt = this.now();
  }

  /**
   * `subject` (one message or batch) cannot proceed until someone acts. The consumer is unready
   * while any subject is halted; the error line is written at most once per `haltLogIntervalMs`.
   */
  halt(subject: object, error: AsanaStreamError, fields: Record<string, unknown>): void {
    const reason = `${error.code}: ${error.message}`;
    this.halts.set(subject, reason);
    const now = this.now();
    if (now - this.lastHaltLogAt < this.options.haltLogIntervalMs) return;
    this.lastHaltLogAt = now;
    this.log.error({
      msg: 'consumer halted: messages wait, uncommitted, until the cause is fixed',
      ...fields,
      halted: this.halts.size,
      error: error.toJSON(),
    });
  }

  /** `subject` is no longer halted (it succeeded, was dead-lettered, or was given up at shutdown). */
  resume(subject: object): boolean {
    return this.halts.delete(subject) && this.halts.size === 0;
  }

  /** Null when ready; else why not. */
  readinessProblem(): string | null {
    if (this.currentStatus !== 'running') {
      return `the Kafka consumer is ${this.currentStatus}${this.statusReason ? ` (${this.statusReason})` : ''}`;
    }
    const reasons = this.haltReasons;
    if (reasons.length > 0) return `the Kafka consumer is halted: ${reasons.slice(0, 3).join('; ')}`;
    const silentMs = this.now() - this.lastContactAt;
    if (silentMs > this.options.contactTimeoutMs) {
      return `the Kafka broker has not answered the consumer for ${Math.round(silentMs / 1000)} s`;
    }
    return null;
  }

  /** kafkajs gave up restarting the consumer (kafkajs#1299, #1721): only a new process helps. */
  fatalProblem(): string | null {
    return this.currentStatus === 'crashed'
      ? `the Kafka consumer crashed and will not restart${this.statusReason ? ` (${this.statusReason})` : ''}`
      : null;
  }
}
