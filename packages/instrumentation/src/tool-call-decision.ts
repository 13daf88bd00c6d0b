/*
 * The decision and approval logic of a tool call: the attached approval checked, the policy
 * asked, `approval_required` turned into an ApprovalRequest, and the pre-exec (stage pre) and
 * post-exec (stage post) records. traceToolCall only wires these into its span.
 */

import type { Attributes, Span } from '@opentelemetry/api';
import {
  ATTR_APPROVAL_APPROVER,
  ATTR_APPROVAL_ID,
  ATTR_AUTHORIZATION_METHOD,
  ATTR_DECISION_ACTION_KEY,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_DECISION_POLICY_VERSION,
  ATTR_DECISION_REASON,
  ATTR_DECISION_SCOPE,
  ATTR_DECISION_STAGE,
  ATTR_INPUT_HASH,
  ATTR_OUTPUT_HASH,
} from './attributes.js';
import type { AuditHooks } from './audit-hooks.js';
import { ApprovalRequiredError, PolicyStopError } from './errors.js';
import { receiptProofProblem } from './internal/approval-proof.js';
import { hrNow } from './internal/clock.js';
import { invalidOption } from './internal/configuration.js';
import { randomId } from './internal/ids.js';
import { errorType, put } from './internal/span-utils.js';
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
import { ATTR_ERROR_TYPE } from './semconv.js';
import type { TraceToolCallOptions } from './trace-tool-call.js';

/** The decision of a call no policy governs: allowed, and said to be ungoverned. */
export const POLICY_NONE = 'none';
const UNGOVERNED_REASON = 'no policy governs this call';
const UNGOVERNED: PolicyDecision = Object.freeze({
  outcome: 'allow',
  policyId: POLICY_NONE,
  reason: UNGOVERNED_REASON,
});

/** What the decision needs to know about the prepared call. */
export interface DecisionInputs {
  readonly toolName: string;
  readonly run: RunAttributes | undefined;
  readonly hooks: AuditHooks;
  readonly input: unknown;
  readonly inputHash: string | undefined;
  readonly actionKey: string | undefined;
  readonly scope: DecisionScope;
  /** The call's own policy, else the process-wide one (`AuditHooks.policy`), else none. */
  readonly policy: PolicyHook | undefined;
}

export type EventRecord = [name: string, attrs: Attributes, time: number];

export interface Verdict {
  decision: PolicyDecision;
  /** Decision attributes for the span's start attributes. */
  attrs: Attributes;
  events: EventRecord[];
  refusal: Error | undefined;
}

/**
 * The verdict of a call that no policy governs and that carries no approval: allowed, recorded
 * as `decision.policy = none` in the span's start attributes. Those attributes are the call's
 * pre-exec record (the SDK's durable `span.start`) and the span's end its post-exec record; with
 * no decider there is no decision event to add (events cost more per call than the tool span
 * itself). Synchronous: every ungoverned tool call takes this path.
 */
export function ungovernedVerdict(options: TraceToolCallOptions, p: DecisionInputs): Verdict {
  return {
    decision: UNGOVERNED,
    attrs: {
      [ATTR_DECISION_OUTCOME]: 'allow',
      [ATTR_DECISION_ACTION_KEY]:
        p.actionKey ??
        actionKeyOf(options.toolName, options.toolVersion, p.inputHash, p.scope, p.run),
      [ATTR_DECISION_SCOPE]: p.scope,
      [ATTR_DECISION_POLICY]: POLICY_NONE,
    },
    events: [],
    refusal: undefined,
  };
}

/** Whether a verdict came from {@link ungovernedVerdict}: its post-exec record is the span end. */
export function isUngoverned(decision: PolicyDecision): boolean {
  return decision === UNGOVERNED;
}

/**
 * Checks an attached approval and asks the policy hook. Returns what to record; the policy
 * hook's own error propagates. An invalid decision object throws a Configuration error.
 */
export async function decide(options: TraceToolCallOptions, p: DecisionInputs): Promise<Verdict> {
  const { run } = p;
  const actionKey =
    p.actionKey ?? actionKeyOf(options.toolName, options.toolVersion, p.inputHash, p.scope, run);
  const events: EventRecord[] = [];
  const note = (name: string, attrs: Attributes) => events.push([name, attrs, hrNow()]);
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
  const policy = p.policy;
  if (policy !== undefined) {
    decision = await policy(
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
    if (bad !== undefined) throw invalidOption('policy decision', bad);
  } else if (approval !== undefined) {
    decision = { outcome: 'approval_required', reason: 'human approval attached' };
  } else if (options.approval === undefined) {
    // Ungoverned: recorded like any decision, so a report counts these calls.
    decision = UNGOVERNED;
  } else {
    decision = {
      outcome: 'approval_required',
      reason: 'the attached approval does not match this call',
    };
  }

  let method: string | undefined = policy === undefined ? undefined : 'policy';
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

export function postDecision(
  span: Span,
  p: DecisionInputs,
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

/**
 * Telemetry could not even start: the policy is still honoured (without an input hash, so an
 * attached approval cannot match), and its refusal thrown. Returns when the tool may run.
 */
export async function decideUntraced(
  options: TraceToolCallOptions,
  policy: PolicyHook | undefined,
): Promise<void> {
  if (policy === undefined) return;
  const run = getRunContext();
  const scope = options.scope ?? 'user';
  const actionKey =
    options.actionKey ?? actionKeyOf(options.toolName, options.toolVersion, undefined, scope, run);
  const decision = await policy(
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
