import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiFailures, INJECTABLE_STATUSES, type InjectableStatus } from '../api/api-failures';
import { ApiRateLimits } from '../api/api-rate-limits';
import { EventStream } from '../events/event-stream';
import { invalidRequest, unknownObject } from '../simulator.errors';
import { DeliveryLog } from '../webhooks/delivery-log';
import { FaultyWebhookTransport, type WebhookFaultRates } from '../webhooks/faulty-webhook-transport';
import { WebhookPresenter } from '../webhooks/webhook.presenter';
import { WebhookStore } from '../webhooks/webhook.store';
import { ResourcePresenter } from '../workspace/resource.presenter';
import { WorkspaceService } from '../workspace/workspace.service';
import { TrafficService } from './traffic.service';

/**
 * Simulator-only endpoints for tests and the demo, outside Asana's API and without auth: what
 * Asana can do but its API cannot (undelete from the trash), the whole state to compare a copy
 * against, what was delivered, and generated traffic.
 */
@Controller('_sim')
export class ControlController {
  constructor(
    private readonly workspace: WorkspaceService,
    private readonly presenter: ResourcePresenter,
    private readonly webhooks: WebhookStore,
    private readonly webhookPresenter: WebhookPresenter,
    private readonly deliveries: DeliveryLog,
    private readonly traffic: TrafficService,
    private readonly rateLimits: ApiRateLimits,
    private readonly faults: FaultyWebhookTransport,
    private readonly failures: ApiFailures,
    private readonly eventStream: EventStream,
  ) {}

  /** Restores a trashed task, as Asana's trash does, recording an `undeleted` event. */
  @Post('tasks/:task_gid/undelete')
  @HttpCode(200)
  undeleteTask(@Param('task_gid') gid: string) {
    return { data: this.presenter.task(this.workspace.undeleteTask(gid, this.workspace.me().gid)) };
  }

  @Post('projects/:project_gid/undelete')
  @HttpCode(200)
  undeleteProject(@Param('project_gid') gid: string) {
    return { data: this.presenter.project(this.workspace.undeleteProject(gid, this.workspace.me().gid)) };
  }

  /** Every project and task, trashed ones included with `deleted: true`, rendered as GET would render them. */
  @Get('state')
  state() {
    return {
      data: {
        workspace: this.presenter.workspace(),
        users: this.workspace.allUsers().map((user) => this.presenter.user(user)),
        projects: this.workspace
          .allProjects()
          .map((project) => ({ ...this.presenter.project(project), deleted: project.deleted })),
        tasks: this.workspace.allTasks().map((task) => ({ ...this.presenter.task(task), deleted: task.deleted })),
        webhooks: this.webhooks.all().map((webhook) => this.webhookPresenter.full(webhook)),
      },
    };
  }

  /**
   * A webhook's secret, as Asana's 201 handed it to the webhook's creator: for tests that look for
   * it where it must never appear (logs, spans), however the creator stores it.
   */
  @Get('webhooks/:webhook_gid/secret')
  webhookSecret(@Param('webhook_gid') gid: string) {
    const webhook = this.webhooks.get(gid);
    if (!webhook) throw unknownObject(gid);
    return { data: { secret: webhook.secret } };
  }

  /** Delivery counts and the latest attempts (`?webhook=GID` for one webhook's). */
  @Get('deliveries')
  deliveryLog(@Query('webhook') webhook?: string) {
    return { data: { counts: this.deliveries.counts(), log: this.deliveries.entries(webhook) } };
  }

  /** The API's rate limits and how many requests they admitted and refused. */
  @Get('rate-limits')
  rateLimitStats() {
    return { data: this.rateLimits.stats() };
  }

  /**
   * The most reads and writes one token had in flight at once since the simulator started,
   * counting refused arrivals too (so a client past the cap shows above it).
   */
  @Get('rate-limits/in-flight')
  inFlightPeaks() {
    return { data: this.rateLimits.inFlightPeaks() };
  }

  /**
   * Makes the next `count` API requests fail with `status` (default 503), or with `gid` only
   * those whose path names that gid. `count` is 0 to 10000 (0 cancels) or "forever".
   */
  @Post('api-failures')
  @HttpCode(200)
  failNextRequests(@Body() body: { count?: unknown; status?: unknown; gid?: unknown } | undefined) {
    const count = body?.count;
    const status = body?.status ?? 503;
    const gid = body?.gid;
    if (count !== 'forever' && (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 10_000)) {
      throw invalidRequest('count: must be an integer from 0 to 10000, or "forever"');
    }
    if (!(INJECTABLE_STATUSES as readonly unknown[]).includes(status)) {
      throw invalidRequest(`status: must be one of ${INJECTABLE_STATUSES.join(', ')}`);
    }
    if (gid !== undefined && (typeof gid !== 'string' || !/^\d+$/.test(gid))) {
      throw invalidRequest('gid: must be a string of digits');
    }
    this.failures.failNext(count, status as InjectableStatus, gid);
    return { data: this.failures.stats() };
  }

  @Get('api-failures')
  apiFailures() {
    return { data: this.failures.stats() };
  }

  /** Expires every Events API sync token handed out so far: each one's next call answers 412. */
  @Post('events/expire-sync-tokens')
  @HttpCode(200)
  expireSyncTokens() {
    this.eventStream.expireAllTokens();
    return { data: {} };
  }

  /** The webhook fault rates in force and how many deliveries each fault struck. */
  @Get('faults')
  faultStats() {
    return { data: this.faults.stats() };
  }

  /** Sets the fault rates (`{"drop", "duplicate", "reorder"}`, each 0 to 1; missing ones become 0). */
  @Put('faults')
  setFaults(@Body() body: Partial<Record<keyof WebhookFaultRates, unknown>> | undefined) {
    const given = body ?? {};
    const rate = (name: keyof WebhookFaultRates): number => {
      const value = given[name] ?? 0;
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw invalidRequest(`${name}: must be a number from 0 to 1`);
      }
      return value;
    };
    this.faults.setRates({ drop: rate('drop'), duplicate: rate('duplicate'), reorder: rate('reorder') });
    return { data: this.faults.stats() };
  }

  /** Starts `changes` random changes (tasks, comments, sections) at `ratePerSecond`; answers at once with the run to poll. */
  @Post('traffic')
  @HttpCode(202)
  startTraffic(@Body() body: { changes?: unknown; ratePerSecond?: unknown } | undefined) {
    return { data: this.traffic.start(body?.changes, body?.ratePerSecond) };
  }

  @Get('traffic')
  trafficRuns() {
    return { data: this.traffic.list() };
  }

  @Get('traffic/:run_id')
  trafficRun(@Param('run_id') id: string) {
    return { data: this.traffic.get(id) };
  }
}
