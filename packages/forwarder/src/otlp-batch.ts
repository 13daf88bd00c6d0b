import type { ForwarderRecord } from './forwarder.js';

// The OTLP/JSON side of a batch: the request body parts from stored records, and what the
// collector's answer says (partial success, Retry-After). Pure functions, no I/O.

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds; undefined if absent/invalid. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

const RAW_PREFIX = '{"resourceSpans":[';
const RAW_SUFFIX = ']}';

/**
 * The `resourceSpans` elements of one record as request-body text. From the stored payload text
 * when the source gives it (a canonical `{"resourceSpans":[…]}` is spliced as is: parsing 2 KB of
 * JSON to print it again costs ~20 µs per span on the agent's main thread), else by stringifying
 * the parsed payload.
 */
export function requestPart(record: ForwarderRecord): { text: string; spans: number } | undefined {
  const raw = record.payloadJson;
  if (
    typeof raw === 'string' &&
    raw.startsWith(RAW_PREFIX) &&
    raw.endsWith(RAW_SUFFIX) &&
    raw.length > RAW_PREFIX.length + RAW_SUFFIX.length
  ) {
    // A span.end record holds one span (docs/architecture.md), so no need to parse to count.
    return { text: raw.slice(RAW_PREFIX.length, -RAW_SUFFIX.length), spans: 1 };
  }
  const payload =
    record.payload === undefined && typeof raw === 'string' ? safeParse(raw) : record.payload;
  const resourceSpans = (payload as { resourceSpans?: unknown[] } | null)?.resourceSpans;
  if (!Array.isArray(resourceSpans) || resourceSpans.length === 0) return undefined;
  return {
    text: resourceSpans.map((rs) => JSON.stringify(rs)).join(','),
    spans: countSpans(resourceSpans),
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function countSpans(resourceSpans: unknown[]): number {
  let n = 0;
  for (const rs of resourceSpans) {
    const scopes = (rs as { scopeSpans?: { spans?: unknown[] }[] }).scopeSpans;
    if (!Array.isArray(scopes)) continue;
    for (const scope of scopes) n += Array.isArray(scope.spans) ? scope.spans.length : 0;
  }
  return n;
}

export function partialRejections(text: string): number {
  if (!text) return 0;
  try {
    const parsed = JSON.parse(text) as { partialSuccess?: { rejectedSpans?: number | string } };
    return Number(parsed.partialSuccess?.rejectedSpans ?? 0) || 0;
  } catch {
    return 0;
  }
}
