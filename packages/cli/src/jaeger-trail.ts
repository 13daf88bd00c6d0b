import { ATTR_WORKFLOW_RUN_ID } from '@agent-audit/instrumentation/attributes';
import { CliError, EXIT_IO } from './cli-error.js';
import type { AttributeValue, OtlpSpanView } from './otlp-json.js';
import { RESOURCE_SERVICE_NAME, type TrailSpan, trailSpanOf } from './trail-span.js';

export interface JaegerTrailOptions {
  /** Jaeger query base URL, e.g. `http://localhost:16686` (a base path such as `/jaeger` is kept). */
  baseUrl: string;
  runId: string;
  /** How far back to search. Jaeger itself defaults to 2 days; runs are often older. */
  lookbackMs: number;
  now: Date;
  /** Per-request timeout. The default value is 10000. */
  timeoutMs?: number;
}

interface JaegerKeyValue {
  key: string;
  type?: string;
  value: unknown;
}

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags?: JaegerKeyValue[];
  logs?: Array<{ timestamp: number; fields?: JaegerKeyValue[] }>;
  processID: string;
}

interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags?: JaegerKeyValue[] }>;
}

const KINDS: Record<string, number> = {
  internal: 1,
  server: 2,
  client: 3,
  producer: 4,
  consumer: 5,
};

// Tags Jaeger synthesizes from OTLP span fields: they come back as kind/status, not attributes.
const SYNTHETIC_TAGS = new Set([
  'span.kind',
  'otel.status_code',
  'otel.status_description',
  'otel.scope.name',
  'otel.scope.version',
  'internal.span.format',
  'error',
]);

function tagsToRecord(tags: JaegerKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const tag of tags ?? []) {
    const v = tag.value;
    out[tag.key] =
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : null;
  }
  return out;
}

// Jaeger prints trace ids without leading zeros; OTLP and the store use fixed-width hex.
const traceHex = (id: string): string => id.toLowerCase().padStart(32, '0');
const spanHex = (id: string): string => id.toLowerCase().padStart(16, '0');
const microsToNanos = (micros: number): string => (BigInt(Math.round(micros)) * 1000n).toString();

function spanView(span: JaegerSpan, trace: JaegerTrace): OtlpSpanView {
  const all = tagsToRecord(span.tags);
  const attributes: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!SYNTHETIC_TAGS.has(key)) attributes[key] = value;
  }
  const statusTag = typeof all['otel.status_code'] === 'string' ? all['otel.status_code'] : '';
  const statusCode = statusTag === 'ERROR' || all.error === true ? 2 : statusTag === 'OK' ? 1 : 0;
  const process = trace.processes[span.processID];
  const resource: Record<string, AttributeValue> = {
    ...tagsToRecord(process?.tags),
    [RESOURCE_SERVICE_NAME]: process?.serviceName ?? null,
  };
  const parent = span.references?.find((ref) => ref.refType === 'CHILD_OF');
  return {
    traceId: traceHex(span.traceID),
    spanId: spanHex(span.spanID),
    parentSpanId: parent ? spanHex(parent.spanID) : undefined,
    name: span.operationName,
    kind: KINDS[String(all['span.kind'] ?? '')] ?? 0,
    startTimeUnixNano: microsToNanos(span.startTime),
    endTimeUnixNano: microsToNanos(span.startTime + span.duration),
    attributes,
    events: (span.logs ?? []).map((log) => {
      const fields = tagsToRecord(log.fields);
      const name = typeof fields.event === 'string' ? fields.event : '';
      delete fields.event;
      return { name, timeUnixNano: microsToNanos(log.timestamp), attributes: fields };
    }),
    statusCode,
    statusMessage:
      typeof all['otel.status_description'] === 'string'
        ? all['otel.status_description']
        : undefined,
    resource,
    scopeName: typeof all['otel.scope.name'] === 'string' ? all['otel.scope.name'] : undefined,
  };
}

async function getJson(url: URL, timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = error instanceof Error ? (error.cause ?? error) : error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new CliError(
      `cannot reach Jaeger at ${url.origin} (${reason}) — is Jaeger running? ` +
        'Check the --jaeger URL (the query UI address, e.g. http://localhost:16686), ' +
        'or drop --jaeger to read the run from the audit store.',
      EXIT_IO,
    );
  }
  if (!response.ok) {
    const body = (await response.text().catch(() => '')).slice(0, 200);
    throw new CliError(
      `Jaeger answered ${response.status} ${response.statusText} to ${url.pathname}${url.search}: ${body}`,
      EXIT_IO,
    );
  }
  try {
    return await response.json();
  } catch {
    throw new CliError(
      `Jaeger at ${url.origin} did not answer JSON on ${url.pathname} — is --jaeger the query UI address (port 16686 by default)?`,
      EXIT_IO,
    );
  }
}

function dataOf(body: unknown): unknown[] {
  const data = (body as { data?: unknown } | null)?.data;
  return Array.isArray(data) ? data : [];
}

/**
 * A run's spans from Jaeger's HTTP query API, queried the way the UI does: the service list,
 * then a tag search on `workflow.run_id` per service, merged by span id (a run spans several
 * processes, each its own service, and each search returns whole traces).
 */
export async function fetchJaegerTrail(options: JaegerTrailOptions): Promise<TrailSpan[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let base: URL;
  try {
    base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  } catch {
    throw new CliError(
      `invalid --jaeger URL "${options.baseUrl}": expected the Jaeger query address, e.g. http://localhost:16686`,
      EXIT_IO,
    );
  }
  const services = dataOf(await getJson(new URL('api/services', base), timeoutMs)).filter(
    (s): s is string => typeof s === 'string',
  );
  const endMicros = options.now.getTime() * 1000;
  const startMicros = endMicros - options.lookbackMs * 1000;
  const spans = new Map<string, TrailSpan>();
  for (const service of services) {
    // Jaeger reports its own query traffic under its own service name; skipping it saves a query.
    if (service === 'jaeger' || service === 'jaeger-all-in-one') continue;
    const url = new URL('api/traces', base);
    url.searchParams.set('service', service);
    url.searchParams.set('tags', JSON.stringify({ [ATTR_WORKFLOW_RUN_ID]: options.runId }));
    url.searchParams.set('start', String(startMicros));
    url.searchParams.set('end', String(endMicros));
    url.searchParams.set('limit', '1000');
    for (const trace of dataOf(await getJson(url, timeoutMs)) as JaegerTrace[]) {
      for (const span of trace.spans ?? []) {
        const view = spanView(span, trace);
        // A trace may hold spans of other runs (a shared upstream request): keep only this run's.
        if (view.attributes[ATTR_WORKFLOW_RUN_ID] !== options.runId) continue;
        spans.set(`${view.traceId}/${view.spanId}`, trailSpanOf(view, true, null));
      }
    }
  }
  return [...spans.values()];
}
