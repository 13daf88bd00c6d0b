/**
 * Reading the OTLP/JSON encoding (opentelemetry-proto's JSON mapping, as produced by
 * `JsonTraceSerializer`) without depending on OpenTelemetry: the CLI must run on an auditor's
 * laptop with the store package alone. Every accessor is defensive because the input is a
 * file on disk, not a value this process produced.
 */

export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

export interface OtlpEvent {
  name: string;
  timeUnixNano: string | undefined;
  attributes: Record<string, AttributeValue>;
}

/** One span of an ExportTraceServiceRequest, with the resource it came from. */
export interface OtlpSpanView {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  startTimeUnixNano: string | undefined;
  endTimeUnixNano: string | undefined;
  attributes: Record<string, AttributeValue>;
  events: OtlpEvent[];
  statusCode: number;
  statusMessage: string | undefined;
  resource: Record<string, AttributeValue>;
  scopeName: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Nanoseconds since the epoch as a decimal string (OTLP/JSON allows a string or a number). */
function asNanos(value: unknown): string | undefined {
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    return BigInt(Math.trunc(value)).toString();
  }
  if (isObject(value) && typeof value.low === 'number' && typeof value.high === 'number') {
    // protobufjs "long bits" form, seen when a serializer is configured with useLongBits.
    return ((BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0)).toString();
  }
  return undefined;
}

/** An OTLP `AnyValue` as plain JSON. int64 beyond 2^53 stays a decimal string. */
export function fromAnyValue(value: unknown): AttributeValue {
  if (!isObject(value)) return null;
  if ('stringValue' in value) return asString(value.stringValue) ?? String(value.stringValue);
  if ('boolValue' in value) return value.boolValue === true;
  if ('intValue' in value) {
    const raw = value.intValue;
    if (typeof raw === 'number') return raw;
    if (typeof raw === 'string') {
      const n = Number(raw);
      return Number.isSafeInteger(n) ? n : raw;
    }
    return null;
  }
  if ('doubleValue' in value) {
    const raw = value.doubleValue;
    return typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : null;
  }
  if ('arrayValue' in value) {
    const values = isObject(value.arrayValue) ? asArray(value.arrayValue.values) : [];
    return values.map(fromAnyValue);
  }
  if ('kvlistValue' in value) {
    return fromKeyValues(isObject(value.kvlistValue) ? value.kvlistValue.values : []);
  }
  if ('bytesValue' in value) return asString(value.bytesValue) ?? null;
  return null;
}

/** An OTLP `KeyValue` list as an object; a repeated key keeps its last value. */
export function fromKeyValues(list: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const entry of asArray(list)) {
    if (!isObject(entry) || typeof entry.key !== 'string') continue;
    out[entry.key] = fromAnyValue(entry.value);
  }
  return out;
}

function spanView(
  span: Record<string, unknown>,
  resource: Record<string, AttributeValue>,
  scopeName: string | undefined,
): OtlpSpanView | undefined {
  const spanId = asString(span.spanId);
  const traceId = asString(span.traceId);
  if (!spanId || !traceId) return undefined;
  const status = isObject(span.status) ? span.status : {};
  const parent = asString(span.parentSpanId);
  return {
    traceId: traceId.toLowerCase(),
    spanId: spanId.toLowerCase(),
    parentSpanId: parent ? parent.toLowerCase() : undefined,
    name: asString(span.name) ?? '',
    kind: typeof span.kind === 'number' ? span.kind : 0,
    startTimeUnixNano: asNanos(span.startTimeUnixNano),
    endTimeUnixNano: asNanos(span.endTimeUnixNano),
    attributes: fromKeyValues(span.attributes),
    events: asArray(span.events)
      .filter(isObject)
      .map((event) => ({
        name: asString(event.name) ?? '',
        timeUnixNano: asNanos(event.timeUnixNano),
        attributes: fromKeyValues(event.attributes),
      })),
    statusCode: typeof status.code === 'number' ? status.code : 0,
    statusMessage: asString(status.message) || undefined,
    resource,
    scopeName,
  };
}

/** The spans of an OTLP/JSON `ExportTraceServiceRequest`, each with its resource attributes. */
export function spansOfExportRequest(payload: unknown): OtlpSpanView[] {
  const out: OtlpSpanView[] = [];
  if (!isObject(payload)) return out;
  for (const resourceSpans of asArray(payload.resourceSpans)) {
    if (!isObject(resourceSpans)) continue;
    const resource = fromKeyValues(
      isObject(resourceSpans.resource) ? resourceSpans.resource.attributes : [],
    );
    for (const scopeSpans of asArray(resourceSpans.scopeSpans)) {
      if (!isObject(scopeSpans)) continue;
      const scopeName = isObject(scopeSpans.scope) ? asString(scopeSpans.scope.name) : undefined;
      for (const span of asArray(scopeSpans.spans)) {
        if (!isObject(span)) continue;
        const view = spanView(span, resource, scopeName);
        if (view) out.push(view);
      }
    }
  }
  return out;
}

/**
 * A pre-exec intent record (`span.start` payload): `{ traceId, spanId, parentSpanId?, name,
 * startTimeUnixNano, attributes }`, attributes as OTLP KeyValues. Also accepts a full
 * ExportTraceServiceRequest, in case a writer stores the started span that way.
 */
export function spanOfIntent(payload: unknown): OtlpSpanView | undefined {
  if (!isObject(payload)) return undefined;
  if ('resourceSpans' in payload) return spansOfExportRequest(payload)[0];
  const resource = isObject(payload.resource) ? fromKeyValues(payload.resource.attributes) : {};
  return spanView(payload, resource, undefined);
}
