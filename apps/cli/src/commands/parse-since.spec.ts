import { CliFailure } from '../cli-failure';
import { parseSince } from './parse-since';

const NOW = new Date('2026-12-01T06:00:00.000Z');

describe('parseSince', () => {
  it.each([
    ['6h', '2026-12-01T00:00:00.000Z'],
    ['45m', '2026-12-01T05:15:00.000Z'],
    ['90s', '2026-12-01T05:58:30.000Z'],
    ['2d', '2026-11-29T06:00:00.000Z'],
    ['1h30m', '2026-12-01T04:30:00.000Z'],
    ['2026-11-30T06:00:00Z', '2026-11-30T06:00:00.000Z'],
    ['2026-11-30T07:00:00.250+01:00', '2026-11-30T06:00:00.250Z'],
    ['2026-11-30', '2026-11-30T00:00:00.000Z'],
  ])('reads %s as %s', (raw, expected) => {
    expect(parseSince(raw, NOW).toISOString()).toBe(expected);
  });

  it.each([
    ['yesterday', /takes an ISO time .* or a duration back from now .*, got "yesterday"/],
    ['6 hours', /got "6 hours"/],
    ['-6h', /got "-6h"/],
    ['2026-11-30 06:00', /got "2026-11-30 06:00"/],
    ['2026-11-30T06:00:00', /got "2026-11-30T06:00:00"/],
    ['2026-13-40T06:00:00Z', /got "2026-13-40T06:00:00Z"/],
    ['0h', /a duration of 0 sweeps nothing/],
    ['2026-12-02T00:00:00Z', /is in the future \(now is 2026-12-01T06:00:00.000Z\)/],
    ['99999999999d', /too far back/],
  ])('refuses %s with one line saying what it takes', (raw, message) => {
    expect(() => parseSince(raw, NOW)).toThrow(CliFailure);
    expect(() => parseSince(raw, NOW)).toThrow(message);
  });
});
