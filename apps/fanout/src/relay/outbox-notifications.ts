import { Logger } from '@nestjs/common';
import { Client } from 'pg';

/**
 * A dedicated connection LISTENing for the projector's NOTIFY. Notifications are a hint to
 * relay now; the relay also polls, so a lost connection only delays, never loses.
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

  async start(): Promise<void> {
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

  /** Resolves on the next notification after `since`, at once if there was one, or after `timeoutMs`. */
  async wait(timeoutMs: number, since = this.generation): Promise<void> {
    if (this.stopped || this.generation !== since) return;
    if (!this.client) await this.start().catch(() => undefined);
    if (this.stopped || this.generation !== since) return;
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.waiters.add(finish);
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
