import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { Client } from 'pg';

/** How the listening connection shows in `pg_stat_activity`. */
export const NOTIFICATIONS_APPLICATION_NAME = 'asana-stream-fanout-notifications';

/**
 * One channel's wake-ups: the projector's NOTIFY for the relay, the relay's for the Events API's
 * long-polls and streams, the cli's for the route table. Notifications are a hint to look now;
 * every waiter also polls, so a lost connection only delays, never loses.
 *
 * Each notification advances `seen`; a waiter passes the `seen` it read before its last batch, so
 * a notification that arrived while the batch ran ends the wait at once.
 */
export class NotificationChannel {
  private readonly waiters = new Set<() => void>();
  private generation = 0;

  constructor(
    readonly name: string,
    private readonly listener: PgNotifications,
  ) {}

  /** Connects the process' listener (if it is not yet) and LISTENs on this channel. */
  start(): Promise<void> {
    return this.listener.start();
  }

  /** How many notifications (and wakes) there have been: pass it to `wait`. */
  get seen(): number {
    return this.generation;
  }

  /**
   * Resolves on the next notification after `since`, at once if there was one, after `timeoutMs`,
   * when `signal` aborts (a client that went away, a service stopping), or when the listener stops.
   */
  async wait(timeoutMs: number, since = this.generation, signal?: AbortSignal): Promise<void> {
    if (this.listener.stopped || this.generation !== since || signal?.aborted) return;
    if (!this.listener.listensTo(this.name)) await this.listener.start().catch(() => undefined);
    if (this.listener.stopped || this.generation !== since || signal?.aborted) return;
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
}

/**
 * The process' one LISTEN connection, shared by every channel it waits on: a fanout pod holds one
 * connection for its wake-ups, whatever it listens for. A lost connection is dropped (one warning);
 * the next wait connects again and LISTENs on every channel asked for so far. `stop` ends every
 * wait and the connection, for good (at shutdown: `onModuleDestroy`).
 */
export class PgNotifications implements OnModuleDestroy {
  private readonly log = new Logger(PgNotifications.name);
  private readonly channels = new Map<string, NotificationChannel>();
  private client?: Client;
  /** The channels the current connection LISTENs on. */
  private listening = new Set<string>();
  private starting?: Promise<void>;
  private isStopped = false;

  constructor(private readonly databaseUrl: string) {}

  /** The channel `name`, made on first use; LISTENed on from the next `start` (or wait). */
  channel(name: string): NotificationChannel {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = new NotificationChannel(name, this);
      this.channels.set(name, channel);
    }
    return channel;
  }

  /** Whether a connection is LISTENing on `name` now. */
  listensTo(name: string): boolean {
    return this.client !== undefined && this.listening.has(name);
  }

  get stopped(): boolean {
    return this.isStopped;
  }

  /**
   * Connects (if not connected) and LISTENs on every channel asked for so far; concurrent callers
   * share one attempt. Resolves once a notification sent from then on reaches every channel.
   */
  start(): Promise<void> {
    if (this.isStopped) return Promise.resolve();
    this.starting ??= this.listenOnEveryChannel().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async listenOnEveryChannel(): Promise<void> {
    const client = this.client ?? (await this.connect());
    if (!client) return;
    for (const name of this.channels.keys()) {
      if (this.listening.has(name)) continue;
      await client.query(/* sql */ `LISTEN ${client.escapeIdentifier(name)}`);
      if (this.client === client) this.listening.add(name);
    }
  }

  /** A new connection, now the current one; undefined when stopped meanwhile. */
  private async connect(): Promise<Client | undefined> {
    const client = new Client({ connectionString: this.databaseUrl, application_name: NOTIFICATIONS_APPLICATION_NAME });
    client.on('notification', (message) => this.channels.get(message.channel)?.wake());
    client.on('error', (error) => {
      this.log.warn({
        msg: 'notification connection lost; relying on polling until it reconnects',
        error: String(error),
      });
      this.drop(client);
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.isStopped) {
      await client.end().catch(() => undefined);
      return undefined;
    }
    this.client = client;
    this.listening = new Set();
    return client;
  }

  /** Forgets a lost connection: the next wait makes a new one. */
  private drop(client: Client): void {
    if (this.client === client) this.client = undefined;
    void client.end().catch(() => undefined);
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  /** Ends every wait on every channel and closes the connection; later waits return at once. */
  async stop(): Promise<void> {
    this.isStopped = true;
    for (const channel of this.channels.values()) channel.wake();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
