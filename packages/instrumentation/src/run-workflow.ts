import { context, INVALID_SPAN_CONTEXT, type Span, SpanKind, trace } from '@opentelemetry/api';
import {
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_INPUT_HASH,
  ATTR_OUTPUT_HASH,
  VIOLATION_CREDENTIAL_REF_LOOKS_LIKE_SECRET as VIOLATION_CREDENTIAL_REF,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { type ComplianceFields, checkCompliance, putCompliance } from './compliance.js';
import { hrNow } from './internal/clock.js';
import {
  checkFunction,
  checkObject,
  checkString,
  configurationError,
} from './internal/configuration.js';
import { uuidV7 } from './internal/ids.js';
import { runAttributes, runSpanGenAiAttributes, safeHashKey } from './internal/run-attributes.js';
import { RUN_INPUT, RUN_OUTPUT, recordHash } from './internal/span-hash.js';
import { endSpan, errorType, isThenable, log, markError } from './internal/span-utils.js';
import { getTracer } from './internal/tracer.js';
import { looksLikeSecret } from './redaction.js';
import {
  getClaimedRunContext,
  getRunContext,
  isValidRunId,
  type RunAttributes,
  setRunContext,
} from './run-context.js';
import {
  type ActorType,
  addRunEvent,
  eventAttributes,
  RUN_EVENT_RUN_COMPLETED,
  RUN_EVENT_RUN_CREATED,
  RUN_EVENT_RUN_FAILED,
  RUN_EVENT_RUN_TIMED_OUT,
} from './run-events.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW,
} from './semconv.js';

/** Documented values of `trigger.type`. */
export type TriggerType = 'human' | 'system' | 'schedule' | 'agent';

export interface RunWorkflowOptions {
  /** `agent.id`: stable id of the agent definition. Required. */
  agentId: string;
  agentVersion?: string;
  /** `agent.name`; the span is `invoke_agent {agentName}` when given. */
  agentName?: string;
  /** `gen_ai.request.model` of the agent's model. */
  model?: string;
  /** `workflow.name`; the span is `invoke_workflow {workflowName}` when no agentName is given. */
  workflowName?: string;
  workflowVersion?: string;
  /**
   * `workflow.run_id`. The default value is the enclosing run's id (a local parent run, or a
   * remote one from W3C baggage), else a new UUID v7.
   */
  runId?: string;
  /** `trigger.principal`, e.g. `user:456`. The default value is the enclosing run's. */
  triggerPrincipal?: string;
  /** `trigger.type`. The default value is the enclosing run's, or `agent` under a parent run. */
  triggerType?: TriggerType | (string & {});
  /** `credential.ref` of the run-scoped credential. The default value is the enclosing run's. */
  credentialRef?: string;
  /** Hashed into `input.hash`; never recorded raw. */
  input?: unknown;
  /** `tenant.id`. The default value is the enclosing run's. */
  tenantId?: string;
  /** Compliance fields of the run (authorization method, data subjects, classification, retention). */
  compliance?: ComplianceFields;
}

/** What the workflow body receives. */
export interface RunHandle {
  readonly runId: string;
  readonly span: Span;
}

/**
 * Runs `fn` as one audited agent run: starts the `invoke_agent {agentName}` (or
 * `invoke_workflow {workflowName}`) span, makes the run the active context for everything
 * `fn` does (async included; W3C baggage carries the run id and principal to other processes),
 * and ends the span with `error.type` on failure. Returns what `fn` returns; the agent's own
 * error is rethrown unchanged. Telemetry failures never reach `fn`.
 *
 * A bad option throws `Configuration: …` before anything runs.
 */
