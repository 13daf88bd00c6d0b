import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_AGENT_ID,
  ATTR_APPROVAL_APPROVER,
  ATTR_APPROVAL_ID,
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_AUTHORIZATION_METHOD,
  ATTR_CREDENTIAL_REF,
  ATTR_DECISION_ACTION_KEY,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_DECISION_POLICY_VERSION,
  ATTR_DECISION_REASON,
  ATTR_DECISION_SCOPE,
  ATTR_DECISION_STAGE,
  ATTR_INPUT_HASH,
  ATTR_INPUT_HASH_ERROR,
  ATTR_OUTPUT_HASH,
  ATTR_OUTPUT_HASH_ERROR,
  ATTR_TOOL_NAME,
  ATTR_TOOL_REASON,
  ATTR_TOOL_VERSION,
  ATTR_WORKFLOW_RUN_ID,
} from './attributes.js';
import { type AuditHooks, getAuditHooks } from './audit-hooks.js';
import { type ComplianceFields, checkCompliance, putCompliance } from './compliance.js';
import {
  ApprovalRequiredError,
  AuditRefusedError,
  MissingRunContextError,
  PolicyStopError,
} from './errors.js';
import { canonicalJson, hashCanonicalJson, hashPlainValue } from './hash-value.js';
import { receiptProofProblem } from './internal/approval-proof.js';
import { randomId } from './internal/ids.js';
import { runAttributes, safeHashKey } from './internal/run-attributes.js';
import { checkString, endSpan, errorType, log, markError, put } from './internal/span-utils.js';
import { toolCallContext } from './internal/tool-call-state.js';
import { getTracer } from './internal/tracer.js';
import {
  type ApprovalReceipt,
  type ApprovalRequest,
  actionKeyOf,
  DECISION_OUTCOMES,
  DECISION_SCOPES,
  type DecisionScope,
  type PolicyDecision,
  type PolicyHook,
} from './policy.js';
import { looksLikeSecret } from './redaction.js';
import { getRunContext, type RunAttributes } from './run-context.js';
import {
  addRunEvent,
  eventAttributes,
  RUN_EVENT_APPROVAL_INVALID,
  RUN_EVENT_APPROVAL_REQUESTED,
  RUN_EVENT_DECISION_PROPOSED,
  RUN_EVENT_POLICY_DECISION,
  RUN_EVENT_TOOL_CALLED,
} from './run-events.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
  ATTR_GEN_AI_TOOL_DESCRIPTION,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
} from './semconv.js';

export interface TraceToolCallOptions {
  /** `tool.name` / `gen_ai.tool.name`. Required. */
  toolName: string;
  /** `tool.version`. */
  toolVersion?: string;
  /** `gen_ai.tool.type`: function | extension | datastore. The default value is `function`. */
  toolType?: 'function' | 'extension' | 'datastore' | (string & {});
  /** `gen_ai.tool.description`. */
  description?: string;
  /** `gen_ai.tool.call.id`, as the model issued it. The default value is a random UUID. */
  callId?: string;
  /** The tool's arguments: hashed into `input.hash`; raw only with `captureContent`. */
  input?: unknown;
  /** `credential.ref` used by this call. The default value is the run's. */
  credentialRef?: string;
  /** `tool.reason`: why the agent calls this tool. */
  reason?: string;
  /**
   * Record `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result` (canonical JSON).
   * The default value is the hooks' `captureContent` (false).
   */
  captureContent?: boolean;
  /**
   * Asked before the tool runs: `allow` runs it, `stop` refuses with {@link PolicyStopError},
   * `approval_required` refuses with {@link ApprovalRequiredError}. The decision is recorded
   * before execution (`policy.decision`, stage pre) and the result after (stage post).
   */
  policy?: PolicyHook;
  /** Scope of the decision and of the action key. The default value is `user`. */
  scope?: DecisionScope;
  /** `decision.action_key`. The default value is derived from tool, arguments hash and scope. */
  actionKey?: string;
  /**
   * A receipt from `recordApproval`: valid only for the same tool, run and `input.hash`
   * (changed arguments invalidate it). An approved receipt turns `approval_required` into
   * `allow`; a rejected one into `stop`.
   */
  approval?: ApprovalReceipt;
  /** Compliance fields for this call. */
  compliance?: ComplianceFields;
}

