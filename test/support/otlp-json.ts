import { randomBytes } from 'node:crypto';

// Hand-built OTLP/JSON ExportTraceServiceRequest bodies (opentelemetry-proto JSON mapping: ids
// as lowercase hex, 64-bit integers as decimal strings), for tests that must not depend on the
// SDK they are testing.

export type AttributeValue = string | number | boolean;

export interface OtlpJsonKeyValue {
  key: string;
  value:
    | { stringValue: string }
    | { intValue: string }
    | { doubleValue: number }
    | { boolValue: boolean };
}

export interface SpanInput {
  name: string;
  /** 32 hex digits. The default value is a random id. */
  traceId?: string;
  /** 16 hex digits. The default value is a random id. */
  spanId?: string;
  parentSpanId?: string;
  /** OTLP SpanKind number. The default value is 1 (INTERNAL). */
  kind?: number;
  /** The default value is now. */
  startTimeUnixNano?: bigint;
  /** The default value is 1 ms. */
  durationNanos?: bigint;
  attributes?: Record<string, AttributeValue>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode?: 0 | 1 | 2;
}

export interface TraceRequestInput {
  serviceName: string;
  resourceAttributes?: Record<string, AttributeValue>;
  scopeName?: string;
  spans: SpanInput[];
}

export interface BuiltSpan {
  traceId: string;
  spanId: string;
  name: string;
}

export interface ExportTraceServiceRequest {
  resourceSpans: Array<{
    resource: { attributes: OtlpJsonKeyValue[] };
    scopeSpans: Array<{
      scope: { name: string };
      spans: Array<Record<string, unknown>>;
    }>;
  }>;
}

export function randomTraceId(): string {
  return randomBytes(16).toString('hex');
}

export function randomSpanId(): string {
  return randomBytes(8).toString('hex');
}

export function toKeyValues(attributes: Record<string, AttributeValue>): OtlpJsonKeyValue[] {
  return Object.entries(attributes).map(([key, v]) => {
    if (typeof v === 'string') return { key, value: { stringValue: v } };
    if (typeof v === 'boolean') return { key, value: { boolValue: v } };
    if (Number.isInteger(v)) return { key, value: { intValue: String(v) } };
    return { key, value: { doubleValue: v } };
  });
}

/** One resource, one scope, the given spans; returns the body and the ids it used. */
export function buildTraceRequest(input: TraceRequestInput): {
  body: ExportTraceServiceRequest;
  spans: BuiltSpan[];
} {
  const now = BigInt(Date.now()) * 1_000_000n;
  const built: BuiltSpan[] = [];
  const spans = input.spans.map((span) => {
    const traceId = span.traceId ?? randomTraceId();
    const spanId = span.spanId ?? randomSpanId();
    built.push({ traceId, spanId, name: span.name });
    const start = span.startTimeUnixNano ?? now;
    const end = start + (span.durationNanos ?? 1_000_000n);
    return {
      traceId,
      spanId,
      ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
      name: span.name,
      kind: span.kind ?? 1,
      startTimeUnixNano: start.toString(),
      endTimeUnixNano: end.toString(),
      attributes: toKeyValues(span.attributes ?? {}),
      status: { code: span.statusCode ?? 0 },
    };
  });
  return {
    body: {
      resourceSpans: [
        {
          resource: {
            attributes: toKeyValues({
              'service.name': input.serviceName,
              ...input.resourceAttributes,
            }),
          },
          scopeSpans: [{ scope: { name: input.scopeName ?? 'agent-audit-test' }, spans }],
        },
      ],
    },
    spans: built,
  };
}

/** POSTs an OTLP/JSON body; returns the status and response text (never throws on HTTP errors). */
export async function postTraces(
  tracesUrl: string,
  body: ExportTraceServiceRequest | string,
  timeoutMs = 10_000,
): Promise<{ status: number; text: string }> {
  const res = await fetch(tracesUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, text: await res.text() };
}
