import { Logger } from '@nestjs/common';
import { Client } from 'pg';

/**
 * A dedicated connection LISTENing on one channel: the projector's NOTIFY for the relay, the
 * relay's for the Events API's long-polls and streams. Notifications are a hint to look now; every
 * waiter also polls, so a lost connection only delays, never loses.
 *
 * Each notification advances `seen`; a waiter passes the `seen` it read before its last batch, so
 * a notification that arrived while the batch ran ends the wait at once.
 */
export class OutboxNotifications {
  private readonly log = new Logger(OutboxNotifications.name);
  private client?: Client;
  private readonly waiters = new Set<() => void>();
  private generation = 0;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
  ) {}

  private starting?: Promise<void>;

  /** Connects and LISTENs; concurrent callers (waiters after a lost connection) share one attempt. */
  start(): Promise<void> {
    this.starting ??= this.connect().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('notification', () => this.wake());
    client.on('error', (error) => {
      this.log.warn({
        msg: 'notification connection lost; relying on polling until it reconnects',
        error: String(error),
      });
      if (this.client === client) this.client = undefined;
      void client.end().catch(() => undefined);
    });
    await client.connect();
    await client.query(/* sql */ `LISTEN ${client.escapeIdentifier(this.channel)}`);
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  /** How many notifications (and wakes) there have been: pass it to `wait`. */
  get seen(): number {
    return this.generation;
  }

  /**
   * Resolves on the next notification after `since`, at once if there was one, after `timeoutMs`,
   * or when `signal` aborts (a client that went away).
   */
  async wait(timeoutMs: number, since = this.generation, signal?: AbortSignal): Promise<void> {
    if (this.stopped || this.generation !== since || signal?.aborted) return;
    if (!this.client) await this.start().catch(() => undefined);
    if (this.stopped || this.generation !== since || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(finish);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.waiters.add(finish);
      signal?.addEventListener('abort', finish, { once: true });
    });
  }

  /** Ends every current wait (a notification, or shutdown). */
  wake(): void {
    this.generation++;
    for (const waiter of [...this.waiters]) waiter();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
