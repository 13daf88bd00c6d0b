import {
  type ApprovalReceipt,
  type ApprovalRequiredError,
  type DecisionScope,
  type PolicyHook,
  ToolCallRefusedError,
} from '@agent-audit/instrumentation';

/** How an `approval_required` decision reaches the graph. */
export type ApprovalMode = 'interrupt' | 'refuse';

/** Options shared by {@link auditMiddleware}, {@link auditToolCall} and the callback handler. */
export interface AuditLangChainOptions {
  /**
   * The policy asked before each tool call. The default value is undefined: the process-wide
   * policy of `registerAgentAudit({ policy })` / `setAuditHooks({ policy })` decides, and with
   * none the call is recorded `decision.outcome=allow`, `decision.policy=none`.
   */
  policy?: PolicyHook;
  /** Scope of the decision and of its action key. The default value is `user`. */
  scope?: DecisionScope;
  /**
   * The side effect of each tool, by tool name: a refused call of that tool records
   * `side_effect.blocked` (what did not happen). The default value is none.
   */
  sideEffects?: Readonly<Record<string, { operation: string; targetSystem: string }>>;
  /**
   * `interrupt`: an `approval_required` decision pauses the graph with LangGraph's
   * `interrupt()` (a checkpointer is required) and the resume value is recorded as the human's
   * approval. `refuse`: it reaches the model as an error tool message. The callback handler
   * always refuses (a callback cannot pause a graph). The default value is `interrupt`.
   */
  approvals?: ApprovalMode;
  /** Record chat model calls (`chat {model}` spans). The default value is true. */
  recordModelCalls?: boolean;
  /**
   * The text of the error tool message a refused call returns to the model. The default value
   * is `Tool call refused by the audit policy: <reason>`.
   */
  refusalMessage?: (error: ToolCallRefusedError) => string;
}

/**
 * The resume value a human's answer gives to `Command({ resume })` after an approval interrupt:
 * either this decision (recorded here with `recordApproval`) or an {@link ApprovalReceipt} that
 * `recordApproval` already made elsewhere (it must carry a `proof`: configure a hash key).
 */
export interface ApprovalAnswer {
  /** Who decided, e.g. `user:jane`. Required. */
  approver: string;
  decision: 'approved' | 'rejected';
  /** The arguments as approved, after edits. The default value is the proposed arguments. */
  approvedInput?: unknown;
  /** What the approver was shown. The default value is the interrupt's payload `input`. */
  shown?: unknown;
  note?: string;
  /** The `approvalId` of the interrupt payload the human answered. */
  approvalId?: string;
}

/** The value of the LangGraph interrupt an `approval_required` decision raises. */
export interface ApprovalInterrupt {
  readonly type: 'agent-audit.approval_required';
  readonly approvalId: string;
  readonly toolName: string;
  readonly toolCallId: string | undefined;
  readonly runId: string | undefined;
  readonly actionKey: string;
  readonly inputHash: string | undefined;
  /** The proposed arguments: what to show the approver (kept in the checkpoint, never in a span). */
  readonly input: unknown;
  readonly reason: string | undefined;
  /**
   * W3C `traceparent` and `baggage` of the run: resume inside `withRemoteRunContext(runContext, …)`
   * (in any process) and the approval and the resumed call join the same run.
   */
  readonly runContext: Record<string, string>;
}

export type ApprovalResume = ApprovalAnswer | ApprovalReceipt;

export function defaultRefusalMessage(error: ToolCallRefusedError): string {
  return `Tool call refused by the audit policy: ${error.message}`;
}

const MODES: readonly ApprovalMode[] = ['interrupt', 'refuse'];

