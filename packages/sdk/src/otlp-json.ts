import {
  ATTR_AGENT_ID,
  ATTR_TENANT_ID,
  ATTR_TOOL_NAME,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_WORKFLOW_RUN_ID,
} from '@agent-audit/instrumentation';
import { type CanonicalFragment, canonicalFragment } from '@agent-audit/store';
import {
  type Attributes,
  type AttributeValue,
  type HrTime,
  SpanStatusCode,
} from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type {
  JsonObject,
  JsonValue,
  OtlpKeyValue,
  OtlpTraceRequest,
  RecordTags,
  SpanStartPayload,
} from './internal-types.js';
import { ATTR_GEN_AI_TOOL_NAME } from './semconv.js';

/**
 * The `span.end` record payload: the span as an OTLP/JSON `ExportTraceServiceRequest` holding
 * that one span, so any record can be replayed to `/v1/traces` as is.
 *
 * Built directly rather than through `JsonTraceSerializer.serializeRequest([span])` + parse:
 * the serializer's bytes round trip (stringify, encode, decode, parse) cost about a fifth of an
 * audited tool call in `pnpm bench`. The object is field for field what the serializer sends
 * (test/otlp-json.test.ts compares them for many kinds of spans) with one deliberate difference:
 * a non-finite double is spelled "NaN"/"Infinity"/"-Infinity" (the protobuf JSON spelling)
 * instead of the serializer's `null`, which would lose the value. Only plain JSON is produced:
 * no BigInt (timestamps are decimal strings), no undefined members, no -0.
 */
export function spanEndPayload(span: ReadableSpan): OtlpTraceRequest;
/**
 * With `texts`, the same JSON value with its recurring parts (resource, scope, attributes seen
 * before) as canonical fragments of the store: for the store's records only (see
 * {@link RecordTexts}).
 */
export function spanEndPayload(span: ReadableSpan, texts: RecordTexts): unknown;
export function spanEndPayload(span: ReadableSpan, texts?: RecordTexts): unknown {
  // Every object below is built with its keys in sorted (UTF-16) order: the store's RFC 8785
  // canonicalizer then hands the whole payload to the native JSON.stringify instead of sorting
  // keys by hand (the biggest cost of an append). test/otlp-json.test.ts checks the order.
  const scopeSpans: Record<string, unknown> = {};
  const scopeSchema = span.instrumentationScope.schemaUrl;
  if (scopeSchema !== undefined) scopeSpans.schemaUrl = scopeSchema;
  scopeSpans.scope = texts
    ? texts.scope(span.instrumentationScope)
    : scopeJson(span.instrumentationScope);
  scopeSpans.spans = [otlpSpan(span, texts)];
  const resource = resourceJson(span.resource);
  const resourceSpans: Record<string, unknown> = {
    resource: texts ? texts.resource(span.resource) : resource,
  };
  if (resource.schemaUrl !== undefined) resourceSpans.schemaUrl = resource.schemaUrl;
  resourceSpans.scopeSpans = [scopeSpans];
  return { resourceSpans: [resourceSpans] };
}

/** `JsonTraceSerializer`'s bytes for the span, parsed: the reference the fast path must match. */
export function spanEndPayloadViaSerializer(span: ReadableSpan): OtlpTraceRequest {
  const bytes = JsonTraceSerializer.serializeRequest([span]);
  if (bytes === undefined) {
    throw new Error(`OTLP JSON serializer returned nothing for span ${span.spanContext().spanId}`);
  }
  return JSON.parse(new TextDecoder().decode(bytes)) as OtlpTraceRequest;
}

// OTLP span flags: the low 8 bits are the W3C trace flags, then HAS_IS_REMOTE and IS_REMOTE.
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAG_HAS_IS_REMOTE | (isRemote ? FLAG_IS_REMOTE : 0);
}

function otlpSpan(span: ReadableSpan, texts: RecordTexts | undefined): JsonObject {
  const ctx = span.spanContext();
  const events: JsonValue[] = [];
  for (const event of span.events) {
    events.push({
      attributes: event.attributes ? toOtlpAttributes(event.attributes) : [],
      droppedAttributesCount: event.droppedAttributesCount || 0,
      name: event.name,
      timeUnixNano: hrTimeToNanosString(event.time),
    });
  }
  const links: JsonValue[] = [];
  for (const link of span.links) {
    const l: JsonObject = {
      attributes: link.attributes ? toOtlpAttributes(link.attributes) : [],
      droppedAttributesCount: link.droppedAttributesCount || 0,
      flags: spanFlags(link.context.traceFlags, link.context.isRemote),
      spanId: link.context.spanId,
      traceId: link.context.traceId,
    };
    const linkState = link.context.traceState?.serialize();
    if (linkState !== undefined) l.traceState = linkState;
    links.push(l);
  }
  const status: JsonObject = { code: span.status.code };
  if (span.status.message !== undefined) status.message = span.status.message;
  const out: JsonObject = {
    attributes: (texts
      ? texts.attributes(span.attributes)
      : toOtlpAttributes(span.attributes)) as JsonValue,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    endTimeUnixNano: hrTimeToNanosString(span.endTime),
    events,
    flags: spanFlags(ctx.traceFlags, span.parentSpanContext?.isRemote),
    kind: span.kind == null ? 0 : span.kind + 1,
    links,
    name: span.name,
  };
  const parent = span.parentSpanContext?.spanId;
  if (parent) out.parentSpanId = parent;
  out.spanId = ctx.spanId;
  out.startTimeUnixNano = hrTimeToNanosString(span.startTime);
  out.status = status;
  out.traceId = ctx.traceId;
  const traceState = ctx.traceState?.serialize();
  if (traceState !== undefined) out.traceState = traceState;
  return out;
}

