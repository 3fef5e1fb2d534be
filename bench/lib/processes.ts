import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildRoot, repoRoot } from './paths';

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

export interface NodeProcessOptions {
  /** Short name, also the log file's. */
  name: string;
  /** Script relative to this run's build (bench/bench.sh), e.g. `apps/ingest/src/main.js`. */
  entry: string;
  args?: string[];
  env: Record<string, string>;
  logDir: string;
  /** Write a V8 CPU profile into `logDir` when the process exits (`node --cpu-prof`). */
  cpuProfile?: boolean;
}

/** A Node process of ours (an app, the no-op baseline, the cli), its output in `<logDir>/<name>.log`. */
export class NodeProcess {
  private child?: ChildProcess;
  private exited?: Promise<number | null>;
  readonly logFile: string;

  constructor(private readonly options: NodeProcessOptions) {
    mkdirSync(options.logDir, { recursive: true });
    this.logFile = join(options.logDir, `${options.name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): this {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const profile = this.options.cpuProfile
      ? ['--cpu-prof', `--cpu-prof-dir=${this.options.logDir}`, `--cpu-prof-name=${this.options.name}.cpuprofile`]
      : [];
    const script = [join(buildRoot(), this.options.entry), ...(this.options.args ?? [])];
    const child = spawn(process.execPath, [...profile, ...script], {
      cwd: repoRoot(),
      env: { PATH: process.env.PATH ?? '', ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)));
    return this;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  /** Resolves with the exit code; fails when the process runs longer than `timeoutMs`. */
  async finished(timeoutMs: number): Promise<number | null> {
    if (!this.exited) throw new Error(`${this.options.name} was not started`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.options.name} still runs after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until `GET <url>` answers 2xx; fails early when the process exits. */
  async ready(url: string, timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.options.name} exited; see ${this.logFile}`);
      const ok = await fetch(url).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return this;
      if (Date.now() > deadline)
        throw new Error(`${this.options.name} did not answer ${url} within ${timeoutMs} ms; see ${this.logFile}`);
      await sleep(200);
    }
  }

  /** SIGSTOP: the process holds still (its sockets stay open) until `thaw`. */
  freeze(): void {
    if (!this.child || !this.running) throw new Error(`${this.options.name} is not running`);
    this.child.kill('SIGSTOP');
  }

  /** SIGCONT: a frozen process goes on where it stopped. */
  thaw(): void {
    if (!this.child || !this.running) throw new Error(`${this.options.name} is not running`);
    this.child.kill('SIGCONT');
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; a frozen process is thawed to take the SIGTERM. */
  async stop(timeoutMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || !this.exited || !this.running) return;
    child.kill('SIGTERM');
    child.kill('SIGCONT');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs a Node script to completion; fails with its log's path when it exits non-zero. */
export async function runToCompletion(options: NodeProcessOptions, timeoutMs = 120_000): Promise<void> {
  const child = new NodeProcess(options).start();
  const code = await child.finished(timeoutMs).catch(async (error: unknown) => {
    await child.stop(1000);
    throw error;
  });
  if (code !== 0) throw new Error(`${options.name} exited with ${code}; see ${child.logFile}`);
}
