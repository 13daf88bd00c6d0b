import type { AuditHooks } from '../audit-hooks.js';
import { hashKeyProblem, hashMatches, hashValue } from '../hash-value.js';
import type { ApprovalReceipt } from '../policy.js';
import type { RunAttributes } from '../run-context.js';
import { safeHashKey } from './run-attributes.js';

/**
 * Receipts made by recordApproval in this process. Without a hash key this is what tells a
 * genuine receipt from an object the agent assembled itself.
 */
const issued = new WeakSet<object>();

/** The fields a receipt's proof covers: everything a decision depends on. */
function proofBody(r: ApprovalReceipt): unknown {
  return {
    domain: 'agent-audit/approval-receipt/v1',
    approvalId: r.approvalId,
    runId: r.runId ?? null,
    toolName: r.toolName,
    actionKey: r.actionKey,
    approver: r.approver,
    decision: r.decision,
    time: r.time,
    inputHash: r.inputHash ?? null,
  };
}

/** `hmac-sha256:<key-id>:<hex>` over the receipt, when a hash key is configured. */
export function proveReceipt(
  receipt: ApprovalReceipt,
  hooks: AuditHooks,
  run: RunAttributes | undefined,
): string | undefined {
  const key = safeHashKey(hooks, run);
  if (key === undefined || hashKeyProblem(key) !== undefined) return undefined;
  const h = hashValue(proofBody(receipt), { key });
  return h.ok ? h.hash : undefined;
}

export function markIssued(receipt: ApprovalReceipt): void {
  issued.add(receipt);
}

/** Why a receipt is not genuine, or undefined when it is. */
export function receiptProofProblem(
  receipt: ApprovalReceipt,
  hooks: AuditHooks,
  run: RunAttributes | undefined,
): string | undefined {
  if (receipt.proof !== undefined) {
    const key = safeHashKey(hooks, run);
    const keys = key === undefined ? [] : [key];
    return hashMatches(proofBody(receipt), receipt.proof, keys)
      ? undefined
      : 'the approval receipt does not verify (altered, or signed with another key)';
  }
  return issued.has(receipt)
    ? undefined
    : 'the approval receipt was not issued by recordApproval in this process (configure a hash key to resume approvals in another process)';
}
