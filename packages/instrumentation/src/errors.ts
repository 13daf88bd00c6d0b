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

/** What kind of permission a denied tool call lacked (`permission.denial_type`). */
export type PermissionDenialType =
  | 'network'
  | 'filesystem'
  | 'code_execution'
  | 'data_access'
  | 'policy';

/** The denial types, in the order the docs list them. */
export const PERMISSION_DENIAL_TYPES: readonly PermissionDenialType[] = Object.freeze([
  'network',
  'filesystem',
  'code_execution',
  'data_access',
  'policy',
]);

/**
 * Thrown by a tool (or the service behind it) to say it was denied permission. A tool call
 * that throws it (directly or as the `cause` of its error) is recorded `permission.denied` with
 * `permission.denial_type` = `denialType`; the error itself propagates unchanged.
 */
export class PermissionDeniedError extends Error {
  override readonly name: string = 'PermissionDeniedError';
  readonly denialType: PermissionDenialType;
  constructor(message: string, options: { denialType: PermissionDenialType; cause?: unknown }) {
    super(message, checkedDenialOptions(options));
    this.denialType = options.denialType;
  }
}

function checkedDenialOptions(options: {
  denialType: PermissionDenialType;
  cause?: unknown;
}): { cause: unknown } | undefined {
  const type = (options as { denialType?: unknown } | undefined)?.denialType;
  if (!PERMISSION_DENIAL_TYPES.includes(type as PermissionDenialType)) {
    throw new Error(
      `Configuration: denialType is invalid, expected one of ${PERMISSION_DENIAL_TYPES.join(', ')} (actual: ${JSON.stringify(type)})`,
    );
  }
  return options.cause === undefined ? undefined : { cause: options.cause };
}
