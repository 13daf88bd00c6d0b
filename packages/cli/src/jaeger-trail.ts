import { ATTR_WORKFLOW_RUN_ID } from '@agent-audit/instrumentation/attributes';
import { BoundedGetError, type BoundedGetFailure, boundedGet } from './bounded-http-get.js';
import { CliError, EXIT_IO } from './cli-error.js';
import {
  type JaegerKeyValue,
  JaegerShapeError,
  type JaegerSpan,
  type JaegerTrace,
  servicesOf,
  tracesOf,
} from './jaeger-answer.js';
import type { AttributeValue, OtlpSpanView } from './otlp-json.js';
import { formatBytes } from './progress-line.js';
import { escapeValue } from './terminal-text.js';
import { RESOURCE_SERVICE_NAME, type TrailSpan, trailSpanOf } from './trail-span.js';

export interface JaegerTrailOptions {
  /** Jaeger query base URL, e.g. `http://localhost:16686` (a base path such as `/jaeger` is kept). */
  baseUrl: string;
  runId: string;
  /** How far back to search. Jaeger itself defaults to 2 days; runs are often older. */
  lookbackMs: number;
  now: Date;
  /** Each request (connect, headers and body together). The default value is 10000. */
  timeoutMs?: number;
  /** Bytes read at most per answer. The default value is 64 MiB. */
  maxBytes?: number;
}

/** The default of `--jaeger-max-bytes`: 64 MiB per answer. */
export const DEFAULT_JAEGER_MAX_BYTES = 64 * 1024 * 1024;
/** The default of `--jaeger-timeout`: 10 s per request. */
export const DEFAULT_JAEGER_TIMEOUT_MS = 10_000;

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

const seconds = (ms: number): string => `${ms / 1000}s`;

const PHASES = {
  connect: 'connecting',
  headers: 'waiting for the response headers',
  body: 'reading the response body',
} as const;

/** A failed GET as a message that names the server, the request and the fix. */
function describeFailure(failure: BoundedGetFailure, request: string): string {
  switch (failure.kind) {
    case 'timeout':
      return (
        `Jaeger at ${failure.url.origin} timed out after ${seconds(failure.afterMs)} ${PHASES[failure.phase]} of ${request}` +
        `${failure.phase === 'body' ? ` (${formatBytes(failure.bytes)} received)` : ''} — ` +
        'check the --jaeger address, or allow more time with --jaeger-timeout'
      );
    case 'too-large':
      return (
        `Jaeger at ${failure.url.origin} sent more than ${formatBytes(failure.limit)} (${failure.limit} bytes) for ${request}` +
        `${failure.declared !== undefined ? ` (Content-Length ${failure.declared})` : ''}; reading stopped there — ` +
        'narrow --lookback, or raise --jaeger-max-bytes'
      );
    case 'unreachable':
      return (
        `cannot reach Jaeger at ${failure.url.origin} (${failure.reason}${failure.phase === 'headers' ? ', after connecting' : ''}) — is Jaeger running? ` +
        'Check the --jaeger URL (the query UI address, e.g. http://localhost:16686), ' +
        'or drop --jaeger to read the run from the audit store.'
      );
    case 'cut-off':
      return `Jaeger at ${failure.url.origin} closed the connection after ${formatBytes(failure.bytes)} of the answer to ${request} — try again, or read the run from the audit store (drop --jaeger)`;
    case 'redirects':
      return (
        `Jaeger at ${failure.chain[0]!.origin} ${failure.loop ? 'redirected in a loop' : `redirected more than ${failure.chain.length - 2} times`}: ` +
        `${failure.chain.map((u) => u.href).join(' → ')} — give --jaeger the address that answers`
      );
    case 'bad-redirect':
      return `Jaeger at ${failure.url.origin} redirected ${request} to "${failure.location}", which is not an http(s) URL — give --jaeger the address that answers`;
  }
}

interface GetLimits {
  timeoutMs: number;
  maxBytes: number;
}

async function getJson(
  url: URL,
  limits: GetLimits,
  read: (body: unknown) => unknown,
): Promise<unknown> {
  const service = url.searchParams.get('service');
  const request = `GET ${url.pathname}${service === null ? '' : ` for service "${service}"`}`;
  let answer: Awaited<ReturnType<typeof boundedGet>>;
  try {
    answer = await boundedGet(url, limits);
  } catch (error) {
    if (error instanceof BoundedGetError) {
      throw new CliError(escapeValue(describeFailure(error.failure, request)), EXIT_IO);
    }
    throw error;
  }
  const text = answer.body.toString('utf8');
  const snippet = escapeValue(text.slice(0, 200));
  if (answer.status < 200 || answer.status > 299) {
    throw new CliError(
      `Jaeger at ${url.origin} answered ${answer.status} ${escapeValue(answer.statusText)} to ${request}${snippet ? `: ${snippet}` : ''}`,
      EXIT_IO,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(
      `Jaeger at ${url.origin} did not answer JSON to ${request} (${escapeValue(answer.contentType || 'no content type')}` +
        `${snippet ? `, starting "${snippet.slice(0, 60)}"` : ', empty'}) — is --jaeger the query UI address (port 16686 by default)?`,
      EXIT_IO,
    );
  }
  try {
    return read(body);
  } catch (error) {
    if (error instanceof JaegerShapeError) {
      throw new CliError(
        `Jaeger at ${url.origin} answered ${request} with JSON of an unexpected shape: ${escapeValue(error.message)} — is --jaeger a Jaeger query address (HTTP API under /api)?`,
        EXIT_IO,
      );
    }
    throw error;
  }
}

/**
 * A run's spans from Jaeger's HTTP query API, queried the way the UI does: the service list,
 * then a tag search on `workflow.run_id` per service, merged by span id (a run spans several
 * processes, each its own service, and each search returns whole traces).
 */
export async function fetchJaegerTrail(options: JaegerTrailOptions): Promise<TrailSpan[]> {
  const limits: GetLimits = {
    timeoutMs: options.timeoutMs ?? DEFAULT_JAEGER_TIMEOUT_MS,
    maxBytes: options.maxBytes ?? DEFAULT_JAEGER_MAX_BYTES,
  };
  let base: URL;
  try {
    base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  } catch {
    throw new CliError(
      `invalid --jaeger URL "${escapeValue(options.baseUrl)}": expected the Jaeger query address, e.g. http://localhost:16686`,
      EXIT_IO,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new CliError(
      `invalid --jaeger URL "${escapeValue(options.baseUrl)}": expected an http:// or https:// address, e.g. http://localhost:16686`,
      EXIT_IO,
    );
  }
  const services = (await getJson(new URL('api/services', base), limits, servicesOf)) as string[];
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
    const traces = (await getJson(url, limits, tracesOf)) as JaegerTrace[];
    for (const trace of traces) {
      for (const span of trace.spans) {
        const view = spanView(span, trace);
        // A trace may hold spans of other runs (a shared upstream request): keep only this run's.
        if (view.attributes[ATTR_WORKFLOW_RUN_ID] !== options.runId) continue;
        spans.set(`${view.traceId}/${view.spanId}`, trailSpanOf(view, true, null));
      }
    }
  }
  return [...spans.values()];
}
