import { ATTR } from './attribute-names.js';
import type { AttributeValue, OtlpSpanView } from './otlp-json.js';

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
    operation: str(a[ATTR.genAiOperation]),
    start: nanosToIso(view.startTimeUnixNano),
    end: ended ? nanosToIso(view.endTimeUnixNano) : null,
    start_unix_nano: view.startTimeUnixNano ?? null,
    end_unix_nano: ended ? (view.endTimeUnixNano ?? null) : null,
    duration_ms: ended ? durationMs(view.startTimeUnixNano, view.endTimeUnixNano) : null,
    service: str(r[ATTR.serviceName]),
    pid: int(r[ATTR.processPid]),
    run_id: str(a[ATTR.runId]),
    agent_id: str(a[ATTR.agentId] ?? a[ATTR.genAiAgentId]),
    agent_name: str(a[ATTR.agentName] ?? a[ATTR.genAiAgentName]),
    principal: str(a[ATTR.triggerPrincipal]),
    tenant_id: str(a[ATTR.tenantId]),
    tool: str(a[ATTR.toolName] ?? a[ATTR.genAiToolName]),
    tool_call_id: str(a[ATTR.genAiToolCallId]),
    decision: str(a[ATTR.decisionOutcome]),
    decision_reason: str(a[ATTR.decisionReason]),
    decision_policy: str(a[ATTR.decisionPolicy]),
    credential_ref: str(a[ATTR.credentialRef]),
    input_hash: str(a[ATTR.inputHash]),
    output_hash: str(a[ATTR.outputHash]),
    status: ended ? (STATUS_NAMES[view.statusCode] ?? 'unset') : 'incomplete',
    status_message: view.statusMessage ?? null,
    error_type: str(a[ATTR.errorType]),
    violation: a[ATTR.auditViolation] ?? null,
    missing: a[ATTR.auditMissing] ?? null,
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