/** What the tool body receives. */
export interface ToolCallHandle {
  readonly span: Span;
  readonly callId: string;
}

export const VIOLATION_NO_RUN_CONTEXT = 'no_run_context';
export const VIOLATION_CREDENTIAL_REF = 'credential_ref_looks_like_secret';

interface Prepared {
  toolName: string;
  attrs: Attributes;
  startTime: number;
  callId: string;
  run: RunAttributes | undefined;
  capture: boolean;
  hooks: AuditHooks;
  input: unknown;
  inputHash: string | undefined;
  /** Only for governed calls (policy, approval or an explicit key): it costs a hash. */
  actionKey: string | undefined;
  scope: DecisionScope;
}

/**
 * Runs one tool call as a child `execute_tool {toolName}` span (kind INTERNAL) of the active
 * run: `input.hash` before the tool runs, `output.hash` after, the run's attribution, the
 * credential reference and the agent's reason. Awaits the hooks' `beforeToolCall(span)` before
 * running the tool.
 *
 * Refusals (before `fn` runs, as {@link ToolCallRefusedError} subclasses): no run context in
 * strict mode; `beforeToolCall` rejecting (fail-closed store); a policy `stop` or
 * `approval_required`. Every other telemetry failure is logged through `diag` and never
 * reaches the tool; the tool's (and the policy hook's) own errors propagate unchanged.
 */
export async function traceToolCall<T>(
  options: TraceToolCallOptions,
  fn: (call: ToolCallHandle) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  validate(options, fn);
  const parentCtx = context.active();
  const p = prepare(options, parentCtx);
  if (p === undefined) return runUntraced(options, fn);
  const { hooks } = p;
  if (p.run === undefined && hooks.strict === true) {
    refuse(startToolSpan(p, parentCtx), new MissingRunContextError(options.toolName));
  }

  // The policy runs before the span starts so that its decision is part of the span's start
  // attributes: the SDK's pre-exec record, durable before the tool runs in fail-closed mode.
  let verdict: Verdict | undefined;
  if (options.policy !== undefined || options.approval !== undefined) {
    try {
      verdict = await decide(options, p);
    } catch (err) {
      // The policy is the user's code: its error is theirs, like the tool's.
      const span = startToolSpan(p, parentCtx);
      markError(span, err);
      endSpan(span);
      throw err;
    }
    Object.assign(p.attrs, verdict.attrs);
  }
  const span = startToolSpan(p, parentCtx);
  if (verdict !== undefined)
    for (const [name, attrs, time] of verdict.events) addRunEvent(span, name, attrs, time);

  if (verdict?.refusal !== undefined) refuse(span, verdict.refusal);

  if (hooks.beforeToolCall !== undefined) {
    try {
      await hooks.beforeToolCall(span);
    } catch (cause) {
      refuse(span, new AuditRefusedError(options.toolName, cause));
    }
  }

  const handle: ToolCallHandle = Object.freeze({ span, callId: p.callId });
  let toolCtx: Context;
  try {
    toolCtx = toolCallContext(parentCtx, {
      span,
      toolName: options.toolName,
      callId: p.callId,
      inputHash: p.inputHash,
      actionKey: p.actionKey,
    });
  } catch (err) {
    log.error('traceToolCall: setting the tool-call context failed', err);
    toolCtx = trace.setSpan(parentCtx, span);
  }
  let result: Awaited<T>;
  try {
    result = (await context.with(toolCtx, fn, undefined, handle)) as Awaited<T>;
  } catch (err) {
    if (verdict !== undefined) postDecision(span, p, verdict.decision, undefined, err);
    markError(span, err);
    endSpan(span);
    throw err;
  }
  let outputHash: string | undefined;
  try {
    outputHash = recordOutput(span, result, p);
  } catch (err) {
    log.error('traceToolCall: recording the result failed', err);
  }
  if (verdict !== undefined) postDecision(span, p, verdict.decision, outputHash, undefined);
  endSpan(span);
  return result;
}