/** Checks options once, when the middleware or handler is built. */
export function checkOptions(options: AuditLangChainOptions | undefined): AuditLangChainOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw configuration('options', 'an object', typeof options);
  }
  if (options.policy !== undefined && typeof options.policy !== 'function') {
    throw configuration('policy', 'a function', typeof options.policy);
  }
  if (options.refusalMessage !== undefined && typeof options.refusalMessage !== 'function') {
    throw configuration('refusalMessage', 'a function', typeof options.refusalMessage);
  }
  if (options.approvals !== undefined && !MODES.includes(options.approvals)) {
    throw configuration('approvals', MODES.join('|'), String(options.approvals));
  }
  if (options.scope !== undefined && !['user', 'tenant', 'global'].includes(options.scope)) {
    throw configuration('scope', 'user|tenant|global', String(options.scope));
  }
  if (options.sideEffects !== undefined) {
    if (options.sideEffects === null || typeof options.sideEffects !== 'object') {
      throw configuration(
        'sideEffects',
        'an object keyed by tool name',
        typeof options.sideEffects,
      );
    }
    for (const [tool, effect] of Object.entries(options.sideEffects)) {
      if (typeof effect?.operation !== 'string' || typeof effect?.targetSystem !== 'string') {
        throw configuration(
          `sideEffects.${tool}`,
          '{ operation: string, targetSystem: string }',
          JSON.stringify(effect) ?? typeof effect,
        );
      }
    }
  }
  if (options.recordModelCalls !== undefined && typeof options.recordModelCalls !== 'boolean') {
    throw configuration('recordModelCalls', 'a boolean', typeof options.recordModelCalls);
  }
  return Object.freeze({ ...options });
}

function configuration(name: string, expected: string, actual: string): Error {
  return new Error(`Configuration: ${name} is invalid, expected ${expected} (actual: ${actual})`);
}

const REFUSAL_CODES = new Set([
  'no_run_context',
  'audit_not_durable',
  'policy_stop',
  'approval_required',
  'approval_invalid',
]);

/**
 * A refusal of the gate. By its `code` as well as by class: a bundled agent may load a second
 * copy of `@agent-audit/instrumentation`, whose error classes are other objects.
 */
export function isRefusal(err: unknown): err is ToolCallRefusedError {
  if (err instanceof ToolCallRefusedError) return true;
  const e = err as { code?: unknown; toolName?: unknown } | null;
  return (
    err instanceof Error &&
    typeof e?.code === 'string' &&
    REFUSAL_CODES.has(e.code) &&
    typeof e.toolName === 'string'
  );
}

/** An `approval_required` refusal (with its request), by class or by code. */
export function isApprovalRequired(err: unknown): err is ApprovalRequiredError {
  return (
    isRefusal(err) &&
    err.code === 'approval_required' &&
    typeof (err as { request?: { approvalId?: unknown } }).request?.approvalId === 'string'
  );
}

/** `langgraph.thread_id`: the LangGraph thread a call ran in (the key to its checkpoints). */
export const ATTR_LANGGRAPH_THREAD_ID = 'langgraph.thread_id';
/** `langchain.hook`: which LangChain extension point recorded the call. */
export const ATTR_LANGCHAIN_HOOK = 'langchain.hook';

/** The per-call options every path shares: the policy, scope, side effect, integration attributes. */
export function callOptions(
  opts: AuditLangChainOptions,
  toolName: string,
  hook: 'wrapToolCall' | 'callback',
  threadId: unknown,
): {
  policy?: PolicyHook;
  scope?: DecisionScope;
  sideEffect?: { operation: string; targetSystem: string };
  attributes: Record<string, string>;
} {
  const out: ReturnType<typeof callOptions> = { attributes: { [ATTR_LANGCHAIN_HOOK]: hook } };
  if (typeof threadId === 'string' && threadId !== '') {
    out.attributes[ATTR_LANGGRAPH_THREAD_ID] = threadId;
  }
  if (opts.policy !== undefined) out.policy = opts.policy;
  if (opts.scope !== undefined) out.scope = opts.scope;
  const effect = opts.sideEffects?.[toolName];
  if (effect !== undefined) {
    out.sideEffect = { operation: effect.operation, targetSystem: effect.targetSystem };
  }
  return out;
}
