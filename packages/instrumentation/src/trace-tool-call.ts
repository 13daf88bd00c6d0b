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
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_INPUT_HASH,
  ATTR_INPUT_HASH_ERROR,
  ATTR_OUTPUT_HASH,
  ATTR_OUTPUT_HASH_ERROR,
  ATTR_TOOL_NAME,
  ATTR_TOOL_REASON,
  ATTR_TOOL_VERSION,
} from './attributes.js';
import { type AuditHooks, getAuditHooks } from './audit-hooks.js';
import { AuditRefusedError, MissingRunContextError } from './errors.js';
import { canonicalJson, hashCanonicalJson } from './hash-value.js';
import { randomId } from './internal/ids.js';
import { checkString, endSpan, log, markError, put } from './internal/span-utils.js';
import { getTracer } from './internal/tracer.js';
import { looksLikeSecret } from './redaction.js';
import { getRunContext, type RunAttributes } from './run-context.js';
import { runAttributes, safeHashKey } from './run-workflow.js';
import {
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
}

/** What the tool body receives. */
export interface ToolCallHandle {
  readonly span: Span;
  readonly callId: string;
}

export const VIOLATION_NO_RUN_CONTEXT = 'no_run_context';
export const VIOLATION_CREDENTIAL_REF = 'credential_ref_looks_like_secret';

interface Prepared {
  span: Span;
  callId: string;
  run: RunAttributes | undefined;
  capture: boolean;
  hooks: AuditHooks;
}

/**
 * Runs one tool call as a child `execute_tool {toolName}` span (kind INTERNAL) of the active
 * run: `input.hash` before the tool runs, `output.hash` after, the run's attribution, the
 * credential reference and the agent's reason. Awaits the hooks' `beforeToolCall(span)` before
 * running the tool.
 *
 * Refusals (before `fn` runs, as {@link ToolCallRefusedError} subclasses): no run context in
 * strict mode; `beforeToolCall` rejecting (fail-closed store). Every other telemetry failure is
 * logged through `diag` and never reaches the tool; the tool's own errors propagate unchanged.
 */
export async function traceToolCall<T>(
  options: TraceToolCallOptions,
  fn: (call: ToolCallHandle) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  validate(options, fn);
  const parentCtx = context.active();
  const prepared = prepare(options, parentCtx);
  if (prepared === undefined) {
    const span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    return (await fn({ span, callId: options.callId ?? '' })) as Awaited<T>;
  }
  const { span, callId, capture, hooks } = prepared;

  if (prepared.run === undefined && hooks.strict === true) {
    const err = new MissingRunContextError(options.toolName);
    markError(span, err);
    endSpan(span);
    throw err;
  }

  if (hooks.beforeToolCall !== undefined) {
    try {
      await hooks.beforeToolCall(span);
    } catch (cause) {
      const err = new AuditRefusedError(options.toolName, cause);
      markError(span, err);
      endSpan(span);
      throw err;
    }
  }

  const handle: ToolCallHandle = Object.freeze({ span, callId });
  let result: Awaited<T>;
  try {
    result = (await context.with(
      trace.setSpan(parentCtx, span),
      fn,
      undefined,
      handle,
    )) as Awaited<T>;
  } catch (err) {
    markError(span, err);
    endSpan(span);
    throw err;
  }
  try {
    recordOutput(span, result, prepared.run, hooks, capture);
  } catch (err) {
    log.error('traceToolCall: recording the result failed', err);
  }
  endSpan(span);
  return result;
}

