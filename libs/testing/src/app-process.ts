import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { TEST_WEBHOOK_SECRET_KEYS } from './test-webhook-secrets';
import { waitFor } from './wait-for';

const REPO_ROOT = resolve(__dirname, '../../..');

/** A port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

export interface AppProcessOptions {
  /** Folder under dist/apps, e.g. `ingest`. */
  app: string;
  /** The app's environment, on top of PATH and TEST_WEBHOOK_SECRET_KEYS (which it may override). */
  env: Record<string, string>;
  /** Where stdout/stderr go, one file per app. */
  logDir: string;
  port: number;
}

/**
 * One app run as a real process through its production entrypoint (`node dist/apps/<app>/src/main.js`),
 * the way it is deployed: telemetry, config validation and shutdown all take their real paths.
 * `npm run build` must have run first.
 */
export class AppProcess {
  private child?: ChildProcess;
  private exited?: Promise<AppExit>;
  readonly logFile: string;

  constructor(private readonly options: AppProcessOptions) {
    mkdirSync(options.logDir, { recursive: true });
    this.logFile = join(options.logDir, `${options.app}.log`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  async start(timeoutMs = 60_000): Promise<this> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const entry = join(REPO_ROOT, 'dist/apps', this.options.app, 'src/main.js');
    const child = spawn(process.execPath, [entry], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS,
        ...this.options.env,
        PORT: String(this.options.port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal, forced: false })));
    let exitCode: number | null | undefined;
    void this.exited.then(({ code }) => (exitCode = code));
    try {
      await waitFor(
        `${this.options.app} to be ready (log: ${this.logFile})`,
        async () => {
          if (exitCode !== undefined)
            throw new Error(`${this.options.app} exited with ${exitCode}; see ${this.logFile}`);
          const response = await fetch(`${this.url}/health/ready`);
          return response.ok;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (error) {
      // An app that never became ready is not left running past its test.
      await this.stop(5000);
      throw error;
    }
    return this;
  }

  /**
   * SIGTERM, as Kubernetes stops a pod; SIGKILL if the app has not exited within `timeoutMs`
   * (then `forced` is true). Nest re-raises SIGTERM once its shutdown hooks have run, so a clean
   * stop ends with signal SIGTERM (or code 0).
   */
  async stop(timeoutMs = 20_000): Promise<AppExit> {
    const child = this.child;
    if (!child || !this.exited) return { code: null, signal: null, forced: false };
    if (child.exitCode !== null || child.signalCode !== null) return this.exited;
    let forced = false;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    try {
      return { ...(await this.exited), forced };
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface AppExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The app did not stop on SIGTERM in time and was killed. */
  forced: boolean;
}

/** Whether an app stopped on its own after SIGTERM (not killed, no error exit). */
export function stoppedCleanly(exit: AppExit): boolean {
  return !exit.forced && (exit.code === 0 || exit.signal === 'SIGTERM');
}
