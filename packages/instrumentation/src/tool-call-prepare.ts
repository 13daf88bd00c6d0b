/*
 * The start attributes of a tool-call span, worked out before anything runs: the run's
 * attribution, the tool's names, the credential reference (refused when it looks like a
 * secret), `input.hash`, the action key, the policy that decides the call (its own, else the
 * process-wide one), and what the audit is missing.
 */
import type { Attributes, Context } from '@opentelemetry/api';
import {
  ATTR_AGENT_ID,
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_DECISION_ACTION_KEY,
  ATTR_INPUT_FEATURES_TRUNCATED,
  ATTR_INPUT_HASH,
  ATTR_INPUT_SHAPE,
  ATTR_INPUT_SIGNALS,
  ATTR_TOOL_NAME,
  ATTR_TOOL_REASON,
  ATTR_TOOL_VERSION,
  ATTR_WORKFLOW_RUN_ID,
  VIOLATION_CREDENTIAL_REF_LOOKS_LIKE_SECRET as VIOLATION_CREDENTIAL_REF,
  VIOLATION_NO_RUN_CONTEXT,
} from './attributes.js';
import { type AuditHooks, getAuditHooks } from './audit-hooks.js';
import { putCompliance } from './compliance.js';
import { inputFeatures } from './input-features.js';
import { hrNow } from './internal/clock.js';
import { randomId } from './internal/ids.js';
import { putClaimed, runAttributes, safeHashKey } from './internal/run-attributes.js';
import { recordHash, TOOL_INPUT } from './internal/span-hash.js';
import { log, put } from './internal/span-utils.js';
import { actionKeyOf } from './policy.js';
import { looksLikeSecret } from './redaction.js';
import { getClaimedRunContext, getRunContext } from './run-context.js';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_DESCRIPTION,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
} from './semconv.js';
import type { DecisionInputs } from './tool-call-decision.js';
import type { TraceToolCallOptions } from './trace-tool-call.js';

export {
  VIOLATION_CREDENTIAL_REF_LOOKS_LIKE_SECRET as VIOLATION_CREDENTIAL_REF,
  VIOLATION_NO_RUN_CONTEXT,
} from './attributes.js';

/** A tool call ready to start: its span's start attributes and what the decision needs. */
export interface Prepared extends DecisionInputs {
  attrs: Attributes;
  startTime: number;
  callId: string;
  capture: boolean;
}

/** The prepared call, or undefined when telemetry failed (then the tool runs untraced). */
export function prepare(options: TraceToolCallOptions, parentCtx: Context): Prepared | undefined {
  try {
    const hooks = getAuditHooks();
    const run = getRunContext(parentCtx);
    const callId = options.callId ?? randomId();
    const capture = options.captureContent ?? hooks.captureContent === true;
    // Allocated on a finding only: a normal call has none.
    let violations: string[] | undefined;
    let missing: string[] | undefined;

    const attrs: Attributes = run === undefined ? {} : runAttributes(run);
    if (run === undefined) {
      // A remote caller's unverified run context: recorded as claimed, never as the run.
      const claimed = getClaimedRunContext(parentCtx);
      if (claimed !== undefined) putClaimed(attrs, claimed);
    }
    attrs[ATTR_GEN_AI_OPERATION_NAME] = GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL;
    attrs[ATTR_TOOL_NAME] = options.toolName;
    attrs[ATTR_GEN_AI_TOOL_NAME] = options.toolName;
    attrs[ATTR_GEN_AI_TOOL_CALL_ID] = callId;
    attrs[ATTR_GEN_AI_TOOL_TYPE] = options.toolType ?? 'function';
    put(attrs, ATTR_TOOL_VERSION, options.toolVersion);
    put(attrs, ATTR_GEN_AI_TOOL_DESCRIPTION, options.description);
    put(attrs, ATTR_TOOL_REASON, options.reason);
    putCompliance(attrs, options.compliance);

    const credentialRef = options.credentialRef ?? run?.credentialRef;
    // The run's own reference was already checked when the run started.
    const checkRef = credentialRef !== undefined && credentialRef !== run?.credentialRef;
    if (checkRef && looksLikeSecret(credentialRef)) {
      delete attrs[ATTR_CREDENTIAL_REF];
      violations = withItems(violations, VIOLATION_CREDENTIAL_REF);
      missing = withItems(missing, ATTR_CREDENTIAL_REF);
    } else if (credentialRef !== undefined) {
      attrs[ATTR_CREDENTIAL_REF] = credentialRef;
    } else {
      missing = withItems(missing, ATTR_CREDENTIAL_REF);
    }

    const inputHash = recordHash(
      attrs,
      options.input,
      TOOL_INPUT,
      safeHashKey(hooks, run),
      capture,
      'unsupported_type: no input given',
    );
    if (inputHash === undefined) missing = withItems(missing, ATTR_INPUT_HASH);
    if (options.input !== undefined) putFeatures(attrs, options.input, hooks.inputSignals);

    const scope = options.scope ?? 'user';
    // Every call passes the gate (governed or not), so every call has an action key.
    const actionKey =
      options.actionKey ??
      actionKeyOf(options.toolName, options.toolVersion, inputHash, scope, run);
    attrs[ATTR_DECISION_ACTION_KEY] = actionKey;

    if (run === undefined) {
      violations = withItems(violations, VIOLATION_NO_RUN_CONTEXT);
      missing = withItems(missing, ATTR_WORKFLOW_RUN_ID, ATTR_AGENT_ID);
    } else if (run.agentId === undefined) {
      // A run known only from a remote parent's baggage: no local runWorkflow named the agent.
      missing = withItems(missing, ATTR_AGENT_ID);
    }
    if (violations !== undefined) attrs[ATTR_AUDIT_VIOLATION] = violations;
    if (missing !== undefined) attrs[ATTR_AUDIT_MISSING] = missing;
    // An integration's own names (`mcp.method.name`, …); validated against ours up front.
    if (options.attributes !== undefined) {
      for (const key of Object.keys(options.attributes)) {
        if (attrs[key] === undefined) attrs[key] = options.attributes[key];
      }
    }

    return {
      toolName: options.toolName,
      attrs,
      startTime: hrNow(),
      callId,
      run,
      capture,
      hooks,
      input: options.input,
      inputHash,
      actionKey,
      scope,
      policy: options.policy ?? hooks.policy,
    };
  } catch (err) {
    log.error('traceToolCall: preparing the tool span failed; running the tool untraced', err);
    return undefined;
  }
}

/**
 * `input.shape`, `input.signals` (when any) and `input.features_truncated` (when the scan hit
 * its budget): what detection needs to know about the input, without its content.
 */
function putFeatures(attrs: Attributes, input: unknown, extra: AuditHooks['inputSignals']): void {
  try {
    const f = inputFeatures(input, extra);
    attrs[ATTR_INPUT_SHAPE] = f.shape;
    if (f.signals.length > 0) attrs[ATTR_INPUT_SIGNALS] = f.signals as string[];
    if (f.truncated) attrs[ATTR_INPUT_FEATURES_TRUNCATED] = true;
  } catch (err) {
    log.error('traceToolCall: computing the input features failed', err);
  }
}

/** `list` with `items` appended; the list is created on the first finding. */
function withItems(list: string[] | undefined, ...items: string[]): string[] {
  if (list === undefined) return items;
  list.push(...items);
  return list;
}
