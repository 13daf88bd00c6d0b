import type { ApprovalRequest } from '@agent-audit/instrumentation';
import type { ApprovalInterrupt } from './options.js';

/**
 * The {@link ApprovalRequest} an approval interrupt stands for, for an approver that runs in
 * another process: `recordApproval(approvalRequestOf(payload), { approver, decision })` inside
 * `withRemoteRunContext(payload.runContext, …)` makes the receipt to resume the graph with (it
 * carries a `proof` when a hash key is configured, and only then verifies in the process that
 * resumes). A bad payload throws `Configuration: …`.
 */
export function approvalRequestOf(payload: ApprovalInterrupt): ApprovalRequest {
  if (
    payload === null ||
    typeof payload !== 'object' ||
    payload.type !== 'agent-audit.approval_required' ||
    typeof payload.approvalId !== 'string' ||
    typeof payload.toolName !== 'string' ||
    typeof payload.actionKey !== 'string'
  ) {
    throw new Error(
      `Configuration: payload is invalid, expected the value of an agent-audit approval interrupt (type agent-audit.approval_required) (actual: ${payload === null ? 'null' : typeof payload})`,
    );
  }
  return Object.freeze({
    approvalId: payload.approvalId,
    runId: payload.runId,
    toolName: payload.toolName,
    toolVersion: undefined,
    actionKey: payload.actionKey,
    inputHash: payload.inputHash,
    input: payload.input,
    decision: { outcome: 'approval_required', reason: payload.reason },
  });
}
