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
  // Cheap filter first: only tool spans are parsed.
  if (!record.payloadJson.includes(`"${EXECUTE_TOOL}"`)) return undefined;
  let payload: Record<string, unknown> | undefined;
  try {
    payload = obj(JSON.parse(record.payloadJson));
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
  const timeMs = end !== undefined ? Number(end / 1_000_000n) : start !== undefined ? Number(start / 1_000_000n) : 0;
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