function prepare(options: TraceToolCallOptions, parentCtx: Context): Prepared | undefined {
  try {
    const hooks = getAuditHooks();
    const run = getRunContext(parentCtx);
    const callId = options.callId ?? randomId();
    const capture = options.captureContent ?? hooks.captureContent === true;
    const violations: string[] = [];
    const missing: string[] = [];

    const attrs: Attributes = run === undefined ? {} : runAttributes(run);
    attrs[ATTR_GEN_AI_OPERATION_NAME] = GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL;
    attrs[ATTR_TOOL_NAME] = options.toolName;
    attrs[ATTR_GEN_AI_TOOL_NAME] = options.toolName;
    attrs[ATTR_GEN_AI_TOOL_CALL_ID] = callId;
    attrs[ATTR_GEN_AI_TOOL_TYPE] = options.toolType ?? 'function';
    put(attrs, ATTR_TOOL_VERSION, options.toolVersion);
    put(attrs, ATTR_GEN_AI_TOOL_DESCRIPTION, options.description);
    put(attrs, ATTR_TOOL_REASON, options.reason);

    const credentialRef = options.credentialRef ?? run?.credentialRef;
    if (credentialRef !== undefined && looksLikeSecret(credentialRef)) {
      delete attrs[ATTR_CREDENTIAL_REF];
      violations.push(VIOLATION_CREDENTIAL_REF);
      missing.push(ATTR_CREDENTIAL_REF);
    } else if (credentialRef !== undefined) {
      attrs[ATTR_CREDENTIAL_REF] = credentialRef;
    } else {
      missing.push(ATTR_CREDENTIAL_REF);
    }

    const key = safeHashKey(hooks, run);
    const canonical = canonicalJson(options.input);
    if (canonical.ok) {
      const h = hashCanonicalJson(canonical.json, key);
      if (h.ok) attrs[ATTR_INPUT_HASH] = h.hash;
      else {
        attrs[ATTR_INPUT_HASH_ERROR] = h.error;
        missing.push(ATTR_INPUT_HASH);
      }
      if (capture) attrs[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS] = canonical.json;
    } else {
      attrs[ATTR_INPUT_HASH_ERROR] =
        options.input === undefined ? 'unsupported_type: no input given' : canonical.error;
      missing.push(ATTR_INPUT_HASH);
    }

    if (run === undefined) {
      violations.push(VIOLATION_NO_RUN_CONTEXT);
      missing.push('workflow.run_id', 'agent.id');
    }
    if (violations.length > 0) attrs[ATTR_AUDIT_VIOLATION] = violations;
    if (missing.length > 0) attrs[ATTR_AUDIT_MISSING] = missing;

    const span = getTracer().startSpan(
      `${GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL} ${options.toolName}`,
      { kind: SpanKind.INTERNAL, attributes: attrs },
      parentCtx,
    );
    return { span, callId, run, capture, hooks };
  } catch (err) {
    log.error('traceToolCall: starting the tool span failed; running the tool untraced', err);
    return undefined;
  }
}

function recordOutput(
  span: Span,
  result: unknown,
  run: RunAttributes | undefined,
  hooks: AuditHooks,
  capture: boolean,
): void {
  const canonical = canonicalJson(result);
  if (!canonical.ok) {
    span.setAttribute(
      ATTR_OUTPUT_HASH_ERROR,
      result === undefined ? 'unsupported_type: the tool returned undefined' : canonical.error,
    );
    return;
  }
  const h = hashCanonicalJson(canonical.json, safeHashKey(hooks, run));
  if (h.ok) span.setAttribute(ATTR_OUTPUT_HASH, h.hash);
  else span.setAttribute(ATTR_OUTPUT_HASH_ERROR, h.error);
  if (capture) span.setAttribute(ATTR_GEN_AI_TOOL_CALL_RESULT, canonical.json);
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
  for (const name of [
    'toolVersion',
    'toolType',
    'description',
    'callId',
    'credentialRef',
    'reason',
  ] as const) {
    checkString(name, options[name], false);
  }
  if (options.captureContent !== undefined && typeof options.captureContent !== 'boolean') {
    throw new Error(
      `Configuration: captureContent is invalid, expected a boolean (actual: ${typeof options.captureContent})`,
    );
  }
}