// A process has one resource and a handful of scopes: convert each once. The cached objects are
// shared by many payloads and never mutated (the store only reads them to canonicalize).
const resourceCache = new WeakMap<object, JsonObject>();
const scopeCache = new WeakMap<object, JsonObject>();

function resourceJson(resource: ReadableSpan['resource']): JsonObject {
  let out = resourceCache.get(resource);
  if (out === undefined) {
    out = { attributes: toOtlpAttributes(resource.attributes), droppedAttributesCount: 0 };
    if (resource.schemaUrl) out.schemaUrl = resource.schemaUrl;
    resourceCache.set(resource, out);
  }
  return out;
}

function scopeJson(scope: ReadableSpan['instrumentationScope']): JsonObject {
  let out = scopeCache.get(scope);
  if (out === undefined) {
    out = {};
    const attrs = (scope as { attributes?: Attributes }).attributes;
    if (attrs && Object.keys(attrs).length > 0) {
      out.attributes = toOtlpAttributes(attrs);
      out.droppedAttributesCount =
        (scope as { droppedAttributesCount?: number }).droppedAttributesCount ?? 0;
    }
    out.name = scope.name;
    if (scope.version !== undefined) out.version = scope.version;
    scopeCache.set(scope, out);
  }
  return out;
}

/**
 * The `span.start` record payload (pre-exec intent): what is about to run, recorded before it
 * runs. Attributes use the OTLP JSON `KeyValue` form so a reader decodes both record kinds alike.
 */
export function spanStartPayload(span: ReadableSpan): SpanStartPayload;
/** With `texts`: as {@link spanEndPayload} with them, for the store's records only. */
export function spanStartPayload(span: ReadableSpan, texts: RecordTexts): unknown;
export function spanStartPayload(span: ReadableSpan, texts?: RecordTexts): unknown {
  const ctx = span.spanContext();
  // Keys in sorted order, for the store's canonicalizer (see spanEndPayload).
  const payload: SpanStartPayload = {
    attributes: texts ? texts.attributes(span.attributes) : toOtlpAttributes(span.attributes),
    name: span.name,
  } as SpanStartPayload;
  const parent = span.parentSpanContext?.spanId;
  if (parent) payload.parentSpanId = parent;
  payload.spanId = ctx.spanId;
  payload.startTimeUnixNano = hrTimeToNanosString(span.startTime);
  payload.traceId = ctx.traceId;
  return payload;
}

/**
 * Index keys for the store, taken from the span's attributes so the store never has to
 * understand OTLP. Only string values become tags; absent ones are left out.
 */
export function spanRecordTags(span: ReadableSpan, withStatus = true): RecordTags {
  const ctx = span.spanContext();
  const attrs = span.attributes;
  // Keys in sorted order, for the store's canonicalizer (see spanEndPayload).
  // Named stores (`tags.agent = …`), not `tags[key] = …` through a helper: the keyed stores
  // made the start and end records' tags cost 180 ns CPU per span instead of 30 (measured in
  // isolation; the helper showed as 1.5% of the audited tool call's profile).
  const tags: RecordTags = {};
  const agent = attrs[ATTR_AGENT_ID];
  if (isTag(agent)) tags.agent = agent;
  const parent = span.parentSpanContext?.spanId;
  if (isTag(parent)) tags.parent = parent;
  const principal = attrs[ATTR_TRIGGER_PRINCIPAL];
  if (isTag(principal)) tags.principal = principal;
  const run = attrs[ATTR_WORKFLOW_RUN_ID];
  if (isTag(run)) tags.run = run;
  tags.span = ctx.spanId;
  if (withStatus) tags.status = span.status.code === SpanStatusCode.ERROR ? 'error' : 'ok';
  const tenant = attrs[ATTR_TENANT_ID];
  if (isTag(tenant)) tags.tenant = tenant;
  const tool = attrs[ATTR_TOOL_NAME] ?? attrs[ATTR_GEN_AI_TOOL_NAME];
  if (isTag(tool)) tags.tool = tool;
  tags.trace = ctx.traceId;
  return tags;
}

