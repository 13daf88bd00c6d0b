import {
  ATTR_AGENT_ID,
  ATTR_AGENT_NAME,
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_DECISION_REASON,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_INPUT_HASH,
  ATTR_INPUT_HASH_ERROR,
  ATTR_OUTPUT_HASH,
  ATTR_PROMPT_HASH,
  ATTR_PROMPT_HASH_ERROR,
  ATTR_TENANT_ID,
  ATTR_TOOL_NAME,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_WORKFLOW_RUN_ID,
  AUDIT_INSTRUMENTATION_SCOPE,
} from '@agent-audit/instrumentation/attributes';
import type { AttributeValue, OtlpSpanView } from './otlp-json.js';

// OpenTelemetry resource conventions (stable), not agent-audit names.
export const RESOURCE_SERVICE_NAME = 'service.name';
const RESOURCE_PROCESS_PID = 'process.pid';

/**
 * One span of a run's timeline, as `trail --json` prints it. Field names are part of the CLI
 * contract: add fields, never rename them. Absent values are `null`, never missing keys.
 */
export interface TrailSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  /** Nesting depth in the timeline: 0 for a root (or a span whose parent is not in the run). */
  depth: number;
  name: string;
  /** internal | server | client | producer | consumer | unspecified */
  kind: string;
  /** `gen_ai.operation.name` (invoke_agent, execute_tool, chat, …). */
  operation: string | null;
  /**
   * Instrumentation scope that made the span: `@agent-audit/instrumentation` for the audit's
   * own spans, a framework's name (`ai`, `gen_ai`, …) for its telemetry; null when unknown.
   */
  scope: string | null;
  start: string | null;
  end: string | null;
  start_unix_nano: string | null;
  end_unix_nano: string | null;
  duration_ms: number | null;
  /** Resource `service.name` of the process that recorded the span. */
  service: string | null;
  pid: number | null;
  run_id: string | null;
  agent_id: string | null;
  agent_name: string | null;
  principal: string | null;
  tenant_id: string | null;
  tool: string | null;
  tool_call_id: string | null;
  decision: string | null;
  decision_reason: string | null;
  decision_policy: string | null;
  credential_ref: string | null;
  input_hash: string | null;
  output_hash: string | null;
  /** ok | error | unset | incomplete (started, never ended: only its pre-exec record exists). */
  status: string;
  status_message: string | null;
  error_type: string | null;
  violation: AttributeValue;
  missing: AttributeValue;
  incomplete: boolean;
  /** Sequence number of the store record the span came from; null when read from Jaeger. */
  seq: number | null;
  /** Directory of the store holding that record; null when read from Jaeger. */
  store: string | null;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  events: Array<{ name: string; time: string | null; attributes: Record<string, AttributeValue> }>;
}

const KIND_NAMES = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_NAMES = ['unset', 'ok', 'error'];

function str(value: AttributeValue | undefined): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function int(value: AttributeValue | undefined): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return null;
}

/** ISO 8601 with millisecond precision from nanoseconds since the epoch. */
export function nanosToIso(nanos: string | null | undefined): string | null {
  if (!nanos) return null;
  const ms = Number(BigInt(nanos) / 1_000_000n);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function durationMs(start: string | undefined, end: string | undefined): number | null {
  if (!start || !end) return null;
  const micros = (BigInt(end) - BigInt(start)) / 1000n;
  return Number(micros) / 1000;
}

/** Kind name from the OTLP enum (SPAN_KIND_INTERNAL = 1, …). */
export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? 'unspecified';
}

/**
 * A timeline span from an OTLP span. `ended` is false for a pre-exec intent whose end was
 * never recorded (a crash, a kill, or a tool still running).
 */
