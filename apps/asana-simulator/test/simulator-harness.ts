import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { CLOCK, type Clock } from '../src/clock';
import { configureSimulatorApp } from '../src/simulator.app';
import { loadSimulatorConfig, type SimulatorConfig } from '../src/simulator.config';
import { SimulatorModule } from '../src/simulator.module';
import { WorkspaceService } from '../src/workspace/workspace.service';

export const TEST_TOKEN = 'test-token';

/** Fast settings for tests: no waiting for the 8-hour heartbeat or minute-long retries. */
export const FAST_ENV = {
  SIM_TOKEN: TEST_TOKEN,
  SIM_DELIVERY_DELAY_MS: '20',
  SIM_RECEIVER_TIMEOUT_MS: '1000',
  SIM_RETRY_BASE_MS: '20',
  SIM_RETRY_MAX_MS: '100',
};

export interface RunningSimulator {
  app: NestExpressApplication;
  config: SimulatorConfig;
  baseUrl: string;
  workspace: WorkspaceService;
  /** supertest against the running server, with the bearer token set. */
  get(path: string): request.Test;
  post(path: string, body?: object): request.Test;
  put(path: string, body?: object): request.Test;
  delete(path: string): request.Test;
  close(): Promise<void>;
}

/** A clock a test moves by hand, e.g. a day ahead in one step. */
export class ManualClock implements Clock {
  constructor(public time = Date.parse('2026-01-05T10:00:00.000Z')) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

export interface SimulatorOptions {
  /** Replaces the system clock (`CLOCK`) everywhere in the simulator. */
  clock?: Clock;
}

/** Boots the simulator as main.ts does (same module and app setup) on 127.0.0.1 and a random port. */
export async function startSimulator(
  env: Record<string, string> = {},
  options: SimulatorOptions = {},
): Promise<RunningSimulator> {
  const config = loadSimulatorConfig({ ...FAST_ENV, ...env });
  const builder = Test.createTestingModule({ imports: [SimulatorModule.forRoot(config)] });
  if (options.clock) builder.overrideProvider(CLOCK).useValue(options.clock);
  const moduleRef = await builder.compile();
  const app = configureSimulatorApp(
    moduleRef.createNestApplication<NestExpressApplication>({ logger: ['error'], bodyParser: false }),
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const auth = (test: request.Test) => test.set('Authorization', `Bearer ${TEST_TOKEN}`);
  return {
    app,
    config,
    baseUrl,
    workspace: app.get(WorkspaceService),
    get: (path) => auth(request(baseUrl).get(path)),
    post: (path, body) => auth(request(baseUrl).post(path)).send(body),
    put: (path, body) => auth(request(baseUrl).put(path)).send(body),
    delete: (path) => auth(request(baseUrl).delete(path)),
    close: () => app.close(),
  };
}