/** Telemetry could not even start: still honour the policy, then run the tool untraced. */
async function runUntraced<T>(
  options: TraceToolCallOptions,
  fn: (call: ToolCallHandle) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  if (options.policy !== undefined) {
    const run = getRunContext();
    const scope = options.scope ?? 'user';
    const actionKey =
      options.actionKey ??
      actionKeyOf(options.toolName, options.toolVersion, undefined, scope, run);
    const decision = await options.policy(
      Object.freeze({
        toolName: options.toolName,
        toolVersion: options.toolVersion,
        input: options.input,
        inputHash: undefined,
        actionKey,
        scope,
        run,
        approval: undefined,
      }),
    );
    if (decision?.outcome === 'stop') throw new PolicyStopError(options.toolName, decision);
    if (decision?.outcome !== 'allow') {
      throw new ApprovalRequiredError(
        Object.freeze({
          approvalId: `apr_${randomId()}`,
          runId: run?.runId,
          toolName: options.toolName,
          toolVersion: options.toolVersion,
          actionKey,
          inputHash: undefined,
          input: options.input,
          decision,
        }),
      );
    }
  }
  const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  return (await fn({ span, callId: options.callId ?? '' })) as Awaited<T>;
}

function startToolSpan(p: Prepared, parentCtx: Context): Span {
  try {
    return getTracer().startSpan(
      `${GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL} ${p.toolName}`,
      { kind: SpanKind.INTERNAL, attributes: p.attrs, startTime: p.startTime },
      parentCtx,
    );
  } catch (err) {
    log.error(
      'traceToolCall: starting the tool span failed; continuing with a non-recording span',
      err,
    );
    return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  }
}

function refuse(span: Span, err: Error): never {
  markError(span, err, false);
  endSpan(span);
  throw err;
}

type EventRecord = [name: string, attrs: Attributes, time: number];

interface Verdict {
  decision: PolicyDecision;
  /** Decision attributes for the span's start attributes. */
  attrs: Attributes;
  events: EventRecord[];
  refusal: Error | undefined;
}

/**
 * Checks an attached approval and asks the policy hook. Returns what to record; the policy
 * hook's own error propagates. An invalid decision object throws a Configuration error.
 */
