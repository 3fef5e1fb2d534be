import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppProcess, freePort, type AppExit } from './app-process';

const REPO_ROOT = resolve(__dirname, '../../..');
const SIMULATOR_ENTRY = join(REPO_ROOT, 'dist/apps/asana-simulator/src/main.js');

/** The bearer token a simulator started by `startSimulatorProcess` accepts (unless `SIM_TOKEN` overrides it). */
export const SIMULATOR_TOKEN = 'test-token';

/** The Asana simulator running as a process, seen only through HTTP. */
export interface SimulatorProcess {
  /** `http://127.0.0.1:<port>`: the simulator-only `/_sim` endpoints live here. */
  readonly baseUrl: string;
  /** Asana's API, `${baseUrl}/api/1.0`, for an `AsanaClient` or `ASANA_BASE_URL`. */
  readonly apiUrl: string;
  readonly token: string;
  readonly logFile: string;
  /**
   * The gids of the tasks in the simulator's first project (a seeded one), in creation order, from
   * `GET /_sim/state`: unlike Asana's API it needs no token and spends none of the rate-limit budget,
   * so a test can count the API requests it makes itself.
   */
  firstProjectTaskGids(): Promise<string[]>;
  /** `POST /_sim/api-failures`: e.g. `{ count: 'forever', status: 503 }`, or one gid's `{ gid, count, status }`. */
  setApiFailures(body: Record<string, unknown>): Promise<void>;
  stop(): Promise<AppExit>;
}

interface SimulatorState {
  projects: { gid: string }[];
  tasks: { gid: string; projects: { gid: string }[] }[];
}

/**
 * Starts the Asana simulator through its production entrypoint (`dist/apps/asana-simulator/src/main.js`)
 * on a free port, so tests of other apps use it as they would use Asana: over HTTP, never by
 * importing the simulator's code (apps must not import each other; test/architecture checks it).
 * `env` adds to or overrides the simulator's settings (`SIM_RATE_LIMIT_REQUESTS`, ...).
 * Needs `npm run build` first. Logs go to `logDir` (default: a new folder under `.local/test-processes`).
 */
export async function startSimulatorProcess(
  env: Record<string, string> = {},
  logDir = join(REPO_ROOT, '.local/test-processes', `${Date.now()}-${randomBytes(3).toString('hex')}`),
): Promise<SimulatorProcess> {
  if (!existsSync(SIMULATOR_ENTRY)) {
    throw new Error(`${SIMULATOR_ENTRY} does not exist: run \`npm run build\` before tests that start the simulator`);
  }
  const settings = { SIM_TOKEN: SIMULATOR_TOKEN, ...env };
  const app = new AppProcess({ app: 'asana-simulator', port: await freePort(), logDir, env: settings });
  try {
    await app.start();
  } catch (error) {
    // A simulator that never became ready may still be running: nothing else would stop it.
    await app.stop();
    throw error;
  }
  const baseUrl = app.url;
  return {
    baseUrl,
    apiUrl: `${baseUrl}/api/1.0`,
    token: settings.SIM_TOKEN,
    logFile: app.logFile,
    async firstProjectTaskGids() {
      const response = await fetch(`${baseUrl}/_sim/state`);
      if (!response.ok) throw new Error(`GET /_sim/state → ${response.status}; see ${app.logFile}`);
      const { data } = (await response.json()) as { data: SimulatorState };
      const [project] = data.projects;
      if (!project) throw new Error('the simulator has no project');
      return data.tasks.filter((task) => task.projects.some(({ gid }) => gid === project.gid)).map((task) => task.gid);
    },
    async setApiFailures(body) {
      const response = await fetch(`${baseUrl}/_sim/api-failures`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`POST /_sim/api-failures → ${response.status}; see ${app.logFile}`);
    },
    stop: () => app.stop(),
  };
}
