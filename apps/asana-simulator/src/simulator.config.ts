import { HttpEnv, LogEnv, Sensitive, loadConfig, type ConfigOf } from '@asana-stream/config';
import { Type } from 'class-transformer';
import { IsInt, IsNumber, IsString, Matches, Max, Min } from 'class-validator';

const HOUR_MS = 60 * 60 * 1000;

/** The simulator listens on 4010 so it can run beside the apps (3000 and up) on one machine. */
export class SimulatorHttpEnv extends HttpEnv {
  override PORT = 4010;
}

export class SimulatorEnv {
  /** The bearer token the simulated API accepts (Asana's personal access token). */
  @IsString()
  @Matches(/^\S+$/, { message: 'must be a non-empty token without spaces' })
  @Sensitive()
  SIM_TOKEN = 'sim-token';

  /** How long events wait for more events to share a delivery with (per webhook). */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  SIM_DELIVERY_DELAY_MS = 100;

  /** Most events in one delivery; Asana documents no limit, so this is a guess. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  SIM_MAX_EVENTS_PER_DELIVERY = 100;

  /** A handshake or delivery fails when the receiver has not answered within this (Asana: 10 s). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  SIM_RECEIVER_TIMEOUT_MS = 10_000;

  /** Interval between heartbeats (`{"events":[]}`); Asana sends one every 8 hours. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  SIM_HEARTBEAT_INTERVAL_MS = 8 * HOUR_MS;

  /** First retry delay after a failed delivery; each further failure doubles it up to the max. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  SIM_RETRY_BASE_MS = 60_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  SIM_RETRY_MAX_MS = HOUR_MS;

  /** A webhook that has failed for this long without a success is deleted (Asana: 24 hours). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  SIM_RETRY_WINDOW_MS = 24 * HOUR_MS;

  /** Users in the seeded workspace (the first one owns the token). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  SIM_SEED_USERS = 3;

  /** Tasks in each of the two seeded projects. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10_000)
  SIM_SEED_TASKS_PER_PROJECT = 5;

  /**
   * Requests the token may make per rate-limit window before it gets 429s (Asana: 150 a minute
   * on free domains, 1,500 on paid); 0 turns the limit off.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  SIM_RATE_LIMIT_REQUESTS = 1500;

  /** Length of a rate-limit window (Asana: a minute); shorter windows are for tests. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  SIM_RATE_LIMIT_WINDOW_SECONDS = 60;

  /** GETs the token may have in flight at once (Asana: 50). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  SIM_MAX_CONCURRENT_READS = 50;

  /** Other requests the token may have in flight at once (Asana: 15). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  SIM_MAX_CONCURRENT_WRITES = 15;

  /** Share of deliveries answered as delivered but never sent (Asana delivers at most once). */
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(1)
  SIM_FAULT_DROP_RATE = 0;

  /** Share of deliveries sent a second time, same bytes and signature, shortly after. */
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(1)
  SIM_FAULT_DUPLICATE_RATE = 0;

  /** Share of deliveries held back and sent after the next one to the same target. */
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(1)
  SIM_FAULT_REORDER_RATE = 0;

  /** Seed of the random traffic generator, so a demo run can be repeated. */
  @Type(() => Number)
  @IsInt()
  SIM_RANDOM_SEED = 1;
}

export const SIMULATOR_CONFIG_PARTS = { log: LogEnv, http: SimulatorHttpEnv, sim: SimulatorEnv } as const;

export type SimulatorConfig = ConfigOf<typeof SIMULATOR_CONFIG_PARTS>;

/** Validates the simulator's environment; throws a ConfigError naming every bad variable. */
export function loadSimulatorConfig(env: Record<string, string | undefined>): SimulatorConfig {
  return loadConfig(SIMULATOR_CONFIG_PARTS, env);
}

/** One line per variable for `--help`; typed so that a new variable without a description fails to compile. */
export const SIMULATOR_ENV_HELP: Record<keyof LogEnv | keyof SimulatorHttpEnv | keyof SimulatorEnv, string> = {
  LOG_LEVEL: 'debug | info | warn | error',
  PORT: 'HTTP port',
  HOST: 'interface to listen on',
  SIM_TOKEN: 'bearer token accepted by /api/1.0',
  SIM_DELIVERY_DELAY_MS: 'batching window of a webhook delivery',
  SIM_MAX_EVENTS_PER_DELIVERY: 'most events in one delivery',
  SIM_RECEIVER_TIMEOUT_MS: 'handshake/delivery timeout (Asana: 10 s)',
  SIM_HEARTBEAT_INTERVAL_MS: 'heartbeat interval (Asana: 8 h)',
  SIM_RETRY_BASE_MS: 'first retry delay of a failed delivery (doubles per failure)',
  SIM_RETRY_MAX_MS: 'longest retry delay',
  SIM_RETRY_WINDOW_MS: 'a webhook failing this long is deleted (Asana: 24 h)',
  SIM_SEED_USERS: 'users in the seeded workspace',
  SIM_SEED_TASKS_PER_PROJECT: 'tasks in each of the 2 seeded projects',
  SIM_RATE_LIMIT_REQUESTS: 'requests per window before 429s (Asana: 150 free, 1500 paid; 0: off)',
  SIM_RATE_LIMIT_WINDOW_SECONDS: 'rate-limit window (Asana: 60)',
  SIM_MAX_CONCURRENT_READS: 'GETs in flight before 429s (Asana: 50)',
  SIM_MAX_CONCURRENT_WRITES: 'writes in flight before 429s (Asana: 15)',
  SIM_FAULT_DROP_RATE: 'share of deliveries lost (answered as delivered, never sent)',
  SIM_FAULT_DUPLICATE_RATE: 'share of deliveries sent twice',
  SIM_FAULT_REORDER_RATE: 'share of deliveries held back behind the next one',
  SIM_RANDOM_SEED: 'seed of the /_sim/traffic generator and of the faults',
};
