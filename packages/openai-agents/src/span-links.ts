import type { Context } from '@opentelemetry/api';

/**
 * The OpenTelemetry context each open OpenAI Agents SDK span maps to (keyed by the SDK's span
 * id), shared by the trace processor (agent, turn, handoff, guardrail spans) and the tool
 * wrapper (a function span maps to its `execute_tool` span), so that every record lands under
 * the right run and parent even though the SDK keeps its own span stack.
 */
const contexts = new Map<string, Context>();

export function linkSpan(sdkSpanId: string, ctx: Context): void {
  contexts.set(sdkSpanId, ctx);
}

export function linkedContext(sdkSpanId: string | null | undefined): Context | undefined {
  return sdkSpanId == null ? undefined : contexts.get(sdkSpanId);
}

export function unlinkSpan(sdkSpanId: string): void {
  contexts.delete(sdkSpanId);
}

/** Reasons given by the model for a handoff, keyed by the SDK's handoff span id. */
const handoffReasons = new Map<string, string>();

export function setHandoffReason(sdkSpanId: string, reason: string): void {
  handoffReasons.set(sdkSpanId, reason);
}

export function takeHandoffReason(sdkSpanId: string): string | undefined {
  const r = handoffReasons.get(sdkSpanId);
  handoffReasons.delete(sdkSpanId);
  return r;
}

/** SDK function spans whose call went through the audited tool wrapper. */
const audited = new Set<string>();

export function markAudited(sdkSpanId: string): void {
  audited.add(sdkSpanId);
}

export function takeAudited(sdkSpanId: string): boolean {
  return audited.delete(sdkSpanId);
}
