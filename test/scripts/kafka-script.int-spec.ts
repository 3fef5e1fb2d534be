import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '@asana-stream/testing';

const REPO_ROOT = resolve(__dirname, '../..');
const SCRIPT = join(REPO_ROOT, 'scripts/kafka.sh');

interface ScriptResult {
  code: number;
  output: string;
}

/** Runs scripts/kafka.sh with its own state dir and ports, so the shared test broker is untouched. */
function kafkaScript(env: Record<string, string>, ...args: string[]): Promise<ScriptResult> {
  return new Promise((done) => {
    execFile(
      'bash',
      [SCRIPT, ...args],
      { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

async function clusterAnswers(port: number): Promise<boolean> {
  const admin = new Kafka({
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length === 1;
  } finally {
    await admin.disconnect();
  }
}

describe('scripts/kafka.sh, the local broker', () => {
  let home: string;
  let env: Record<string, string>;
  let port: number;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'asana-stream-kafka-'));
    // Reuse the jars the shared broker resolved (with their pom stamp) instead of resolving them again.
    const sharedLib = join(REPO_ROOT, '.local/kafka/lib');
    if (existsSync(sharedLib)) cpSync(sharedLib, join(home, 'lib'), { recursive: true });
    port = await freePort();
    env = { KAFKA_HOME_DIR: home, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(await freePort()) };
  });

  afterAll(async () => {
    await kafkaScript(env, 'stop');
    rmSync(home, { recursive: true, force: true });
  });

  it('starts a broker that answers Kafka requests, and a second start reuses it', async () => {
    const first = await kafkaScript(env, 'start');
    expect(first.code).toBe(0);
    expect(await clusterAnswers(port)).toBe(true);
    const pid = readFileSync(join(home, 'broker.pid'), 'utf8').trim();

    const second = await kafkaScript(env, 'start');
    expect(second.code).toBe(0);
    expect(second.output).toContain(`already running (pid ${pid})`);
    expect((await kafkaScript(env, 'status')).code).toBe(0);
  });

  it('detects a stale pid file after the broker was killed, and starts a fresh broker', async () => {
    const pid = Number(readFileSync(join(home, 'broker.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while ((await kafkaScript(env, 'status')).code !== 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await kafkaScript(env, 'status')).code).toBe(3);

    const restart = await kafkaScript(env, 'start');
    expect(restart.code).toBe(0);
    expect(restart.output).toMatch(/stale pid file/);
    expect(Number(readFileSync(join(home, 'broker.pid'), 'utf8').trim())).not.toBe(pid);
    expect(await clusterAnswers(port)).toBe(true);
  });

  it('refuses to start a second broker on a port another process holds, and says which', async () => {
    const otherHome = mkdtempSync(join(tmpdir(), 'asana-stream-kafka-other-'));
    try {
      const clash = await kafkaScript({ ...env, KAFKA_HOME_DIR: otherHome }, 'start');
      expect(clash.code).not.toBe(0);
      expect(clash.output).toMatch(new RegExp(`port 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      rmSync(otherHome, { recursive: true, force: true });
    }
  });

  it('stops cleanly, after which status says it is not running', async () => {
    expect((await kafkaScript(env, 'stop')).code).toBe(0);
    expect((await kafkaScript(env, 'status')).code).toBe(1);
  });
});
