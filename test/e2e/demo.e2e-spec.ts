import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { allTopics, TopicNames } from '@asana-stream/contracts';
import { dropDatabase } from '@asana-stream/db';
import { deleteTopics } from '@asana-stream/kafka';
import { TEST_SERVER_URL, testKafka, waitFor } from '@asana-stream/testing';

jest.setTimeout(240_000);

const REPO_ROOT = resolve(__dirname, '../..');

/** Every process below `root` right now (the demo's shell, its apps, its status watcher, its naps). */
function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of listProcesses()) {
    children.set(entry.ppid, [...(children.get(entry.ppid) ?? []), entry.pid]);
  }
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0;) {
    const pid = queue.shift()!;
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function listProcesses(): { pid: number; ppid: number }[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => {
      try {
        // Field 4 of /proc/<pid>/stat is the parent; the command name (field 2) may hold spaces.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return [{ pid: Number(name), ppid: Number(fields[1]) }];
      } catch {
        return [];
      }
    });
}

/** Alive and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface Demo {
  npm: ChildProcess;
  output: () => string;
  dir: string;
  exited: Promise<number | null>;
  /** Every process seen below npm: killed at the end should the demo fail to stop them. */
  seen: Set<number>;
}

const started: Demo[] = [];

/** `npm start` as a user runs it, on ports, a database and topics of its own. */
function startDemo(extraEnv: Record<string, string>): Demo {
  const id = randomBytes(4).toString('hex');
  const dir = `.local/test-demo-${id}`;
  const database = new URL(TEST_SERVER_URL);
  database.pathname = `/asana_stream_demo_test_${id}`;
  const env = {
    ...process.env,
    DATABASE_URL: database.toString(),
    KAFKA_TOPIC_PREFIX: `demo-test-${id}.`,
    DEMO_DIR: dir,
    DEMO_BASE_PORT: String(randomInt(20_000, 29_000)),
    DEMO_SIMULATOR_PORT: String(randomInt(29_000, 30_000)),
    // The suite has installed and built already; a build here would rewrite dist/ under other tests.
    DEMO_PREPARE: '0',
    DEMO_CHANGES: '15',
    DEMO_RATE: '15',
    ...extraEnv,
  };
  const npm = spawn('npm', ['start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => npm.once('exit', (code) => done(code)));
  const demo = { npm, output: () => output, dir, exited, seen: new Set<number>() };
  started.push(demo);
  return demo;
}

function processesOf(demo: Demo): number[] {
  const pids = descendantsOf(demo.npm.pid!);
  for (const pid of pids) demo.seen.add(pid);
  return pids;
}

afterAll(async () => {
  for (const demo of started) {
    for (const pid of [demo.npm.pid!, ...processesOf(demo), ...demo.seen]) {
      if (running(pid)) process.kill(pid, 'SIGKILL');
    }
    const env = Object.fromEntries(
      readFileSync(join(REPO_ROOT, demo.dir, 'env'), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('export '))
        .map((line) => line.slice('export '.length).split('=') as [string, string]),
    );
    await deleteTopics(testKafka(), allTopics(), new TopicNames(env.KAFKA_TOPIC_PREFIX));
    await dropDatabase(env.DATABASE_URL);
  }
});

async function expectAllGone(pids: number[], within: number): Promise<void> {
  expect(pids.length).toBeGreaterThanOrEqual(6);
  await waitFor('every process the demo started to end', () => pids.every((pid) => !running(pid)), {
    timeoutMs: within,
  });
}

describe('npm start (the demo)', () => {
  it('writes its settings to an env file the cli works with, and SIGTERM to npm stops everything it started', async () => {
    const demo = startDemo({ DEMO_KEEP_RUNNING: '1' });
    await waitFor('the demo to drain and keep running', () => demo.output().includes('apps keep running'), {
      timeoutMs: 180_000,
    });
    const envFile = join(REPO_ROOT, demo.dir, 'env');
    expect(statSync(envFile).mode & 0o077).toBe(0);
    // The README's Operate table, as written, after `source .local/demo/env`.
    const status = await promisify(execFile)(
      'bash',
      [
        '-c',
        `source ${envFile} && node dist/apps/cli/src/main.js status --json && node dist/apps/cli/src/main.js webhooks list`,
      ],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 },
    );
    const [json, ...webhooks] = status.stdout.trim().split('\n');
    expect(JSON.parse(json)).toMatchObject({ enricherLag: 0, projectorLag: 0, outbox: { unpublished: 0 } });
    expect(JSON.parse(json).changes).toBeGreaterThan(0);
    expect(webhooks.length).toBeGreaterThan(0);
    for (const line of webhooks) expect(line).toMatch(/\tactive\t/);

    const pids = processesOf(demo);
    demo.npm.kill('SIGTERM');
    await expectAllGone(pids, 20_000);
    expect(await demo.exited).not.toBe(0);
    expect(demo.output()).toContain('keeps running for the next run; stop it with: bash scripts/kafka.sh stop');
  });

  it('SIGINT to npm in the middle of the traffic stops everything it started', async () => {
    const demo = startDemo({ DEMO_CHANGES: '2000', DEMO_RATE: '20' });
    await waitFor('traffic to start', () => demo.output().includes('== traffic:'), { timeoutMs: 180_000 });
    const pids = processesOf(demo);
    demo.npm.kill('SIGINT');
    await expectAllGone(pids, 20_000);
    expect(await demo.exited).not.toBe(0);
    expect(demo.output()).toContain('stopping the simulator and the apps');
  });
});
