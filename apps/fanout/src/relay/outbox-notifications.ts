import { Logger } from '@nestjs/common';
import { Client } from 'pg';

/**
 * A dedicated connection LISTENing for the projector's NOTIFY. Notifications are a hint to
 * relay now; the relay also polls, so a lost connection only delays, never loses.
 */
export class OutboxNotifications {
  private readonly log = new Logger(OutboxNotifications.name);
  private client?: Client;
  private waiter?: () => void;
  private pending = false;

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
      this.client = undefined;
    });
    await client.connect();
    await client.query(/* sql */ `LISTEN ${client.escapeIdentifier(this.channel)}`);
    this.client = client;
  }

  /** Resolves on the next notification, or after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return;
    }
    if (!this.client) await this.start().catch(() => undefined);
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.waiter = finish;
    });
    this.pending = false;
  }

  /** Ends a current wait (shutdown, or a notification). */
  wake(): void {
    if (this.waiter) this.waiter();
    else this.pending = true;
  }

  async stop(): Promise<void> {
    this.wake();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