async function decide(options: TraceToolCallOptions, p: Prepared): Promise<Verdict> {
  const { run } = p;
  const actionKey =
    p.actionKey ?? actionKeyOf(options.toolName, options.toolVersion, p.inputHash, p.scope, run);
  const events: EventRecord[] = [];
  const note = (name: string, attrs: Attributes) => events.push([name, attrs, Date.now()]);
  const attrs: Attributes = {};
  note(
    RUN_EVENT_DECISION_PROPOSED,
    eventAttributes(run, {
      actorType: 'agent',
      targetType: 'tool',
      targetId: options.toolName,
      attributes: {
        [ATTR_DECISION_ACTION_KEY]: actionKey,
        [ATTR_DECISION_SCOPE]: p.scope,
        ...(p.inputHash === undefined ? {} : { [ATTR_INPUT_HASH]: p.inputHash }),
      },
    }),
  );

  let approval = options.approval;
  if (approval !== undefined) {
    const problem =
      approvalProblem(approval, options.toolName, p.inputHash, run) ??
      receiptProofProblem(approval, p.hooks, run);
    if (problem !== undefined) {
      note(
        RUN_EVENT_APPROVAL_INVALID,
        eventAttributes(run, {
          actorType: 'system',
          actorId: 'agent-audit',
          targetType: 'approval',
          targetId: typeof approval?.approvalId === 'string' ? approval.approvalId : 'unknown',
          attributes: { [ATTR_DECISION_REASON]: problem },
        }),
      );
      approval = undefined;
    } else {
      attrs[ATTR_APPROVAL_ID] = approval.approvalId;
      attrs[ATTR_APPROVAL_APPROVER] = approval.approver;
    }
  }

  let decision: PolicyDecision;
  if (options.policy !== undefined) {
    decision = await options.policy(
      Object.freeze({
        toolName: options.toolName,
        toolVersion: options.toolVersion,
        input: p.input,
        inputHash: p.inputHash,
        actionKey: actionKey,
        scope: p.scope,
        run,
        approval,
      }),
    );
    const bad = decisionProblem(decision);
    if (bad !== undefined) throw new Error(`Configuration: policy decision is invalid, ${bad}`);
  } else if (approval !== undefined) {
    decision = { outcome: 'approval_required', reason: 'human approval attached' };
  } else {
    decision = {
      outcome: 'approval_required',
      reason: 'the attached approval does not match this call',
    };
  }

  let method: string | undefined = options.policy === undefined ? undefined : 'policy';
  if (approval !== undefined) {
    if (approval.decision === 'rejected') {
      decision = {
        ...decision,
        outcome: 'stop',
        reason: `rejected by ${approval.approver} (approval ${approval.approvalId})`,
      };
      method = 'human_approval';
    } else if (decision.outcome === 'approval_required') {
      decision = {
        ...decision,
        outcome: 'allow',
        reason: `approved by ${approval.approver} (approval ${approval.approvalId})`,
      };
      method = 'human_approval';
    } else if (decision.outcome === 'allow') {
      method = 'human_approval';
    }
  }

  const scope = decision.scope ?? p.scope;
  const decisionAttrs: Attributes = {
    [ATTR_DECISION_STAGE]: 'pre',
    [ATTR_DECISION_OUTCOME]: decision.outcome,
    [ATTR_DECISION_ACTION_KEY]: actionKey,
    [ATTR_DECISION_SCOPE]: scope,
  };
  put(decisionAttrs, ATTR_DECISION_REASON, decision.reason);
  put(decisionAttrs, ATTR_DECISION_POLICY, decision.policyId);
  put(decisionAttrs, ATTR_DECISION_POLICY_VERSION, decision.policyVersion);
  put(decisionAttrs, ATTR_INPUT_HASH, p.inputHash);
  put(decisionAttrs, ATTR_APPROVAL_ID, approval?.approvalId);
  const human = method === 'human_approval' && approval !== undefined;
  note(
    RUN_EVENT_POLICY_DECISION,
    eventAttributes(run, {
      actorType: human ? 'human' : 'system',
      actorId: human ? approval?.approver : (decision.policyId ?? 'policy'),
      targetType: 'tool',
      targetId: options.toolName,
      attributes: decisionAttrs,
    }),
  );
  attrs[ATTR_DECISION_OUTCOME] = decision.outcome;
  attrs[ATTR_DECISION_ACTION_KEY] = actionKey;
  attrs[ATTR_DECISION_SCOPE] = scope;
  put(attrs, ATTR_DECISION_REASON, decision.reason);
  put(attrs, ATTR_DECISION_POLICY, decision.policyId);
  put(attrs, ATTR_DECISION_POLICY_VERSION, decision.policyVersion);
  if (decision.outcome === 'allow' && method !== undefined)
    attrs[ATTR_AUTHORIZATION_METHOD] = method;

  let refusal: Error | undefined;
  if (decision.outcome === 'stop') refusal = new PolicyStopError(options.toolName, decision);
  if (decision.outcome === 'approval_required') {
    const request: ApprovalRequest = Object.freeze({
      approvalId: `apr_${randomId()}`,
      runId: run?.runId,
      toolName: options.toolName,
      toolVersion: options.toolVersion,
      actionKey: actionKey,
      inputHash: p.inputHash,
      input: p.input,
      decision,
    });
    note(
      RUN_EVENT_APPROVAL_REQUESTED,
      eventAttributes(run, {
        actorType: 'system',
        actorId: decision.policyId ?? 'policy',
        targetType: 'approval',
        targetId: request.approvalId,
        attributes: {
          [ATTR_APPROVAL_ID]: request.approvalId,
          [ATTR_DECISION_ACTION_KEY]: actionKey,
          ...(p.inputHash === undefined ? {} : { [ATTR_INPUT_HASH]: p.inputHash }),
        },
      }),
    );
    attrs[ATTR_APPROVAL_ID] = request.approvalId;
    refusal = new ApprovalRequiredError(request);
  }
  return { decision, attrs, events, refusal };
}

