import type { ApprovalRequest, PolicyDecision } from './policy.js';

/** Why a tool call was refused before the tool ran. */
export type RefusalCode =
  | 'no_run_context'
  | 'audit_not_durable'
  | 'policy_stop'
  | 'approval_required'
  | 'approval_invalid';

/**
 * A tool call refused by the audit layer before the tool ran. The tool's own errors are never
 * wrapped in this class; they propagate unchanged.
 */
export class ToolCallRefusedError extends Error {
  override readonly name: string = 'ToolCallRefusedError';
  constructor(
    readonly code: RefusalCode,
    readonly toolName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Strict mode: a tool call outside any run (no `runWorkflow` and no remote run baggage). */
export class MissingRunContextError extends ToolCallRefusedError {
  override readonly name = 'MissingRunContextError';
  constructor(toolName: string) {
    super(
      'no_run_context',
      toolName,
      `Tool call "${toolName}" refused: no run context (call it inside runWorkflow() or withRemoteRunContext()); strict audit mode is on`,
    );
  }
}

/** The audit layer could not make the pre-exec record durable (fail-closed mode). */
export class AuditRefusedError extends ToolCallRefusedError {
  override readonly name = 'AuditRefusedError';
  constructor(toolName: string, cause: unknown) {
    super(
      'audit_not_durable',
      toolName,
      `Tool call "${toolName}" refused: its audit record could not be made durable (${describe(cause)})`,
      { cause },
    );
  }
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}

/** The policy hook decided `stop`: the tool did not run. */
export class PolicyStopError extends ToolCallRefusedError {
  override readonly name = 'PolicyStopError';
  constructor(
    toolName: string,
    readonly decision: PolicyDecision,
  ) {
    super(
      'policy_stop',
      toolName,
      `Tool call "${toolName}" stopped by policy${decision.policyId ? ` ${decision.policyId}` : ''}${decision.reason ? `: ${decision.reason}` : ''}`,
    );
  }
}

/**
 * The policy hook decided `approval_required`: the tool did not run. Show `request` to a
 * human, record the answer with `recordApproval(request, …)` and call the tool again with
 * `approval: receipt`.
 */
export class ApprovalRequiredError extends ToolCallRefusedError {
  override readonly name = 'ApprovalRequiredError';
  constructor(readonly request: ApprovalRequest) {
    super(
      'approval_required',
      request.toolName,
      `Tool call "${request.toolName}" needs human approval (approval ${request.approvalId})${request.decision.reason ? `: ${request.decision.reason}` : ''}`,
    );
  }
}
