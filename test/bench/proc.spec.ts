import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSecondsOfProcesses, isPostgresCommand, readCpuSeconds } from '../../bench/lib/proc';

/** A shell spinning on one core, its command (argv[0]) set to `title`, as Postgres titles its backends. */
function spinner(title: string): ChildProcess {
  return spawn('sh', ['-c', 'while :; do :; done'], { argv0: title, stdio: 'ignore' });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('CPU readings from /proc', () => {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map(stop));
  });

  it("reads a process's CPU seconds, and nothing for a pid that is gone", async () => {
    const child = spinner('busy');
    children.push(child);
    await sleep(400);
    expect(readCpuSeconds(child.pid!)).toBeGreaterThan(0.1);
    await stop(child);
    expect(readCpuSeconds(child.pid!)).toBeUndefined();
  });

  it('adds up the CPU of every process whose command matches, and only theirs', async () => {
    const title = `bench-test-${randomUUID()}`;
    const mine = (command: string) => command.startsWith(title);
    expect(cpuSecondsOfProcesses(mine)).toBeUndefined();
    const spinners = [spinner(`${title}: one`), spinner(`${title}: two`)];
    children.push(...spinners);
    await sleep(400);
    const total = cpuSecondsOfProcesses(mine)!;
    const each = spinners.map((child) => readCpuSeconds(child.pid!)!);
    expect(total).toBeGreaterThan(0.1);
    // Read just after the total: each spinner's reading is at least its share of it.
    expect(total).toBeLessThanOrEqual(each[0] + each[1]);
    expect(total).toBeGreaterThan(Math.max(...each) - 0.05);
  });

  it.each([
    ['the postmaster by name', 'postgres', true],
    ['the postmaster by path', '/usr/lib/postgresql/15/bin/postgres', true],
    ['a titled backend', 'postgres: postgres asana_stream 127.0.0.1(50522) idle', true],
    ['a titled helper', 'postgres: walwriter', true],
    ['another program named like it', 'postgres-exporter', false],
    ['a program whose path merely contains it', '/opt/postgres/bin/psql', false],
    ['something else', 'node', false],
    ['an empty command (a kernel thread)', '', false],
  ])('tells %s', (_name, command, expected) => {
    expect(isPostgresCommand(command)).toBe(expected);
  });
});
