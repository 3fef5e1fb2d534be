import { readFileSync } from 'node:fs';

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
