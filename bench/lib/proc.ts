import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths';

/** Linux clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ, 100 on every common kernel). */
const CLOCK_TICKS_PER_S = 100;

/** The resident set size of a process in MB (`VmRSS` of /proc/<pid>/status), or undefined once it is gone. */
export function readRssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used so far, user and system (/proc/<pid>/stat), or undefined once it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Whether a command line's first word is a Postgres server process: the postmaster, or a titled backend or helper. */
export function isPostgresCommand(command: string): boolean {
  return command === 'postgres' || command.endsWith('/postgres') || command.startsWith('postgres:');
}

/**
 * CPU seconds used so far by every process here whose command (argv[0], which Postgres sets to
 * a backend's title) `matches`; undefined when none does. A process that exits between two
 * readings takes its CPU with it: read around work done by processes that stay.
 */
export function cpuSecondsOfProcesses(matches: (command: string) => boolean): number | undefined {
  let total: number | undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let command: string;
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
    } catch {
      continue;
    }
    if (!matches(command)) continue;
    const seconds = readCpuSeconds(Number(entry));
    if (seconds !== undefined) total = (total ?? 0) + seconds;
  }
  return total;
}

/** CPU seconds used so far by the Postgres server on this machine; undefined when none runs here. */
export function localPostgresCpuSeconds(): number | undefined {
  return cpuSecondsOfProcesses(isPostgresCommand);
}

/** The pid of the broker scripts/kafka.sh runs, when it runs here; else undefined. */
export function localBrokerPid(): number | undefined {
  try {
    const pid = Number(readFileSync(join(repoRoot(), '.local/kafka/broker.pid'), 'utf8').trim());
    return readCpuSeconds(pid) === undefined ? undefined : pid;
  } catch {
    return undefined;
  }
}

export interface RssPeak {
  name: string;
  pid: number;
  /** RSS when sampling started. */
  startMb: number;
  peakMb: number;
  /** Milliseconds after the start of sampling when the peak was read. */
  peakAtMs: number;
  samples: number;
}

/**
 * Samples the RSS of each named process every `intervalMs` until `stop()`, which answers each
 * one's peak. A process that is gone stops contributing samples.
 */
export function sampleRss(processes: { name: string; pid: number }[], intervalMs = 200): { stop(): RssPeak[] } {
  const started = Date.now();
  const peaks = processes.map(({ name, pid }) => {
    const mb = readRssMb(pid) ?? 0;
    return { name, pid, startMb: mb, peakMb: mb, peakAtMs: 0, samples: 1 };
  });
  const sample = () => {
    for (const peak of peaks) {
      const mb = readRssMb(peak.pid);
      if (mb === undefined) continue;
      peak.samples++;
      if (mb > peak.peakMb) {
        peak.peakMb = mb;
        peak.peakAtMs = Date.now() - started;
      }
    }
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks.map((peak) => ({ ...peak }));
    },
  };
}