function postDecision(
  span: Span,
  p: Prepared,
  decision: PolicyDecision,
  outputHash: string | undefined,
  err: unknown,
): void {
  const attrs: Attributes = {
    [ATTR_DECISION_STAGE]: 'post',
    [ATTR_DECISION_OUTCOME]: decision.outcome,
  };
  put(attrs, ATTR_DECISION_ACTION_KEY, p.actionKey);
  put(attrs, ATTR_OUTPUT_HASH, outputHash);
  if (err !== undefined) attrs[ATTR_ERROR_TYPE] = errorType(err);
  addRunEvent(
    span,
    RUN_EVENT_TOOL_CALLED,
    eventAttributes(p.run, {
      actorType: 'agent',
      targetType: 'tool',
      targetId: p.toolName,
      attributes: attrs,
    }),
  );
}

function approvalProblem(
  a: ApprovalReceipt,
  toolName: string,
  inputHash: string | undefined,
  run: RunAttributes | undefined,
): string | undefined {
  if (a === null || typeof a !== 'object' || typeof a.approvalId !== 'string')
    return 'not an approval receipt';
  if (a.toolName !== toolName) return `approval is for tool ${a.toolName}, not ${toolName}`;
  if (a.runId !== undefined && run !== undefined && a.runId !== run.runId)
    return 'approval is for another run';
  if (inputHash === undefined || a.inputHash !== inputHash) {
    return 'arguments differ from the approved arguments (input.hash mismatch)';
  }
  return undefined;
}

function decisionProblem(d: unknown): string | undefined {
  if (d === null || typeof d !== 'object') return `expected { outcome, … } (actual: ${typeof d})`;
  const { outcome, scope } = d as PolicyDecision;
  if (!DECISION_OUTCOMES.includes(outcome)) {
    return `expected outcome allow|stop|approval_required (actual: ${JSON.stringify(outcome)})`;
  }
  if (scope !== undefined && !DECISION_SCOPES.includes(scope)) {
    return `expected scope user|tenant|global (actual: ${JSON.stringify(scope)})`;
  }
  return undefined;
}

function prepare(options: TraceToolCallOptions, parentCtx: Context): Prepared | undefined {
  try {
    const hooks = getAuditHooks();
    const run = getRunContext(parentCtx);
    const callId = options.callId ?? randomId();
    const capture = options.captureContent ?? hooks.captureContent === true;
    // Allocated on a finding only: a normal call has none.
    let violations: string[] | undefined;
    let missing: string[] | undefined;

    const attrs: Attributes = run === undefined ? {} : runAttributes(run);
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

    let inputHash: string | undefined;
    // Without content capture only the hash is needed: plain data is hashed without building
    // the canonical text (see hashPlainValue); anything else takes the path below.
    const input = options.input;
    const plainCandidate = !capture && input !== null && typeof input === 'object';
    const key = plainCandidate ? safeHashKey(hooks, run) : undefined;
    const fast = plainCandidate ? hashPlainValue(input, key) : undefined;
    const canonical = fast === undefined ? canonicalJson(input) : undefined;
    if (fast !== undefined) {
      inputHash = fast.ok ? fast.hash : undefined;
      if (inputHash !== undefined) attrs[ATTR_INPUT_HASH] = inputHash;
    } else if (canonical?.ok) {
      const h = hashCanonicalJson(canonical.json, plainCandidate ? key : safeHashKey(hooks, run));
      if (h.ok) {
        inputHash = h.hash;
        attrs[ATTR_INPUT_HASH] = h.hash;
      } else {
        attrs[ATTR_INPUT_HASH_ERROR] = h.error;
        missing = withItems(missing, ATTR_INPUT_HASH);
      }
      if (capture) attrs[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS] = canonical.json;
    } else if (canonical !== undefined && !canonical.ok) {
      attrs[ATTR_INPUT_HASH_ERROR] =
        options.input === undefined ? 'unsupported_type: no input given' : canonical.error;
      missing = withItems(missing, ATTR_INPUT_HASH);
    }

    const scope = options.scope ?? 'user';
    const governed =
      options.policy !== undefined ||
      options.approval !== undefined ||
      options.actionKey !== undefined;
    const actionKey = governed
      ? (options.actionKey ??
        actionKeyOf(options.toolName, options.toolVersion, inputHash, scope, run))
      : undefined;
    if (actionKey !== undefined) attrs[ATTR_DECISION_ACTION_KEY] = actionKey;

    if (run === undefined) {
      violations = withItems(violations, VIOLATION_NO_RUN_CONTEXT);
      missing = withItems(missing, ATTR_WORKFLOW_RUN_ID, ATTR_AGENT_ID);
    } else if (run.agentId === undefined) {
      // A run known only from a remote parent's baggage: no local runWorkflow named the agent.
      missing = withItems(missing, ATTR_AGENT_ID);
    }
    if (violations !== undefined) attrs[ATTR_AUDIT_VIOLATION] = violations;
    if (missing !== undefined) attrs[ATTR_AUDIT_MISSING] = missing;

    return {
      toolName: options.toolName,
      attrs,
      startTime: Date.now(),
      callId,
      run,
      capture,
      hooks,
      input: options.input,
      inputHash,
      actionKey,
      scope,
    };
  } catch (err) {
    log.error('traceToolCall: preparing the tool span failed; running the tool untraced', err);
    return undefined;
  }
}

