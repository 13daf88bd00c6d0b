import type { Context } from '@opentelemetry/api';

/**
 * The OpenTelemetry context each open OpenAI Agents SDK span maps to (keyed by the SDK's span
 * id), shared by the trace processor (agent, handoff, guardrail spans; turns and tasks pass
 * their parent's through) and the tool wrapper (a function span maps to its `execute_tool`
 * span), so that every record lands under the right run and parent even though the SDK keeps
 * its own span stack.
 *
 * The SDK's no-op spans (tracing off) all share one id: they are never keys here. The tables
 * filled by the wrappers and emptied by the processor are bounded, for a process that audits
 * agents without registering the processor.
 */
const contexts = new Map<string, Context>();
const handoffReasons = new Map<string, string>();
const audited = new Set<string>();
const MAX_PENDING = 10_000;
/** The SDK's id of every span and trace when tracing is off. */
const NOOP_ID = 'no-op';

/** The SDK span's id, or undefined for a missing or no-op span. */
export function sdkSpanKey(span: { spanId: string } | null | undefined): string | undefined {
  return span == null || span.spanId === NOOP_ID ? undefined : span.spanId;
}

export function linkSpan(sdkSpanId: string | undefined, ctx: Context): void {
  if (sdkSpanId !== undefined) contexts.set(sdkSpanId, ctx);
}

export function linkedContext(sdkSpanId: string | null | undefined): Context | undefined {
  return sdkSpanId == null || sdkSpanId === NOOP_ID ? undefined : contexts.get(sdkSpanId);
}

export function unlinkSpan(sdkSpanId: string | undefined): void {
  if (sdkSpanId !== undefined) contexts.delete(sdkSpanId);
}

/** Reasons given by the model for a handoff, keyed by the SDK's handoff span id. */
export function setHandoffReason(sdkSpanId: string | undefined, reason: string): void {
  if (sdkSpanId === undefined) return;
  if (handoffReasons.size >= MAX_PENDING) dropOldest(handoffReasons);
  handoffReasons.set(sdkSpanId, reason);
}

export function takeHandoffReason(sdkSpanId: string): string | undefined {
  const r = handoffReasons.get(sdkSpanId);
  handoffReasons.delete(sdkSpanId);
  return r;
}

/** SDK function spans whose call went through the audited tool wrapper. */
export function markAudited(sdkSpanId: string | undefined): void {
  if (sdkSpanId === undefined) return;
  if (audited.size >= MAX_PENDING) dropOldest(audited);
  audited.add(sdkSpanId);
}

export function takeAudited(sdkSpanId: string): boolean {
  return audited.delete(sdkSpanId);
}

function dropOldest(table: Map<string, unknown> | Set<string>): void {
  const first = table.keys().next();
  if (first.done !== true) table.delete(first.value);
}
