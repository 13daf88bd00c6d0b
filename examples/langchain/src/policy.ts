import type { PolicyHook } from '@agent-audit/instrumentation';

/** Refunds above 100 need a human; agents never delete accounts; everything else is allowed. */
export const supportPolicy: PolicyHook = (action) => {
  const input = action.input as { amount?: number };
  if (action.toolName === 'delete_account') {
    return {
      outcome: 'stop',
      reason: 'agents may not delete customer accounts',
      policyId: 'support-policy',
      policyVersion: '4',
    };
  }
  if (action.toolName === 'refund_order' && (input.amount ?? 0) > 100) {
    return {
      outcome: 'approval_required',
      reason: 'refunds above 100 need a supervisor',
      policyId: 'support-policy',
      policyVersion: '4',
    };
  }
  return { outcome: 'allow', policyId: 'support-policy', policyVersion: '4' };
};
