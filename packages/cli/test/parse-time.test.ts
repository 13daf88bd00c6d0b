import { describe, expect, it } from 'vitest';
import { CliError } from '../src/cli-error.js';
import { parseDurationMs, parseTimePoint } from '../src/parse-time.js';

const now = new Date('2026-11-25T12:00:00.000Z');

describe('parseTimePoint', () => {
  it('reads durations as "that long before now"', () => {
    expect(parseTimePoint('90d', '--since', now).toISOString()).toBe('2026-08-27T12:00:00.000Z');
    expect(parseTimePoint('12h', '--since', now).toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(parseTimePoint('30m', '--since', now).toISOString()).toBe('2026-11-25T11:30:00.000Z');
    expect(parseDurationMs('2w')).toBe(14 * 86_400_000);
  });

  it('reads ISO dates and date-times as UTC unless a zone is given', () => {
    expect(parseTimePoint('2026-01-31', '--until', now).toISOString()).toBe(
      '2026-01-31T00:00:00.000Z',
    );
    expect(parseTimePoint('2026-01-31T12:30', '--until', now).toISOString()).toBe(
      '2026-01-31T12:30:00.000Z',
    );
    expect(parseTimePoint('2026-01-31T12:30:00+02:00', '--until', now).toISOString()).toBe(
      '2026-01-31T10:30:00.000Z',
    );
  });

  it.each(['90x', 'yesterday', '1', '', '2026-13-45', 'd90'])(
    'rejects %j naming the option and the forms',
    (text) => {
      expect(() => parseTimePoint(text, '--since', now)).toThrow(CliError);
      expect(() => parseTimePoint(text, '--since', now)).toThrow(/--since.*90d.*ISO 8601/);
    },
  );
});
