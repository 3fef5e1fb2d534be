import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { basename } from 'node:path';
import { Client } from 'pg';
import { repoRoot } from './paths';
import { localBrokerPid } from './proc';

const GIB = 1024 ** 3;

/**
 * The Kafka version of the broker scripts/kafka.sh runs (from its jar on the command line), or
 * what is known when the broker answering is someone else's.
 */
function kafkaDescription(brokers: string): string {
  const local = ['127.0.0.1:9092', 'localhost:9092'].includes(brokers);
  try {
    const pid = local ? localBrokerPid() : undefined;
    if (pid === undefined) throw new Error('not the local broker');
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const classpath = args[args.indexOf('-cp') + 1] ?? '';
    // The classpath names the jars, or their folder (`lib/*`).
    const jars = classpath
      .split(':')
      .flatMap((entry) => (entry.endsWith('/*') ? readdirSync(entry.slice(0, -2)) : [basename(entry)]));
    const version = jars.map((jar) => /^kafka-server-([\d.]+)\.jar$/.exec(jar)?.[1]).find(Boolean);
    const heap = args.find((arg) => arg.startsWith('-Xmx'))?.slice(4);
    if (version) return `Kafka ${version} (one KRaft node from scripts/kafka.sh at ${brokers}, heap ${heap ?? '?'})`;
  } catch {
    // Not the local broker: fall through.
  }
  return `Kafka at ${brokers} (version unknown: not the broker of scripts/kafka.sh)`;
}

async function postgresDescription(serverUrl: string): Promise<string> {
  const client = new Client({ connectionString: serverUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>(/* sql */ `SHOW server_version`);
    return `PostgreSQL ${rows[0].server_version.split(' ')[0]}`;
  } catch (error) {
    return `PostgreSQL at ${new URL(serverUrl).host} (not reachable: ${(error as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One line: cores, memory, OS, Node, Kafka and Postgres versions, and the load when the run started. */
export async function describeMachine(brokers: string, postgresUrl: string): Promise<string> {
  const cores = cpus();
  const load = loadavg().map((value) => value.toFixed(2));
  return [
    `${cores.length} cores (${cores[0]?.model.trim() ?? 'unknown CPU'})`,
    `${(totalmem() / GIB).toFixed(1)} GiB memory`,
    `${type()} ${release()}`,
    `Node ${process.version}`,
    kafkaDescription(brokers),
    await postgresDescription(postgresUrl),
    `load average ${load.join(' ')} at start (the machine is shared)`,
  ].join(', ');
}

/**
 * What was measured: with `ref` (`npm run bench -- --ref <commit>`), that commit; otherwise HEAD's
 * hash and the files of the work tree that differ from it, when the run was built (the figures
 * are of what was on disk then). bench/results and docs/benchmarks.md, which the run itself
 * writes, are left out.
 */
export function describeCommit(ref?: string): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot(), encoding: 'utf8' });
  try {
    if (ref) {
      const commit = git('rev-parse', '--verify', `${ref}^{commit}`).trim();
      return `${commit} (--ref ${ref}: its apps and libs, taken with git archive; the benchmarks from the work tree)`;
    }
    const head = git('rev-parse', 'HEAD').trim();
    const changed = git('status', '--porcelain', '--untracked-files=all')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3))
      .filter((path) => !path.startsWith('bench/results/') && path !== 'docs/benchmarks.md');
    if (changed.length === 0) return head;
    const shown = changed.slice(0, 12).join(', ');
    return `${head} plus uncommitted changes to ${changed.length} files (${shown}${changed.length > 12 ? ', …' : ''})`;
  } catch (error) {
    return `unknown (git: ${(error as Error).message})`;
  }
}