export function runWorkflow<T>(options: RunWorkflowOptions, fn: (run: RunHandle) => T): T {
  validate(options, fn);
  const parentCtx = context.active();
  let span: Span | undefined;
  let ctx = parentCtx;
  let runId = options.runId;
  let run: RunAttributes | undefined;
  try {
    const parent = getRunContext(parentCtx);
    runId = options.runId ?? parent?.runId ?? uuidV7();
    const violations: string[] = [];
    let credentialRef = options.credentialRef ?? parent?.credentialRef;
    if (credentialRef !== undefined && looksLikeSecret(credentialRef)) {
      // Refused: a secret must never become an attribute, not even once.
      credentialRef = undefined;
      violations.push(VIOLATION_CREDENTIAL_REF);
    }
    run = Object.freeze({
      runId,
      agentId: options.agentId,
      agentName: options.agentName,
      agentVersion: options.agentVersion,
      triggerPrincipal: options.triggerPrincipal ?? parent?.triggerPrincipal,
      triggerType: options.triggerType ?? parent?.triggerType ?? (parent ? 'agent' : undefined),
      credentialRef,
      tenantId: options.tenantId ?? parent?.tenantId,
      workflowName: options.workflowName ?? parent?.workflowName,
      workflowVersion: options.workflowVersion ?? parent?.workflowVersion,
      model: options.model,
      // Verified only while both the run id and the principal are the verified remote ones.
      verified:
        parent?.verified === true &&
        runId === parent.runId &&
        (options.triggerPrincipal ?? parent.triggerPrincipal) === parent.triggerPrincipal
          ? true
          : undefined,
      // A remote run context that was not adopted stays visible on every span of this run.
      claimed: parent === undefined ? getClaimedRunContext(parentCtx) : parent.claimed,
    });

    const attrs = runAttributes(run);
    runSpanGenAiAttributes(run, attrs);
    const isAgent = options.agentName !== undefined || options.workflowName === undefined;
    attrs[ATTR_GEN_AI_OPERATION_NAME] = isAgent
      ? GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT
      : GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW;
    const missing: string[] = [];
    if (options.input !== undefined) {
      const key = safeHashKey(getAuditHooks(), run);
      if (recordHash(attrs, options.input, RUN_INPUT, key) === undefined) {
        missing.push(ATTR_INPUT_HASH);
      }
    }
    if (credentialRef === undefined) missing.push(ATTR_CREDENTIAL_REF);
    putCompliance(attrs, options.compliance);
    if (violations.length > 0) attrs[ATTR_AUDIT_VIOLATION] = violations;
    if (missing.length > 0) attrs[ATTR_AUDIT_MISSING] = missing;

    const operation = attrs[ATTR_GEN_AI_OPERATION_NAME] as string;
    const target = isAgent ? options.agentName : options.workflowName;
    const name = target === undefined ? operation : `${operation} ${target}`;
    span = getTracer().startSpan(
      name,
      { kind: SpanKind.INTERNAL, startTime: hrNow(), attributes: attrs },
      parentCtx,
    );
    ctx = setRunContext(trace.setSpan(parentCtx, span), run);
    const trigger = run.triggerType;
    const actorType: ActorType =
      trigger === 'human' ? 'human' : trigger === 'agent' ? 'agent' : 'system';
    addRunEvent(
      span,
      RUN_EVENT_RUN_CREATED,
      eventAttributes(run, {
        actorType,
        ...(run.triggerPrincipal === undefined ? {} : { actorId: run.triggerPrincipal }),
        targetType: 'run',
        targetId: runId,
      }),
    );
  } catch (err) {
    log.error('runWorkflow: starting the run span failed; running the workflow untraced', err);
    if (span !== undefined) endSpan(span);
    span = undefined;
    ctx = parentCtx;
    // Without a span, the run's tool calls should still belong to the run.
    try {
      if (run !== undefined) ctx = setRunContext(parentCtx, run);
    } catch {
      ctx = parentCtx;
    }
  }

  const handle: RunHandle = Object.freeze({
    runId: runId ?? '',
    span: span ?? trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
  });
  if (span === undefined) return context.with(ctx, fn, undefined, handle);
  const runSpan = span;

  let result: T;
  try {
    result = context.with(ctx, fn, undefined, handle);
  } catch (err) {
    finishError(runSpan, err, ctx);
    throw err;
  }
  if (isThenable(result)) {
    return result.then(
      (value) => {
        finishOk(runSpan, value, ctx);
        return value;
      },
      (err: unknown) => {
        finishError(runSpan, err, ctx);
        throw err;
      },
    ) as T;
  }
  finishOk(runSpan, result, ctx);
  return result;
}

type Ctx = ReturnType<typeof context.active>;

function finishOk(span: Span, value: unknown, ctx: Ctx): void {
  try {
    const run = getRunContext(ctx);
    const attrs: Record<string, string> = {};
    if (value !== undefined) {
      const hash = recordHash(span, value, RUN_OUTPUT, safeHashKey(getAuditHooks(), run));
      if (hash !== undefined) attrs[ATTR_OUTPUT_HASH] = hash;
    }
    addRunEvent(
      span,
      RUN_EVENT_RUN_COMPLETED,
      eventAttributes(run, { actorType: 'agent', attributes: attrs }),
    );
  } catch (err) {
    log.error('runWorkflow: recording the run result failed', err);
  }
  endSpan(span);
}

function finishError(span: Span, err: unknown, ctx: Ctx): void {
  markError(span, err);
  try {
    const type = errorType(err);
    const timedOut = /timeout|timedout|abort/i.test(type);
    addRunEvent(
      span,
      timedOut ? RUN_EVENT_RUN_TIMED_OUT : RUN_EVENT_RUN_FAILED,
      eventAttributes(getRunContext(ctx), {
        actorType: 'agent',
        attributes: { [ATTR_ERROR_TYPE]: type },
      }),
    );
  } catch (e) {
    log.error('runWorkflow: recording the run failure failed', e);
  }
  endSpan(span);
}

function validate(options: RunWorkflowOptions, fn: unknown): void {
  checkObject('options', options);
  checkFunction('fn', fn, true);
  checkString('agentId', options.agentId, true);
  checkCompliance(options.compliance);
  for (const name of [
    'agentVersion',
    'agentName',
    'model',
    'workflowName',
    'workflowVersion',
    'triggerPrincipal',
    'triggerType',
    'credentialRef',
    'tenantId',
  ] as const) {
    checkString(name, options[name], false);
  }
  if (options.runId !== undefined && !isValidRunId(options.runId)) {
    throw configurationError(
      'runId',
      '1-128 characters [A-Za-z0-9._:@/+=-] starting with a letter or digit',
      JSON.stringify(String(options.runId).slice(0, 40)),
    );
  }
}
