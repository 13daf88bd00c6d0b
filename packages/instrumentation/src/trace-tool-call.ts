import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { ATTR_PERMISSION_DENIAL_TYPE, ATTR_PERMISSION_DENIED } from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { type ComplianceFields, checkCompliance } from './compliance.js';
import { AuditRefusedError, MissingRunContextError, PolicyStopError } from './errors.js';
import {
  checkBoolean,
  checkFunction,
  checkObject,
  checkOneOf,
  checkString,
} from './internal/configuration.js';
import { safeHashKey } from './internal/run-attributes.js';
import { recordHash, TOOL_OUTPUT } from './internal/span-hash.js';
import { endSpan, log, markError } from './internal/span-utils.js';
import { toolCallContext } from './internal/tool-call-state.js';
import { getTracer } from './internal/tracer.js';
import { permissionDenialOf } from './permission-denial.js';
import {
  type ApprovalReceipt,
  DECISION_SCOPES,
  type DecisionScope,
  type PolicyHook,
} from './policy.js';
import { addRunEvent } from './run-events.js';
import { GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL } from './semconv.js';
import {
  decide,
  decideUntraced,
  isUngoverned,
  postDecision,
  ungovernedVerdict,
  type Verdict,
} from './tool-call-decision.js';
import { blockedSideEffect, checkIntegrationAttributes } from './tool-call-extras.js';
import { type Prepared, prepare } from './tool-call-prepare.js';

export { VIOLATION_CREDENTIAL_REF, VIOLATION_NO_RUN_CONTEXT } from './tool-call-prepare.js';

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
  /**
   * The side effect this call would have. When the gate refuses the call (policy `stop`,
   * `approval_required`, or a refused audit record), `side_effect.blocked` is recorded with it.
   */
  sideEffect?: { operation: string; targetSystem: string };
  /**
   * More span start attributes from an integration (e.g. `mcp.method.name`). Names this
   * package sets itself (the audit, run, tool, decision and `gen_ai.tool`/operation names)
   * are refused with a Configuration error: an integration cannot overwrite the evidence.
   */
  attributes?: Attributes;
}

/** What the tool body receives. */
export interface ToolCallHandle {
  readonly span: Span;
  readonly callId: string;
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
    refuse(startToolSpan(p, parentCtx), new MissingRunContextError(options.toolName), options, p);
  }

  // The gate: every call is decided (by its own policy, the process-wide one, or recorded as
  // ungoverned), before the span starts so that the decision is part of the span's start
  // attributes: the SDK's pre-exec record, durable before the tool runs in fail-closed mode.
  let verdict: Verdict;
  try {
    verdict =
      p.policy === undefined && options.approval === undefined
        ? ungovernedVerdict(options, p)
        : await decide(options, p);
  } catch (err) {
    // The policy is the user's code: its error is theirs, like the tool's.
    const span = startToolSpan(p, parentCtx);
    markError(span, err);
    endSpan(span);
    throw err;
  }
  Object.assign(p.attrs, verdict.attrs);
  // A policy `stop` is a permission denial of type `policy`, part of the pre-exec record.
  if (verdict.refusal instanceof PolicyStopError) {
    p.attrs[ATTR_PERMISSION_DENIED] = true;
    p.attrs[ATTR_PERMISSION_DENIAL_TYPE] = 'policy';
  }
  const span = startToolSpan(p, parentCtx);
  for (const [name, attrs, time] of verdict.events) addRunEvent(span, name, attrs, time);

  if (verdict.refusal !== undefined) refuse(span, verdict.refusal, options, p);

  if (hooks.beforeToolCall !== undefined) {
    try {
      await hooks.beforeToolCall(span);
    } catch (cause) {
      refuse(span, new AuditRefusedError(options.toolName, cause), options, p);
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
    if (!isUngoverned(verdict.decision)) postDecision(span, p, verdict.decision, undefined, err);
    markDenied(span, err);
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
  if (!isUngoverned(verdict.decision))
    postDecision(span, p, verdict.decision, outputHash, undefined);
  endSpan(span);
  return result;
}

/** Telemetry could not even start: still honour the policy, then run the tool untraced. */
async function runUntraced<T>(
  options: TraceToolCallOptions,
  fn: (call: ToolCallHandle) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  await decideUntraced(options, options.policy ?? getAuditHooks().policy);
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

function refuse(span: Span, err: Error, options?: TraceToolCallOptions, p?: Prepared): never {
  if (options?.sideEffect !== undefined && p !== undefined) {
    blockedSideEffect(span, options.sideEffect, err, p);
  }
  markError(span, err, false);
  endSpan(span);
  throw err;
}

/** `permission.denied` + `permission.denial_type` when the tool's error is a denial. */
function markDenied(span: Span, err: unknown): void {
  try {
    const type = permissionDenialOf(err);
    if (type === undefined) return;
    span.setAttribute(ATTR_PERMISSION_DENIED, true);
    span.setAttribute(ATTR_PERMISSION_DENIAL_TYPE, type);
  } catch (e) {
    log.error('traceToolCall: recording the permission denial failed', e);
  }
}

function recordOutput(span: Span, result: unknown, p: Prepared): string | undefined {
  return recordHash(
    span,
    result,
    TOOL_OUTPUT,
    safeHashKey(p.hooks, p.run),
    p.capture,
    'unsupported_type: the tool returned undefined',
  );
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

function validate(options: TraceToolCallOptions, fn: unknown): void {
  checkObject('options', options);
  checkFunction('fn', fn, true);
  checkString('toolName', options.toolName, true);
  for (let i = 0; i < OPTIONAL_STRINGS.length; i++) {
    const name = OPTIONAL_STRINGS[i]!;
    checkString(name, options[name], false);
  }
  checkBoolean('captureContent', options.captureContent);
  checkFunction('policy', options.policy, false);
  checkOneOf('scope', options.scope, DECISION_SCOPES);
  checkCompliance(options.compliance);
  if (options.sideEffect !== undefined) {
    checkObject('sideEffect', options.sideEffect);
    checkString('sideEffect.operation', options.sideEffect.operation, true);
    checkString('sideEffect.targetSystem', options.sideEffect.targetSystem, true);
  }
  if (options.attributes !== undefined) checkIntegrationAttributes(options.attributes);
}
