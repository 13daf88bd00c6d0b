/*
 * Run and trace context carried in an MCP request's `params._meta` (the GenAI MCP convention:
 * unprefixed `traceparent`, `tracestate`, `baggage`). Outgoing: the W3C trace context and only
 * our allow-listed baggage entries (run id, principal), and the signed run context
 * (`agent-audit-run-context`) when run-context trust is configured. Incoming: the same keys,
 * checked against the W3C limits first; a principal is adopted only from a signed context this
 * process verified (`configureRunContextTrust`), otherwise it is recorded as claimed.
 */
import {
  BAGGAGE_RUN_ID,
  BAGGAGE_TRIGGER_PRINCIPAL,
  extractRunContext,
  getClaimedRunContext,
  getRunContext,
  injectRunContext,
  RUN_CONTEXT_HEADER,
} from '@agent-audit/instrumentation';
import {
  VIOLATION_MALFORMED_TRACE_CONTEXT,
  VIOLATION_OVERSIZED_TRACE_CONTEXT,
} from '@agent-audit/instrumentation/attributes';
import { type Context, context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';

export const META_TRACEPARENT = 'traceparent';
export const META_TRACESTATE = 'tracestate';
export const META_BAGGAGE = 'baggage';
/** The signed run context (run, principal, trace, audience, expiry), as the HTTP header. */
export const META_RUN_CONTEXT = RUN_CONTEXT_HEADER;
const META_KEYS = [META_TRACEPARENT, META_TRACESTATE, META_BAGGAGE, META_RUN_CONTEXT] as const;

// W3C Trace Context: a version-00 traceparent is 55 characters; later versions may append
// fields, so up to 256 are read. tracestate: 32 members, implementations keep >= 512 chars.
// W3C Baggage: at most 8192 bytes in total.
export const MAX_TRACEPARENT_LENGTH = 256;
export const MAX_TRACESTATE_LENGTH = 512;
export const MAX_BAGGAGE_LENGTH = 8192;
/** A signed run context is a few hundred characters; anything far longer is refused. */
export const MAX_RUN_CONTEXT_LENGTH = 4096;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Writes `traceparent` (+ `tracestate`) and a `baggage` holding only the run id and principal
 * of `ctx` into `meta`. Whatever the caller put under these three keys is replaced: the call
 * being made is the parent. Other baggage of `ctx` is never sent.
 */
export function injectMeta(meta: Record<string, unknown>, ctx: Context = context.active()): void {
  for (const key of META_KEYS) delete meta[key];
  const run = getRunContext(ctx);
  let only = propagation.createBaggage();
  if (run !== undefined) {
    only = only.setEntry(BAGGAGE_RUN_ID, { value: run.runId });
    if (run.triggerPrincipal !== undefined) {
      only = only.setEntry(BAGGAGE_TRIGGER_PRINCIPAL, { value: run.triggerPrincipal });
    }
  }
  const carrier: Record<string, string> = {};
  injectRunContext(carrier, propagation.setBaggage(ctx, only));
  for (const key of META_KEYS) {
    const value = carrier[key];
    if (value !== undefined) meta[key] = value;
  }
}

/** What an incoming `_meta` said, and what was wrong with it. */
export interface ExtractedMeta {
  /** The remote parent and run (run id only: the principal is never adopted). */
  readonly ctx: Context;
  /** The remote run id, when the baggage carried a valid one. */
  readonly runId?: string | undefined;
  /**
   * The principal the caller claimed in its baggage (when well-formed) and that was not
   * adopted: no run-context trust is configured here (with trust configured, an unverified
   * context is recorded as claimed by the instrumentation itself).
   */
  readonly claimedPrincipal?: string | undefined;
  /** The run and principal came from a signed run context this process verified. */
  readonly verified?: boolean | undefined;
  /** `malformed_trace_context` / `oversized_trace_context`. */
  readonly violations: readonly string[];
  /** `<field>: <problem>` per finding. */
  readonly errors: readonly string[];
}

/**
 * The context an incoming request continues: its `_meta` trace context on a fresh root (never
 * the ambient context of the transport), and its run id. Never throws: every problem is
 * reported in `violations` / `errors` and that part of the context is dropped.
 */
export function extractMeta(meta: unknown): ExtractedMeta {
  const violations = new Set<string>();
  const errors: string[] = [];
  const finding = (violation: string, error: string) => {
    violations.add(violation);
    errors.push(error);
  };
  if (meta === undefined || meta === null) {
    return { ctx: ROOT_CONTEXT, violations: [], errors: [] };
  }
  if (typeof meta !== 'object' || Array.isArray(meta)) {
    finding(VIOLATION_MALFORMED_TRACE_CONTEXT, `_meta: not an object (${kindOf(meta)})`);
    return { ctx: ROOT_CONTEXT, violations: [...violations], errors };
  }
  const m = meta as Record<string, unknown>;
  const carrier: Record<string, string> = {};

  const traceparent = readField(m, META_TRACEPARENT, MAX_TRACEPARENT_LENGTH, finding);
  if (traceparent !== undefined) {
    const [, traceId, spanId] = traceparent.split('-');
    if (!TRACEPARENT.test(traceparent) || traceparent.startsWith('ff')) {
      finding(VIOLATION_MALFORMED_TRACE_CONTEXT, 'traceparent: not a W3C traceparent');
    } else if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) {
      finding(VIOLATION_MALFORMED_TRACE_CONTEXT, 'traceparent: all-zero trace or span id');
    } else {
      carrier[META_TRACEPARENT] = traceparent;
      const tracestate = readField(m, META_TRACESTATE, MAX_TRACESTATE_LENGTH, finding);
      if (tracestate !== undefined) carrier[META_TRACESTATE] = tracestate;
    }
  }
  const baggage = readField(m, META_BAGGAGE, MAX_BAGGAGE_LENGTH, finding);
  if (baggage !== undefined) carrier[META_BAGGAGE] = baggage;
  const signed = readField(m, META_RUN_CONTEXT, MAX_RUN_CONTEXT_LENGTH, finding);
  if (signed !== undefined) carrier[META_RUN_CONTEXT] = signed;

  let ctx: Context;
  try {
    ctx = extractRunContext(carrier, ROOT_CONTEXT);
  } catch {
    finding(VIOLATION_MALFORMED_TRACE_CONTEXT, '_meta: the propagator could not read it');
    return { ctx: ROOT_CONTEXT, violations: [...violations], errors };
  }
  const bag = propagation.getBaggage(ctx);
  const rawRunId = bag?.getEntry(BAGGAGE_RUN_ID)?.value;
  const rawPrincipal = bag?.getEntry(BAGGAGE_TRIGGER_PRINCIPAL)?.value;
  const run = getRunContext(ctx);
  if (run?.verified === true) {
    // A signed context this process verified: run and principal are the caller's, proven.
    return { ctx, runId: run.runId, verified: true, violations: [...violations], errors };
  }
  if (getClaimedRunContext(ctx) !== undefined) {
    // Trust is configured and the context did not verify: the instrumentation records the
    // claim (run_context.*) on every span; nothing of it is adopted.
    return { ctx: propagation.deleteBaggage(ctx), violations: [...violations], errors };
  }
  if (rawRunId !== undefined && run === undefined) {
    finding(VIOLATION_MALFORMED_TRACE_CONTEXT, `baggage: ${BAGGAGE_RUN_ID} is not a valid run id`);
  }
  // Only the run id is kept: other entries never reach this process's spans, and the principal
  // is a claim (an unauthenticated hop), recorded apart by the caller of this function.
  const kept =
    run === undefined
      ? propagation.deleteBaggage(ctx)
      : propagation.setBaggage(
          ctx,
          propagation.createBaggage({ [BAGGAGE_RUN_ID]: { value: run.runId } }),
        );
  let claimedPrincipal: string | undefined;
  if (rawPrincipal !== undefined) {
    if (isPlausiblePrincipal(rawPrincipal)) claimedPrincipal = rawPrincipal;
    else {
      finding(
        VIOLATION_MALFORMED_TRACE_CONTEXT,
        `baggage: ${BAGGAGE_TRIGGER_PRINCIPAL} is not a valid principal`,
      );
    }
  }
  return {
    ctx: kept,
    runId: run?.runId,
    claimedPrincipal,
    violations: [...violations],
    errors,
  };
}

function readField(
  meta: Record<string, unknown>,
  key: string,
  max: number,
  finding: (violation: string, error: string) => void,
): string | undefined {
  const value = meta[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    finding(VIOLATION_MALFORMED_TRACE_CONTEXT, `${key}: not a string (${kindOf(value)})`);
    return undefined;
  }
  if (value.length > max) {
    finding(
      VIOLATION_OVERSIZED_TRACE_CONTEXT,
      `${key}: ${value.length} characters, more than ${max}`,
    );
    return undefined;
  }
  return value;
}

// The same bounds as the instrumentation's baggage reader: 1..256 characters, no controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
function isPlausiblePrincipal(v: string): boolean {
  return v.length > 0 && v.length <= 256 && !CONTROL.test(v);
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}
