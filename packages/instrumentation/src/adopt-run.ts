import { context } from '@opentelemetry/api';
import { configurationError } from './internal/configuration.js';
import { extractRunContext, type HeaderCarrier } from './propagation.js';
import { isValidPrincipal, isValidRunId, setRunContext } from './run-context.js';

/** A run attested by something the receiving process verified (e.g. a signed run token). */
export interface VerifiedRun {
  /** `workflow.run_id`. Required. */
  runId: string;
  /** `agent.id`. Required. */
  agentId: string;
  /** `trigger.principal`. Required. */
  triggerPrincipal: string;
  tenantId?: string;
  /** `credential.ref` the run acts with (e.g. the run token's reference). */
  credentialRef?: string;
}

/**
 * Runs `fn` inside `run` without starting a run span: the spans `fn` starts (a gateway's
 * `traceToolCall`) carry the run's attribution and `run_context.status=verified`. Only for a run the caller verified: the
 * carrier's W3C trace context (if any) picks the parent span; its baggage is ignored for the
 * run, whose id and principal come from `run` alone.
 */
export function withVerifiedRun<T>(
  run: VerifiedRun,
  carrier: HeaderCarrier | undefined,
  fn: () => T,
): T {
  if (!isValidRunId(run?.runId)) throw configurationError('runId', 'a run id', typeof run?.runId);
  if (typeof run.agentId !== 'string' || run.agentId === '') {
    throw configurationError('agentId', 'a non-empty string', typeof run.agentId);
  }
  if (!isValidPrincipal(run.triggerPrincipal)) {
    throw configurationError('triggerPrincipal', 'a principal', typeof run.triggerPrincipal);
  }
  const base = carrier === undefined ? context.active() : extractRunContext(carrier);
  const ctx = setRunContext(
    base,
    Object.freeze({
      runId: run.runId,
      agentId: run.agentId,
      triggerPrincipal: run.triggerPrincipal,
      tenantId: run.tenantId,
      credentialRef: run.credentialRef,
      // Attested by what the caller verified: `run_context.status=verified` on every span.
      verified: true,
    }),
  );
  return context.with(ctx, fn);
}
