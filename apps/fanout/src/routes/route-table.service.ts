import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { routeFilterProblems, type Route } from '@asana-stream/contracts';
import { listRoutes, ROUTES_CHANNEL } from '@asana-stream/db';
import { PgNotifications, type NotificationChannel } from '../notifications/pg-notifications';

/** How often the routes are read again even without a NOTIFY (a lost connection only delays a change this long). */
export const ROUTES_RELOAD_MS = 5000;

/**
 * The routes teams declared (`asana-stream routes apply`), as this process applies them: read from
 * `routes` at startup, again on every NOTIFY on `asana_stream_routes` (the cli sends one when it
 * commits a change) and every `ROUTES_RELOAD_MS`, so a change takes effect within seconds without
 * a restart. A failed read keeps the last routes read (one warning per failure streak).
 *
 * The relay publishes nothing before the first read succeeded (`snapshot()` throws until then): a
 * relay that published without the routes would leave them gaps no one sees.
 */
@Injectable()
export class RouteTable implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(RouteTable.name);
  private readonly notifications: NotificationChannel;
  private readonly stopping = new AbortController();
  private routes: readonly Route[] | null = null;
  private byName = new Map<string, Route>();
  private loop?: Promise<void>;
  private failing = false;
  /** Bad filters already reported, so a route stored wrong is logged once, not every reload. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly dataSource: DataSource,
    listener: PgNotifications,
  ) {
    this.notifications = listener.channel(ROUTES_CHANNEL);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.notifications.start().catch(() => undefined); // waits connect again; polling covers meanwhile
    await this.reload();
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** Whether the routes were read at least once. */
  get loaded(): boolean {
    return this.routes !== null;
  }

  /** The routes as last read; throws until the first read succeeded. */
  snapshot(): readonly Route[] {
    if (this.routes === null) throw new Error('the routes have not been read yet (Postgres did not answer)');
    return this.routes;
  }

  /** A route by name as last read, or undefined. */
  get(name: string): Route | undefined {
    this.snapshot();
    return this.byName.get(name);
  }

  /** Reads the routes now; returns whether it succeeded. */
  async reload(): Promise<boolean> {
    try {
      const stored = await listRoutes(this.dataSource);
      const usable: Route[] = [];
      for (const route of stored) {
        const problems = routeFilterProblems(route.filter);
        if (problems.length === 0) {
          usable.push({ name: route.name, filter: route.filter });
          continue;
        }
        const key = `${route.name}:${JSON.stringify(route.filter)}`;
        if (!this.reported.has(key)) {
          this.reported.add(key);
          this.log.error({ msg: 'route left out: its stored filter is invalid', route: route.name, problems });
        }
      }
      const before = this.routes;
      this.routes = usable;
      this.byName = new Map(usable.map((r) => [r.name, r]));
      if (before !== null && JSON.stringify(before) !== JSON.stringify(usable)) {
        this.log.log({ msg: 'routes reloaded', routes: usable.map((r) => r.name) });
      }
      this.failing = false;
      return true;
    } catch (error) {
      if (!this.failing) {
        this.log.warn({ msg: 'routes could not be read; keeping the last ones read', error: String(error) });
      }
      this.failing = true;
      return false;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const seen = this.notifications.seen;
      await this.notifications.wait(ROUTES_RELOAD_MS, seen, this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      const ok = await this.reload();
      if (!ok) await sleep(1000, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }
}
