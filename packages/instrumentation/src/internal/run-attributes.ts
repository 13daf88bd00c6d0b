import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_AGENT_ID,
  ATTR_AGENT_NAME,
  ATTR_AGENT_VERSION,
  ATTR_CREDENTIAL_REF,
  ATTR_RUN_CONTEXT_CLAIM_REASON,
  ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL,
  ATTR_RUN_CONTEXT_CLAIMED_RUN_ID,
  ATTR_RUN_CONTEXT_STATUS,
  ATTR_TENANT_ID,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_TRIGGER_TYPE,
  ATTR_WORKFLOW_NAME,
  ATTR_WORKFLOW_RUN_ID,
  ATTR_WORKFLOW_VERSION,
} from '../attributes.js';
import { type AuditHooks, resolveHashKey } from '../audit-hooks.js';
import type { HashKey } from '../hash-value.js';
import type { ClaimedRunContext, RunAttributes } from '../run-context.js';
import {
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_AGENT_VERSION,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_WORKFLOW_NAME,
} from '../semconv.js';
import { log, put } from './span-utils.js';

/**
 * The run-level attributes every span of a run carries (our names). The GenAI agent, workflow
 * and model names belong on the run span only ({@link runSpanGenAiAttributes}): on other spans
 * they would misdescribe them (a `gen_ai.request.model` makes a span read as a model call).
 */
export function runAttributes(run: RunAttributes): Attributes {
  // Run objects are frozen, so their attributes are computed once and copied per span.
  const cached = cache.get(run);
  if (cached !== undefined) return { ...cached };
  const a = compute(run);
  cache.set(run, Object.freeze(a));
  return { ...a };
}

const cache = new WeakMap<RunAttributes, Attributes>();

function compute(run: RunAttributes): Attributes {
  const a: Attributes = {};
  put(a, ATTR_WORKFLOW_RUN_ID, run.runId);
  put(a, ATTR_AGENT_ID, run.agentId);
  put(a, ATTR_AGENT_NAME, run.agentName);
  put(a, ATTR_AGENT_VERSION, run.agentVersion);
  put(a, ATTR_TRIGGER_PRINCIPAL, run.triggerPrincipal);
  put(a, ATTR_TRIGGER_TYPE, run.triggerType);
  put(a, ATTR_CREDENTIAL_REF, run.credentialRef);
  put(a, ATTR_TENANT_ID, run.tenantId);
  put(a, ATTR_WORKFLOW_NAME, run.workflowName);
  put(a, ATTR_WORKFLOW_VERSION, run.workflowVersion);
  if (run.verified === true) a[ATTR_RUN_CONTEXT_STATUS] = 'verified';
  if (run.claimed !== undefined) putClaimed(a, run.claimed);
  return a;
}

/** The `run_context.*` attributes of a remote run context that was not adopted. */
export function putClaimed(a: Attributes, claim: ClaimedRunContext): void {
  a[ATTR_RUN_CONTEXT_STATUS] = 'claimed';
  a[ATTR_RUN_CONTEXT_CLAIMED_RUN_ID] = claim.runId;
  put(a, ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL, claim.principal);
  a[ATTR_RUN_CONTEXT_CLAIM_REASON] = claim.reason;
}

/** The GenAI semantic-convention names of an `invoke_agent` / `invoke_workflow` span. */
export function runSpanGenAiAttributes(run: RunAttributes, a: Attributes): void {
  put(a, ATTR_GEN_AI_AGENT_ID, run.agentId);
  put(a, ATTR_GEN_AI_AGENT_NAME, run.agentName);
  put(a, ATTR_GEN_AI_AGENT_VERSION, run.agentVersion);
  put(a, ATTR_GEN_AI_WORKFLOW_NAME, run.workflowName);
  put(a, ATTR_GEN_AI_REQUEST_MODEL, run.model);
}

/** The hash key for `run`; a throwing resolver means "unkeyed", reported once per call. */
export function safeHashKey(
  hooks: AuditHooks,
  run: RunAttributes | undefined,
): HashKey | undefined {
  try {
    return resolveHashKey(hooks, run);
  } catch (err) {
    log.error('hashKey resolver threw; hashing without a key', err);
    return undefined;
  }
}
