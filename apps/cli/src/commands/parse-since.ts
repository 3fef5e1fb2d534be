import { CliFailure } from '../cli-failure';

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+[smhd])+$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/**
 * `reconcile --since`: an ISO 8601 time (`2026-11-30T06:00:00Z`, a date alone meaning its
 * midnight UTC, a time with an explicit offset) or a duration back from `now` (`90s`, `45m`, `6h`,
 * `2d`, or several as `1h30m`). Refuses anything else, a time in the future, and a duration of 0,
 * each with one line saying what it takes.
 */
export function parseSince(raw: string, now: Date): Date {
  const value = raw.trim();
  const takes = 'an ISO time (2026-11-30T06:00:00Z) or a duration back from now (90s, 45m, 6h, 2d, 1h30m)';
  if (DURATION.test(value)) {
    let ms = 0;
    for (const [, amount, unit] of value.matchAll(/(\d+)([smhd])/g)) ms += Number(amount) * UNIT_MS[unit];
    if (ms === 0) throw new CliFailure(`--since takes ${takes}; a duration of 0 sweeps nothing`);
    if (!Number.isSafeInteger(ms) || ms > now.getTime()) throw new CliFailure(`--since ${value} is too far back`);
    return new Date(now.getTime() - ms);
  }
  const at = ISO_TIME.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new CliFailure(`--since takes ${takes}, got "${raw}"`);
  if (at > now.getTime()) {
    throw new CliFailure(`--since ${value} is in the future (now is ${now.toISOString()}): nothing was modified since`);
  }
  return new Date(at);
}