function recordOutput(span: Span, result: unknown, p: Prepared): string | undefined {
  if (!p.capture && result !== null && typeof result === 'object') {
    // Only the hash is recorded: plain data skips the canonical text (see hashPlainValue).
    const fast = hashPlainValue(result, safeHashKey(p.hooks, p.run));
    if (fast?.ok) {
      span.setAttribute(ATTR_OUTPUT_HASH, fast.hash);
      return fast.hash;
    }
  }
  const canonical = canonicalJson(result);
  if (!canonical.ok) {
    span.setAttribute(
      ATTR_OUTPUT_HASH_ERROR,
      result === undefined ? 'unsupported_type: the tool returned undefined' : canonical.error,
    );
    return undefined;
  }
  const h = hashCanonicalJson(canonical.json, safeHashKey(p.hooks, p.run));
  if (p.capture) span.setAttribute(ATTR_GEN_AI_TOOL_CALL_RESULT, canonical.json);
  if (h.ok) {
    span.setAttribute(ATTR_OUTPUT_HASH, h.hash);
    return h.hash;
  }
  span.setAttribute(ATTR_OUTPUT_HASH_ERROR, h.error);
  return undefined;
}

const OPTIONAL_STRINGS = [
  'toolVersion',
  'toolType',
  'description',
  'callId',
  'credentialRef',
  'reason',
  'actionKey',
] as const;

/** `list` with `items` appended; the list is created on the first finding. */
function withItems(list: string[] | undefined, ...items: string[]): string[] {
  if (list === undefined) return items;
  list.push(...items);
  return list;
}

function validate(options: TraceToolCallOptions, fn: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw new Error(
      `Configuration: options is invalid, expected an object (actual: ${typeof options})`,
    );
  }
  if (typeof fn !== 'function') {
    throw new Error(`Configuration: fn is invalid, expected a function (actual: ${typeof fn})`);
  }
  checkString('toolName', options.toolName, true);
  for (let i = 0; i < OPTIONAL_STRINGS.length; i++) {
    const name = OPTIONAL_STRINGS[i]!;
    checkString(name, options[name], false);
  }
  if (options.captureContent !== undefined && typeof options.captureContent !== 'boolean') {
    throw new Error(
      `Configuration: captureContent is invalid, expected a boolean (actual: ${typeof options.captureContent})`,
    );
  }
  if (options.policy !== undefined && typeof options.policy !== 'function') {
    throw new Error(
      `Configuration: policy is invalid, expected a function (actual: ${typeof options.policy})`,
    );
  }
  if (options.scope !== undefined && !DECISION_SCOPES.includes(options.scope)) {
    throw new Error(
      `Configuration: scope is invalid, expected user|tenant|global (actual: ${JSON.stringify(options.scope)})`,
    );
  }
  checkCompliance(options.compliance);
}
