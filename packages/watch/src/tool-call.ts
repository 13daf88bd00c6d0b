import type { RawRecord } from '@agent-audit/store';
import { EXECUTE_TOOL, NAMES } from './feature-names.js';

/** One ended tool call as the detectors see it: features only, never raw content. */
export interface ToolCall {
  /** Origin of the store the record came from, and its seq there (the evidence). */
  origin: string;
  store: string;
  seq: number;
  runId: string | null;
  agentId: string;
  tool: string;
  tenant: string | null;
  principal: string | null;
  decision: string | null;
  decisionReason: string | null;
  /** End time, ms since the epoch (the writer's clock). */
  timeMs: number;
  durationMs: number | null;
  inputSize: number | null;
  outputSize: number | null;
  inputShape: string | null;
  inputSignals: string[];
  /** The denial type when the call was a permission denial (incl. `policy` for a stop). */
  denialType: string | null;
  error: boolean;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function obj(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** An OTLP AnyValue as plain JSON (defensive: the record is a file on disk). */
function anyValue(value: unknown): Json {
  const v = obj(value);
  if (!v) return null;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if ('boolValue' in v) return v.boolValue === true;
  if ('intValue' in v) {
    const n = Number(v.intValue);
    return Number.isFinite(n) ? n : null;
  }
  if ('doubleValue' in v) {
    const n = Number(v.doubleValue);
    return Number.isFinite(n) ? n : null;
  }
  const arr = obj(v.arrayValue);
  if (arr && Array.isArray(arr.values)) return arr.values.map(anyValue);
  return null;
}

function nanos(value: unknown): bigint | undefined {
  if (typeof value === 'string' && /^\d{1,25}$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return undefined;
}

const str = (v: Json | undefined): string | null =>
  typeof v === 'string' && v.length > 0 ? v : null;
const num = (v: Json | undefined): number | null =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;

/**
 * The tool call in a `span.end` record, or undefined when the record is not an ended
 * `execute_tool` span (other spans, events, store records). Never throws on odd payloads.
 */
export function toolCallOf(record: RawRecord, origin: string, store: string): ToolCall | undefined {
  if (record.type !== 'span.end') return undefined;
  const json = record.payloadJson;
  // Cheap filter first: only tool spans are parsed.
  if (!json.includes(`"${EXECUTE_TOOL}"`)) return undefined;
  const fast = fastSpan(json);
  if (fast) return callOfSpan(fast, record.seq, origin, store);
  let payload: Record<string, unknown> | undefined;
  try {
    payload = obj(JSON.parse(json));
  } catch {
    return undefined;
  }
  const rs = Array.isArray(payload?.resourceSpans) ? payload.resourceSpans : [];
  for (const r of rs) {
    const scopeSpans = obj(r)?.scopeSpans;
    for (const ss of Array.isArray(scopeSpans) ? scopeSpans : []) {
      const spans = obj(ss)?.spans;
      for (const span of Array.isArray(spans) ? spans : []) {
        const call = callOfSpan(obj(span), record.seq, origin, store);
        if (call) return call;
      }
    }
  }
  return undefined;
}

const SPAN_ATTRIBUTES = '"spans":[{"attributes":[';

/** Index of the `]` closing the array whose `[` is at `open` (strings skipped), or -1. */
function closingBracket(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string: up to the next quote not escaped.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * The first span of a stored OTLP/JSON payload without parsing all of it: its attributes
 * array (parsed alone), its times and status code. Stored payloads are canonical JSON (members
 * sorted), so a span starts with `attributes`; events and resource attributes, half of the
 * bytes, are never parsed. Undefined when the payload does not have that form (the caller then
 * parses it whole).
 */
function fastSpan(json: string): Record<string, unknown> | undefined {
  const at = json.indexOf(SPAN_ATTRIBUTES);
  if (at < 0) return undefined;
  const open = at + SPAN_ATTRIBUTES.length - 1;
  // The member after `attributes` in canonical order (the SDK always writes it); a raw `,"`
  // cannot occur inside a string, so the first one closes the array. Else: scan for it.
  const next = json.indexOf('],"droppedAttributesCount":', open);
  const close = next >= 0 ? next : closingBracket(json, open);
  if (close < 0) return undefined;
  let attributes: unknown;
  try {
    attributes = JSON.parse(json.slice(open, close + 1));
  } catch {
    return undefined;
  }
  const end = json.indexOf('"endTimeUnixNano":"', close);
  const start = json.indexOf('"startTimeUnixNano":"', close);
  const status = json.indexOf('"status":{"code":', start < 0 ? close : start);
  return {
    attributes,
    endTimeUnixNano: end < 0 ? undefined : digits(json, end + 19),
    startTimeUnixNano: start < 0 ? undefined : digits(json, start + 21),
    status: { code: status < 0 ? 0 : json.charCodeAt(status + 17) - 0x30 },
  };
}

/** The decimal digits at `from` (up to the next non-digit). */
function digits(text: string, from: number): string | undefined {
  let i = from;
  while (i < text.length && i - from < 25) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i > from ? text.slice(from, i) : undefined;
}

function callOfSpan(
  span: Record<string, unknown> | undefined,
  seq: number,
  origin: string,
  store: string,
): ToolCall | undefined {
  if (!span) return undefined;
  const a = new Map<string, Json>();
  for (const kv of Array.isArray(span.attributes) ? span.attributes : []) {
    const o = obj(kv);
    if (o && typeof o.key === 'string') a.set(o.key, anyValue(o.value));
  }
  if (a.get(NAMES.operation) !== EXECUTE_TOOL) return undefined;
  const tool = str(a.get(NAMES.tool)) ?? str(a.get(NAMES.genAiTool));
  if (!tool) return undefined;
  const agentId = str(a.get(NAMES.agentId)) ?? str(a.get(NAMES.genAiAgentId)) ?? 'unknown';
  const start = nanos(span.startTimeUnixNano);
  const end = nanos(span.endTimeUnixNano);
  const timeMs =
    end !== undefined
      ? Number(end / 1_000_000n)
      : start !== undefined
        ? Number(start / 1_000_000n)
        : 0;
  const durationMs =
    start !== undefined && end !== undefined && end >= start
      ? Number(end - start) / 1_000_000
      : null;
  const signals = a.get(NAMES.inputSignals);
  const decision = str(a.get(NAMES.decision));
  let denialType: string | null = null;
  if (a.get(NAMES.permissionDenied) === true) {
    denialType = str(a.get(NAMES.permissionDenialType)) ?? 'unknown';
  }
  const status = obj(span.status);
  return {
    origin,
    store,
    seq,
    runId: str(a.get(NAMES.runId)),
    agentId,
    tool,
    tenant: str(a.get(NAMES.tenant)),
    principal: str(a.get(NAMES.principal)),
    decision,
    decisionReason: str(a.get(NAMES.decisionReason)),
    // A time beyond what a Date can hold (a forged record) counts as unknown.
    timeMs: timeMs <= 8.64e15 ? timeMs : 0,
    durationMs,
    inputSize: num(a.get(NAMES.inputSize)),
    outputSize: num(a.get(NAMES.outputSize)),
    inputShape: str(a.get(NAMES.inputShape)),
    inputSignals: Array.isArray(signals)
      ? signals.filter((s): s is string => typeof s === 'string').sort()
      : [],
    denialType,
    error: status?.code === 2,
  };
}
