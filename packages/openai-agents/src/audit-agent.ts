import {
  ATTR_TOOL_NAME,
  type DecisionScope,
  type PolicyHook,
  RUN_EVENT_APPROVAL_GRANTED,
  recordRunEvent,
  ToolCallRefusedError,
  traceToolCall,
} from '@agent-audit/instrumentation';
import { Agent, getCurrentSpan, Handoff, handoff } from '@openai/agents';
import { context, trace } from '@opentelemetry/api';
import { takeReceipt } from './approvals.js';
import { ATTR_OAI_ARGUMENTS_INVALID } from './attributes.js';
import { AuditedModel } from './audit-model.js';
import { parseArguments } from './parse-arguments.js';
import { hasApprovalDecisions, parsedInputCallbackKey } from './sdk-internals.js';
import type { AnyAgent, AnyFunctionTool, AnyHandoff, AnyRunContext } from './sdk-types.js';
import {
  linkedContext,
  linkSpan,
  markAudited,
  sdkSpanKey,
  setHandoffReason,
  unlinkSpan,
} from './span-links.js';

export interface AuditAgentOptions {
  /**
   * Asked before each tool call. The default value is the process-wide policy
   * (`registerAgentAudit({ policy })`), else every call is recorded `allow` / policy `none`.
   */
  policy?: PolicyHook;
  /** Scope of decisions and action keys. The default value is `user`. */
  scope?: DecisionScope;
  /**
   * The side effect each tool (by name) would have: a refused call records
   * `side_effect.blocked` with it.
   */
  sideEffects?: Readonly<Record<string, { operation: string; targetSystem: string }>>;
  /**
   * Wrap agents' `Model` objects in {@link AuditedModel} (each model call an LLM call record).
   * The default value is true.
   */
  auditModels?: boolean;
  /** `gen_ai.request.model` for agents whose `model` is a `Model` object (wrapped in an `AuditedModel`). */
  modelName?: string;
  /** Record raw arguments and results (`gen_ai.tool.call.*`). The default value is the hooks' (false). */
  captureContent?: boolean;
}

type Invoke = AnyFunctionTool['invoke'];

const AUDITED = Symbol.for('agent-audit.openai-agents.audited');
/** `Agent.asTool()` tools → the agent they run (the SDK's own registry is internal). */
const agentToolSources = new WeakMap<object, AnyAgent>();

const originalAsTool = Agent.prototype.asTool;
if ((originalAsTool as unknown as Record<symbol, unknown>)[AUDITED] !== true) {
  const patched = function asTool(this: AnyAgent, ...args: Parameters<AnyAgent['asTool']>) {
    const t = originalAsTool.apply(this, args);
    agentToolSources.set(t, this);
    return t;
  } as AnyAgent['asTool'];
  (patched as unknown as Record<symbol, unknown>)[AUDITED] = true;
  Agent.prototype.asTool = patched;
}

/** A tool body error that the SDK's `errorFunction` turned into the model's output. */
class HandledToolError extends Error {
  override readonly name = 'ToolError';
  constructor(
    message: string,
    readonly output: unknown,
  ) {
    super(message);
  }
}

/**
 * Audits every function tool of `agent`, of its handoff targets and of the agents it uses
 * through `Agent.asTool()` (recursively): each call runs through `traceToolCall` (call id from
 * the model's tool call item, parsed arguments hashed, the policy gate before the body). A
 * refused call never runs its body; the refusal reaches the model through the tool's own
 * `errorFunction` (the SDK's idiom for a failed tool), or fails the run when the tool has
 * `errorFunction: null`. Handoffs given as agents become `handoff()` objects so the reason the
 * model gives can be recorded. An agent whose `model` is a `Model` object gets an
 * {@link AuditedModel} (each model call an LLM call record). Mutates the agents and tools in place; returns `agent`.
 */
export function auditAgent<A extends AnyAgent>(agent: A, options: AuditAgentOptions = {}): A {
  const queue: AnyAgent[] = [agent];
  const seen = new Set<AnyAgent>();
  while (queue.length > 0) {
    const a = queue.shift()!;
    if (seen.has(a)) continue;
    seen.add(a);
    if (
      options.auditModels !== false &&
      typeof a.model === 'object' &&
      a.model !== null &&
      !(a.model instanceof AuditedModel)
    ) {
      a.model = new AuditedModel(a.model, {
        modelName: options.modelName ?? a.model.constructor?.name ?? 'unknown',
      });
    }
    for (const t of a.tools) {
      if (t.type !== 'function') continue;
      wrapFunctionTool(t as AnyFunctionTool, options);
      const source = agentToolSources.get(t);
      if (source !== undefined) queue.push(source);
    }
    a.handoffs = a.handoffs.map((h) => {
      const ho = h instanceof Handoff ? h : handoff(h as AnyAgent);
      wrapHandoff(ho);
      queue.push(ho.agent);
      return ho;
    }) as typeof a.handoffs;
  }
  return agent;
}