/** Nanoseconds since the epoch as a decimal string, the OTLP JSON encoding of fixed64. */
export function hrTimeToNanosString(time: HrTime): string {
  const seconds = time[0];
  const nanos = time[1];
  // Three per tool span; the BigInt arithmetic cost ~0.15 us each. For the normal form (whole
  // seconds >= 1, whole nanoseconds below one second) the decimal digits are the seconds'
  // digits followed by the nanoseconds padded to nine: the same string, from two small
  // integers. Anything else keeps the general form.
  if (
    Number.isSafeInteger(seconds) &&
    seconds > 0 &&
    Number.isInteger(nanos) &&
    nanos >= 0 &&
    nanos < 1_000_000_000
  ) {
    return `${seconds}${String(nanos).padStart(9, '0')}`;
  }
  return (BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(nanos))).toString();
}

/** OTel attributes → OTLP JSON `KeyValue[]`, keeping only JSON-representable values. */
export function toOtlpAttributes(attributes: Attributes): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value === undefined) continue;
    out.push({ key, value: toAnyValue(value) });
  }
  return out;
}

function toAnyValue(value: unknown): JsonObject {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    // JSON has no NaN/Infinity; OTLP JSON readers accept them as strings for doubles.
    if (!Number.isFinite(value)) return { doubleValue: String(value) };
    // `+ 0` turns -0 into 0: the same number, and the only spelling canonical JSON knows.
    return Number.isInteger(value) ? { intValue: value + 0 } : { doubleValue: value };
  }
  if (Array.isArray(value)) {
    const values: JsonValue[] = [];
    for (const item of value) values.push(toAnyValue(item));
    return { arrayValue: { values } };
  }
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value).toString('base64') };
  if (typeof value === 'object' && value !== null) {
    // Span events and log-style attributes may hold maps (OTLP AnyValue kvlist).
    const values: JsonValue[] = [];
    for (const key of Object.keys(value)) {
      values.push({ key, value: toAnyValue((value as Record<string, unknown>)[key]) });
    }
    return { kvlistValue: { values } };
  }
  return {};
}

/** Most attribute keys remembered by {@link RecordTexts}; when full it starts over. */
const RECORD_TEXTS_MAX_KEYS = 1024;
/**
 * Longest string value remembered: a large one (captured content) is rarely repeated, and
 * remembering it would keep it and its text alive until the key's next value.
 */
const RECORD_TEXTS_MAX_STRING = 1024;

/**
 * The store's canonical text of the parts of span records that recur, each serialized once:
 * the resource and scope (the same in every span.end record of a process), and per attribute
 * key the `KeyValue` of the last value seen under it. A run's attribution, the tool's names and
 * the decision recur on every span of a run, and every start attribute of a span recurs in its
 * end record: the second time, the store splices the text instead of serializing the object
 * again (profile of the full audited tool call: the records' JSON.stringify was its largest
 * cost, see the commit message).
 *
 * The text of a `KeyValue` is a function of its key and value only, so a hit is exactly the
 * bytes a miss would write; only primitive values are remembered (arrays, maps and long strings
 * are written as objects, as before). One instance per processor; bounded by the number of keys
 * and the length of the strings kept.
 */
export class RecordTexts {
  readonly #last = new Map<string, { value: AttributeValue; text: CanonicalFragment }>();
  readonly #resources = new WeakMap<object, CanonicalFragment>();
  readonly #scopes = new WeakMap<object, CanonicalFragment>();

  /** OTLP `KeyValue[]` of `attributes`, recurring ones as the store's canonical fragments. */
  attributes(attributes: Attributes): Array<OtlpKeyValue | CanonicalFragment> {
    const out: Array<OtlpKeyValue | CanonicalFragment> = [];
    const last = this.#last;
    for (const key of Object.keys(attributes)) {
      const value = attributes[key];
      if (value === undefined) continue;
      if (
        value === null ||
        typeof value === 'object' ||
        (typeof value === 'string' && value.length > RECORD_TEXTS_MAX_STRING)
      ) {
        out.push({ key, value: toAnyValue(value) });
        continue;
      }
      const known = last.get(key);
      if (known !== undefined && known.value === value) {
        out.push(known.text);
        continue;
      }
      const keyValue: OtlpKeyValue = { key, value: toAnyValue(value) };
      let text: CanonicalFragment;
      try {
        text = canonicalFragment(keyValue);
      } catch {
        // No canonical form: the store reports it when it encodes the record.
        out.push(keyValue);
        continue;
      }
      if (last.size >= RECORD_TEXTS_MAX_KEYS && known === undefined) last.clear();
      last.set(key, { value, text });
      out.push(text);
    }
    return out;
  }

  resource(resource: ReadableSpan['resource']): CanonicalFragment | JsonObject {
    return this.#once(this.#resources, resource, () => resourceJson(resource));
  }

  scope(scope: ReadableSpan['instrumentationScope']): CanonicalFragment | JsonObject {
    return this.#once(this.#scopes, scope, () => scopeJson(scope));
  }

  #once(
    memo: WeakMap<object, CanonicalFragment>,
    of: object,
    json: () => JsonObject,
  ): CanonicalFragment | JsonObject {
    let text = memo.get(of);
    if (text === undefined) {
      const value = json();
      try {
        text = canonicalFragment(value);
      } catch {
        return value;
      }
      memo.set(of, text);
    }
    return text;
  }
}

/** Only non-empty strings become tags. */
function isTag(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
