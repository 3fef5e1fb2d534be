import { Controller, Get, Inject, Module, type DynamicModule, type ModuleMetadata, type Type } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
  type HealthIndicatorResult,
} from '@nestjs/terminus';

/** One thing an app needs before it can do its work (its database, its Kafka consumer). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves with `null` when ready, or a short reason when not. Must not throw. */
  problem(): Promise<string | null>;
  /**
   * For a component that cannot recover by itself (a consumer kafkajs will not restart): a
   * reason when only a restart helps, so the liveness probe fails and Kubernetes restarts the pod.
   */
  fatalProblem?(): Promise<string | null>;
}

const READINESS_CHECKS = Symbol('READINESS_CHECKS');

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
  ) {}

  /** The process is alive and can recover by itself (Kubernetes restarts it otherwise). */
  @Get('live')
  @HealthCheck()
  live() {
    const fatal = this.checks.filter((check) => check.fatalProblem !== undefined);
    return this.health.check(fatal.map((check) => () => this.run(check.name, () => check.fatalProblem!())));
  }

  /** The app can do its work: every readiness check passes. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check(this.checks.map((check) => () => this.run(check.name, () => check.problem())));
  }

  private async run(name: string, probe: () => Promise<string | null>): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(name);
    const problem = await probe();
    return problem === null ? session.up() : session.down({ reason: problem });
  }
}

export interface HealthModuleOptions {
  /**
   * Every check of the app, one instance each: the health module injects them, it never makes
   * its own, so a check that is also a service (fanout's relay) reports on the running instance.
   */
  checks: Type<ReadinessCheck>[];
  /** The modules that export `checks`. */
  imports: ModuleMetadata['imports'];
}

/**
 * `GET /health/live` and `GET /health/ready` for Kubernetes probes, built on @nestjs/terminus.
 * The checks are collected into one list when the app starts (`READINESS_CHECKS`); the pipeline
 * bootstrap passes the checks of what it wires (database, producer, consumer) plus the app's own.
 */
@Module({})
export class HealthModule {
  static register({ checks, imports = [] }: HealthModuleOptions): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false }), ...imports],
      controllers: [HealthController],
      providers: [{ provide: READINESS_CHECKS, useFactory: (...found: ReadinessCheck[]) => found, inject: checks }],
    };
  }
}
