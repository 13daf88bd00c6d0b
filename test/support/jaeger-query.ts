// Jaeger's HTTP query API, called the way the Jaeger UI calls it (cmd/query/app/http_handler.go):
//   GET /api/services                                   → { data: string[] }
//   GET /api/traces?service=S&tags={"k":"v"}&limit=N    → { data: JaegerTrace[] }
//   GET /api/traces/{traceId}                           → { data: [JaegerTrace] } or 404
// Without start/end the search covers the last 48 h (Jaeger's default lookback).

export interface JaegerTag {
  key: string;
  type: string;
  value: string | number | boolean;
}

export interface JaegerReference {
  refType: 'CHILD_OF' | 'FOLLOWS_FROM';
  traceID: string;
  spanID: string;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: JaegerReference[];
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags: JaegerTag[];
  logs: Array<{ timestamp: number; fields: JaegerTag[] }>;
  processID: string;
  warnings: string[] | null;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerTag[] }>;
  warnings: string[] | null;
}

/** A span with its service resolved and its tags as a map: what assertions want to look at. */
export interface FoundSpan {
  traceId: string;
  spanId: string;
  /** The CHILD_OF parent, if any. */
  parentSpanId: string | undefined;
  operationName: string;
  serviceName: string;
  tags: Record<string, string | number | boolean>;
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  raw: JaegerSpan;
}

export interface TraceQuery {
  /** Required by Jaeger's search API. */
  service: string;
  /** Exact-match tags (span or resource attributes), e.g. `{ 'workflow.run_id': id }`. */
  tags?: Record<string, string>;
  operation?: string;
  /** Maximum number of traces. The default value is 100 (Jaeger's own default). */
  limit?: number;
  /** Search window start, microseconds since the epoch. Jaeger's default is now − 48 h. */
  startMicros?: number;
  /** Search window end, microseconds since the epoch. Jaeger's default is now. */
  endMicros?: number;
}

interface ApiResponse<T> {
  data: T | null;
  errors: Array<{ code: number; msg: string }> | null;
}

const REQUEST_TIMEOUT_MS = 10_000;

async function getJson<T>(url: string): Promise<{ status: number; body: ApiResponse<T> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  let body: ApiResponse<T>;
  try {
    body = JSON.parse(text) as ApiResponse<T>;
  } catch {
    throw new Error(`GET ${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  return { status: res.status, body };
}

function failure(url: string, status: number, body: ApiResponse<unknown>): Error {
  return new Error(`GET ${url}: HTTP ${status}: ${JSON.stringify(body.errors ?? body)}`);
}

/** The service names Jaeger has seen (the UI's service drop-down). */
export async function getServices(queryUrl: string): Promise<string[]> {
  const url = `${queryUrl}/api/services`;
  const { status, body } = await getJson<string[]>(url);
  if (status !== 200) throw failure(url, status, body);
  return body.data ?? [];
}

/** The UI's trace search: the URL it builds is `/api/traces?service=…&tags=…`. */
export function traceSearchUrl(queryUrl: string, query: TraceQuery): string {
  const params = new URLSearchParams({ service: query.service });
  if (query.operation !== undefined) params.set('operation', query.operation);
  if (query.tags !== undefined && Object.keys(query.tags).length > 0) {
    params.set('tags', JSON.stringify(query.tags));
  }
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.startMicros !== undefined) params.set('start', String(query.startMicros));
  if (query.endMicros !== undefined) params.set('end', String(query.endMicros));
  return `${queryUrl}/api/traces?${params}`;
}

export async function findTraces(queryUrl: string, query: TraceQuery): Promise<JaegerTrace[]> {
  const url = traceSearchUrl(queryUrl, query);
  const { status, body } = await getJson<JaegerTrace[]>(url);
  if (status !== 200) throw failure(url, status, body);
  return body.data ?? [];
}

/** One trace by id (32 hex digits), or undefined when Jaeger does not have it. */
export async function getTrace(
  queryUrl: string,
  traceId: string,
): Promise<JaegerTrace | undefined> {
  const url = `${queryUrl}/api/traces/${encodeURIComponent(traceId)}`;
  const { status, body } = await getJson<JaegerTrace[]>(url);
  if (status === 404) return undefined;
  if (status !== 200) throw failure(url, status, body);
  return body.data?.[0];
}

/** Every span of the traces, once each, with service names resolved and tags as a map. */
export function flattenSpans(traces: JaegerTrace[]): FoundSpan[] {
  const seen = new Set<string>();
  const spans: FoundSpan[] = [];
  for (const trace of traces) {
    for (const span of trace.spans) {
      const key = `${span.traceID}/${span.spanID}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const tags: Record<string, string | number | boolean> = {};
      for (const tag of span.tags) tags[tag.key] = tag.value;
      spans.push({
        traceId: span.traceID,
        spanId: span.spanID,
        parentSpanId: span.references.find((r) => r.refType === 'CHILD_OF')?.spanID,
        operationName: span.operationName,
        serviceName: trace.processes[span.processID]?.serviceName ?? '',
        tags,
        startTime: span.startTime,
        duration: span.duration,
        raw: span,
      });
    }
  }
  return spans;
}

export interface WaitForSpansOptions {
  /** The default value is 30000. */
  timeoutMs?: number;
  /** The default value is 200. */
  intervalMs?: number;
  /** Appended to the timeout error, e.g. a log tail. */
  diagnostics?: () => string;
}

/**
 * Polls the trace search until `predicate` accepts the spans found, and returns them. Ingestion
 * is asynchronous end to end (forwarder, collector batching), so tests wait for a condition
 * instead of sleeping. Fails after `timeoutMs` with what was last seen.
 */
export async function waitForSpans(
  queryUrl: string,
  query: TraceQuery,
  predicate: (spans: FoundSpan[]) => boolean,
  options: WaitForSpansOptions = {},
): Promise<FoundSpan[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let last: FoundSpan[] = [];
  let lastError: unknown;
  for (;;) {
    try {
      last = flattenSpans(await findTraces(queryUrl, query));
      lastError = undefined;
      if (predicate(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const seen = last
    .slice(0, 20)
    .map((s) => `  ${s.serviceName} ${s.operationName} ${s.traceId}/${s.spanId}`)
    .join('\n');
  throw new Error(
    `waitForSpans: condition not met within ${timeoutMs} ms for ${traceSearchUrl(queryUrl, query)}; ` +
      `last saw ${last.length} span(s)${last.length ? `:\n${seen}` : ''}` +
      (lastError ? `\nlast error: ${String(lastError)}` : '') +
      (options.diagnostics ? `\n${options.diagnostics()}` : ''),
  );
}
