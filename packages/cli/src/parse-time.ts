import { DURATION_UNIT_MS } from '@agent-audit/store';
import { CliError, EXIT_USAGE } from './cli-error.js';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
// A date or a date-time as ISO 8601 writes it; Date.parse alone would also accept
// "March 7" or "1", which an auditor could misread as something else.
const ISO_DATE =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Milliseconds of a duration such as `90d`, `12h`, `30m`, `45s`, `2w`; undefined if it is not one. */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNIT_MS[match[2]!]!;
}

/**
 * A point in time given on the command line: a duration means "that long before now"
 * (`--since 90d`), otherwise an ISO 8601 date or date-time (`2026-01-31`, `2026-01-31T12:00Z`).
 * A date without a zone is read as UTC so the same command gives the same rows everywhere.
 */
export function parseTimePoint(text: string, optionName: string, now: Date): Date {
  const trimmed = text.trim();
  const ms = parseDurationMs(trimmed);
  if (ms !== undefined) return new Date(now.getTime() - ms);
  if (ISO_DATE.test(trimmed)) {
    const normalized = trimmed.replace(' ', 'T');
    // Date.parse reads a bare date as UTC but a date-time without a zone as local time.
    const isDateOnly = normalized.length === 10;
    const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/.test(normalized.slice(10));
    const parsed = Date.parse(isDateOnly || hasZone ? normalized : `${normalized}Z`);
    if (!Number.isNaN(parsed)) return new Date(parsed);
  }
  throw new CliError(
    `invalid ${optionName} value "${text}": expected a duration before now such as 90d, 12h, 30m, 45s, ` +
      'or an ISO 8601 date such as 2026-01-31 or 2026-01-31T12:00:00Z',
    EXIT_USAGE,
  );
}