function wrapFunctionTool(t: AnyFunctionTool, options: AuditAgentOptions): void {
  const marks = t as unknown as Record<symbol, unknown>;
  if (marks[AUDITED] === true) return;
  marks[AUDITED] = true;
  const invoke: Invoke = t.invoke;
  const audited: Invoke = async (runContext, input, details) => {
    const toolName = t.name;
    const callId = details?.toolCall?.callId;
    const parsed = parseArguments(input);
    const sdkSpan = getCurrentSpan();
    const sdkKey = sdkSpanKey(sdkSpan);
    markAudited(sdkKey);
    const parentCtx =
      (sdkKey === undefined ? undefined : linkedContext(sdkSpan?.parentId)) ?? context.active();
    const receipt = takeReceipt(callId);
    if (receipt === undefined && isApprovedBySdk(runContext, toolName, callId)) {
      // Approved with state.approve() directly: the SDK does not say by whom.
      context.with(parentCtx, () =>
        recordRunEvent(RUN_EVENT_APPROVAL_GRANTED, {
          actorType: 'human',
          actorId: 'unknown',
          targetType: 'tool_call',
          targetId: callId,
          attributes: { [ATTR_TOOL_NAME]: toolName },
        }),
      );
    }
    try {
      return await context.with(parentCtx, () =>
        traceToolCall(
          {
            toolName,
            description: t.description,
            callId,
            input: parsed.ok ? parsed.value : input,
            ...(receipt === undefined ? {} : { approval: receipt }),
            ...(parsed.ok ? {} : { attributes: { [ATTR_OAI_ARGUMENTS_INVALID]: true } }),
            ...(options.sideEffects?.[toolName] === undefined
              ? {}
              : { sideEffect: options.sideEffects[toolName] }),
            ...(options.policy === undefined ? {} : { policy: options.policy }),
            ...(options.scope === undefined ? {} : { scope: options.scope }),
            ...(options.captureContent === undefined
              ? {}
              : { captureContent: options.captureContent }),
          },
          async (call) => {
            linkSpan(sdkKey, trace.setSpan(context.active(), call.span));
            const errorBefore = sdkSpan?.error ?? null;
            try {
              const output = await invoke(runContext, input, details);
              // The SDK's errorFunction already turned a body error into the model's output;
              // the trail must still say the tool failed.
              const error = sdkSpan?.error ?? null;
              if (error !== null && error !== errorBefore) {
                throw new HandledToolError(error.message, output);
              }
              return output;
            } finally {
              unlinkSpan(sdkKey);
            }
          },
        ),
      );
    } catch (err) {
      if (err instanceof HandledToolError) return err.output;
      if (err instanceof ToolCallRefusedError)
        return refuseThroughSdk(invoke, runContext, input, details, err);
      throw err;
    }
  };
  t.invoke = audited;
}

/**
 * Hands a refusal to the SDK the way it handles a tool that throws: the tool's own invoke runs
 * with the SDK's parsed-input callback (called after the arguments are parsed, before the body)
 * replaced by one that throws the refusal, so the SDK's `errorFunction` (default or the
 * user's) turns it into the model's tool output, or, with `errorFunction: null`, fails the
 * run with a `ToolCallError`. The body never runs. Without that callback (a direct
 * `invokeFunctionTool` call), the refusal is thrown.
 */
async function refuseThroughSdk(
  invoke: Invoke,
  runContext: AnyRunContext,
  input: string,
  details: Parameters<Invoke>[2],
  refusal: ToolCallRefusedError,
): Promise<unknown> {
  const key = parsedInputCallbackKey(details);
  if (details === undefined || key === undefined) throw refusal;
  const slots = details as unknown as Record<symbol, unknown>;
  const before = slots[key];
  slots[key] = () => {
    throw refusal;
  };
  try {
    return await invoke(runContext, input, details);
  } finally {
    slots[key] = before;
  }
}

function isApprovedBySdk(
  runContext: AnyRunContext,
  toolName: string,
  callId: string | undefined,
): boolean {
  if (callId === undefined) return false;
  try {
    // Most runs hold no approval decision at all: then nothing is approved, and the check costs
    // ~1 µs instead of isToolApproved's ~20 µs per call (sdk-internals.ts, hasApprovalDecisions).
    if (!hasApprovalDecisions(runContext)) return false;
    return runContext.isToolApproved({ toolName, callId }) === true;
  } catch {
    return false;
  }
}

function wrapHandoff(h: AnyHandoff): void {
  const marks = h as unknown as Record<symbol, unknown>;
  if (marks[AUDITED] === true) return;
  marks[AUDITED] = true;
  const onInvoke = h.onInvokeHandoff;
  h.onInvokeHandoff = (runContext, args) => {
    try {
      const span = getCurrentSpan();
      const parsed = parseArguments(args);
      const reason =
        parsed.ok && isRecord(parsed.value) && typeof parsed.value.reason === 'string'
          ? parsed.value.reason
          : undefined;
      if (span !== null && span.spanData.type === 'handoff' && reason !== undefined)
        setHandoffReason(sdkSpanKey(span), reason);
    } catch {
      // Recording the reason never breaks the handoff.
    }
    return onInvoke(runContext, args);
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
