import { APP_CONFIG } from '@asana-stream/config';
import { Module, RequestMethod, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { ApiFailures } from './api/api-failures';
import { ApiRateLimits } from './api/api-rate-limits';
import { AsanaAuthMiddleware } from './api/asana-auth.middleware';
import { AsanaFailureMiddleware } from './api/asana-failure.middleware';
import { AsanaRateLimitMiddleware } from './api/asana-rate-limit.middleware';
import { AttachmentsController } from './api/attachments.controller';
import { EventsController } from './api/events.controller';
import { ProjectsController } from './api/projects.controller';
import { SectionsController } from './api/sections.controller';
import { StoriesController } from './api/stories.controller';
import { TagsController } from './api/tags.controller';
import { TasksController } from './api/tasks.controller';
import { UsersController } from './api/users.controller';
import { WebhooksController } from './api/webhooks.controller';
import { WorkspacesController } from './api/workspaces.controller';
import { CLOCK, systemClock, type Clock } from './clock';
import { AttachmentsControlController } from './control/attachments-control.controller';
import { ControlController } from './control/control.controller';
import { HealthController } from './control/health.controller';
import { EventStream } from './events/event-stream';
import { TrafficService } from './control/traffic.service';
import { GidSequence } from './gid-sequence';
import type { SimulatorConfig } from './simulator.config';
import { SeededRandom } from './control/random';
import { DeliveryLog } from './webhooks/delivery-log';
import { FaultyWebhookTransport } from './webhooks/faulty-webhook-transport';
import { WebhookDeliveryService } from './webhooks/webhook-delivery.service';
import { HttpWebhookTransport, WEBHOOK_TRANSPORT, type WebhookTransport } from './webhooks/webhook-transport';
import { WebhookPresenter } from './webhooks/webhook.presenter';
import { WebhookStore } from './webhooks/webhook.store';
import { WebhooksService } from './webhooks/webhooks.service';
import { AttachmentPresenter } from './workspace/attachment.presenter';
import { ResourcePresenter } from './workspace/resource.presenter';
import { SectionPresenter } from './workspace/section.presenter';
import { StoryPresenter } from './workspace/story.presenter';
import { TagPresenter } from './workspace/tag.presenter';
import { WorkspaceService } from './workspace/workspace.service';

/**
 * The simulator in one module. Services are plain classes built by factories from the validated
 * config, so specs can build them with `new`; tests swap `CLOCK` or `WEBHOOK_TRANSPORT` through
 * Nest's `overrideProvider`.
 */
@Module({})
export class SimulatorModule implements NestModule {
  static forRoot(config: SimulatorConfig): DynamicModule {
    const { sim } = config;
    return {
      module: SimulatorModule,
      controllers: [
        UsersController,
        WorkspacesController,
        TasksController,
        ProjectsController,
        StoriesController,
        SectionsController,
        TagsController,
        AttachmentsController,
        WebhooksController,
        EventsController,
        ControlController,
        AttachmentsControlController,
        HealthController,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: systemClock },
        { provide: ApiFailures, useFactory: () => new ApiFailures() },
        {
          provide: ApiRateLimits,
          useFactory: () =>
            new ApiRateLimits({
              requestsPerWindow: sim.SIM_RATE_LIMIT_REQUESTS,
              windowSeconds: sim.SIM_RATE_LIMIT_WINDOW_SECONDS,
              maxConcurrentReads: sim.SIM_MAX_CONCURRENT_READS,
              maxConcurrentWrites: sim.SIM_MAX_CONCURRENT_WRITES,
            }),
        },
        { provide: GidSequence, useFactory: () => new GidSequence() },
        {
          provide: WorkspaceService,
          inject: [CLOCK, GidSequence],
          useFactory: (clock: Clock, gids: GidSequence) =>
            new WorkspaceService(clock, gids, {
              users: sim.SIM_SEED_USERS,
              tasksPerProject: sim.SIM_SEED_TASKS_PER_PROJECT,
            }),
        },
        {
          provide: ResourcePresenter,
          inject: [WorkspaceService],
          useFactory: (workspace: WorkspaceService) => new ResourcePresenter(workspace),
        },
        ...[StoryPresenter, SectionPresenter, TagPresenter, AttachmentPresenter].map((Presenter) => ({
          provide: Presenter,
          inject: [WorkspaceService],
          useFactory: (workspace: WorkspaceService) => new Presenter(workspace),
        })),
        {
          provide: WebhookPresenter,
          inject: [WorkspaceService],
          useFactory: (workspace: WorkspaceService) => new WebhookPresenter(workspace),
        },
        { provide: WebhookStore, useFactory: () => new WebhookStore() },
        { provide: DeliveryLog, useFactory: () => new DeliveryLog() },
        {
          provide: FaultyWebhookTransport,
          useFactory: () =>
            new FaultyWebhookTransport(new HttpWebhookTransport(), new SeededRandom(sim.SIM_RANDOM_SEED + 1), {
              drop: sim.SIM_FAULT_DROP_RATE,
              duplicate: sim.SIM_FAULT_DUPLICATE_RATE,
              reorder: sim.SIM_FAULT_REORDER_RATE,
            }),
        },
        { provide: WEBHOOK_TRANSPORT, useExisting: FaultyWebhookTransport },
        {
          provide: WebhookDeliveryService,
          inject: [WebhookStore, WEBHOOK_TRANSPORT, DeliveryLog, CLOCK, WorkspaceService],
          useFactory: (
            store: WebhookStore,
            transport: WebhookTransport,
            log: DeliveryLog,
            clock: Clock,
            workspace: WorkspaceService,
          ) =>
            new WebhookDeliveryService(
              store,
              transport,
              log,
              clock,
              {
                batchDelayMs: sim.SIM_DELIVERY_DELAY_MS,
                maxEventsPerDelivery: sim.SIM_MAX_EVENTS_PER_DELIVERY,
                receiverTimeoutMs: sim.SIM_RECEIVER_TIMEOUT_MS,
                heartbeatIntervalMs: sim.SIM_HEARTBEAT_INTERVAL_MS,
                retryBaseMs: sim.SIM_RETRY_BASE_MS,
                retryMaxMs: sim.SIM_RETRY_MAX_MS,
                retryWindowMs: sim.SIM_RETRY_WINDOW_MS,
              },
              workspace,
            ),
        },
        {
          provide: WebhooksService,
          inject: [WebhookStore, WebhookDeliveryService, WEBHOOK_TRANSPORT, WorkspaceService, GidSequence, CLOCK],
          useFactory: (
            store: WebhookStore,
            deliveries: WebhookDeliveryService,
            transport: WebhookTransport,
            workspace: WorkspaceService,
            gids: GidSequence,
            clock: Clock,
          ) => new WebhooksService(store, deliveries, transport, workspace, gids, clock, sim.SIM_RECEIVER_TIMEOUT_MS),
        },
        {
          provide: EventStream,
          inject: [WorkspaceService, CLOCK],
          useFactory: (workspace: WorkspaceService, clock: Clock) => new EventStream(workspace, clock),
        },
        {
          provide: TrafficService,
          inject: [WorkspaceService, CLOCK],
          useFactory: (workspace: WorkspaceService, clock: Clock) =>
            new TrafficService(workspace, clock, sim.SIM_RANDOM_SEED),
        },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(AsanaAuthMiddleware, AsanaRateLimitMiddleware, AsanaFailureMiddleware)
      .forRoutes({ path: 'api/1.0/*path', method: RequestMethod.ALL });
  }
}