export function trailSpanOf(
  view: OtlpSpanView,
  ended: boolean,
  seq: number | null,
  store: string | null = null,
): TrailSpan {
  const a = view.attributes;
  const r = view.resource;
  return {
    trace_id: view.traceId,
    span_id: view.spanId,
    parent_span_id: view.parentSpanId ?? null,
    depth: 0,
    name: view.name,
    kind: kindName(view.kind),
    scope: view.scopeName ?? null,
    operation: str(a[ATTR_GEN_AI_OPERATION_NAME]),
    start: nanosToIso(view.startTimeUnixNano),
    end: ended ? nanosToIso(view.endTimeUnixNano) : null,
    start_unix_nano: view.startTimeUnixNano ?? null,
    end_unix_nano: ended ? (view.endTimeUnixNano ?? null) : null,
    duration_ms: ended ? durationMs(view.startTimeUnixNano, view.endTimeUnixNano) : null,
    service: str(r[RESOURCE_SERVICE_NAME]),
    pid: int(r[RESOURCE_PROCESS_PID]),
    run_id: str(a[ATTR_WORKFLOW_RUN_ID]),
    agent_id: str(a[ATTR_AGENT_ID] ?? a[ATTR_GEN_AI_AGENT_ID]),
    agent_name: str(a[ATTR_AGENT_NAME] ?? a[ATTR_GEN_AI_AGENT_NAME]),
    principal: str(a[ATTR_TRIGGER_PRINCIPAL]),
    tenant_id: str(a[ATTR_TENANT_ID]),
    tool: str(a[ATTR_TOOL_NAME] ?? a[ATTR_GEN_AI_TOOL_NAME]),
    tool_call_id: str(a[ATTR_GEN_AI_TOOL_CALL_ID]),
    decision: str(a[ATTR_DECISION_OUTCOME]),
    decision_reason: str(a[ATTR_DECISION_REASON]),
    decision_policy: str(a[ATTR_DECISION_POLICY]),
    credential_ref: str(a[ATTR_CREDENTIAL_REF]),
    input_hash: str(a[ATTR_INPUT_HASH]),
    output_hash: str(a[ATTR_OUTPUT_HASH]),
    status: ended ? (STATUS_NAMES[view.statusCode] ?? 'unset') : 'incomplete',
    status_message: view.statusMessage ?? null,
    error_type: str(a[ATTR_ERROR_TYPE]),
    violation: a[ATTR_AUDIT_VIOLATION] ?? null,
    missing: a[ATTR_AUDIT_MISSING] ?? null,
    incomplete: !ended,
    seq,
    store,
    attributes: a,
    resource: r,
    events: view.events.map((event) => ({
      name: event.name,
      time: nanosToIso(event.timeUnixNano),
      attributes: event.attributes,
    })),
  };
}

function compareStart(a: TrailSpan, b: TrailSpan): number {
  if (a.start_unix_nano === b.start_unix_nano) return a.span_id < b.span_id ? -1 : 1;
  if (a.start_unix_nano === null) return 1;
  if (b.start_unix_nano === null) return -1;
  return BigInt(a.start_unix_nano) < BigInt(b.start_unix_nano) ? -1 : 1;
}

/**
 * The run's spans in timeline order, as Jaeger's trace view shows them: each root by start
 * time, then its children depth-first by start time, `depth` set for indentation. A span
 * whose parent is not in the run (a remote caller outside the run, a lost record) is a root.
 */
export function orderTimeline(spans: TrailSpan[]): TrailSpan[] {
  const byId = new Map<string, TrailSpan>();
  for (const span of spans) byId.set(span.span_id, span);
  const children = new Map<string, TrailSpan[]>();
  const roots: TrailSpan[] = [];
  for (const span of byId.values()) {
    const parent = span.parent_span_id;
    if (parent && parent !== span.span_id && byId.has(parent)) {
      const list = children.get(parent) ?? [];
      list.push(span);
      children.set(parent, list);
    } else {
      roots.push(span);
    }
  }
  const out: TrailSpan[] = [];
  const seen = new Set<string>();
  const visit = (span: TrailSpan, depth: number): void => {
    if (seen.has(span.span_id)) return;
    seen.add(span.span_id);
    out.push({ ...span, depth });
    for (const child of (children.get(span.span_id) ?? []).sort(compareStart)) {
      visit(child, depth + 1);
    }
  };
  for (const root of roots.sort(compareStart)) visit(root, 0);
  // A parent cycle (only possible in a damaged record) leaves spans unvisited; show them
  // rather than hide them.
  for (const span of [...byId.values()].sort(compareStart)) visit(span, 0);
  return out;
}

/**
 * A tool call, as opposed to the spans that only mention a tool (an `approval {tool}` span,
 * a `side_effect …` span): the GenAI operation says so, or, from an SDK that does not set
 * it, the `execute_tool` span name.
 */
export function isToolCall(span: TrailSpan): boolean {
  if (!isAuditRecord(span)) return false;
  if (span.operation !== null) return span.operation === 'execute_tool';
  return span.tool !== null && span.name.startsWith('execute_tool');
}

/**
 * A span the audit recorded, not a framework's own telemetry of the same call (the AI SDK's
 * `execute_tool` and model-call spans sit beside the audit's): made by the audit
 * instrumentation, or carrying the audit's hashes, or from a reader that lost the scope.
 */
export function isAuditRecord(span: TrailSpan): boolean {
  return (
    span.scope === null ||
    span.scope === AUDIT_INSTRUMENTATION_SCOPE ||
    span.input_hash !== null ||
    span.attributes[ATTR_INPUT_HASH_ERROR] !== undefined ||
    span.attributes[ATTR_PROMPT_HASH] !== undefined ||
    span.attributes[ATTR_PROMPT_HASH_ERROR] !== undefined
  );
}
