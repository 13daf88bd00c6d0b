import type { PolicyHook } from '@agent-audit/instrumentation';

export const SUPPORT_POLICY = 'support-actions';
export const SUPPORT_POLICY_VERSION = '3';
const REFUND_LIMIT = 50;

/**
 * The runtime's decision before any tool runs: refunds above the limit need a human,
 * closing an account is never the agent's call, everything else is allowed.
 */
export const supportPolicy: PolicyHook = ({ toolName, input }) => {
  const decided = { policyId: SUPPORT_POLICY, policyVersion: SUPPORT_POLICY_VERSION };
  if (toolName === 'close_customer_account') {
    return {
      ...decided,
      outcome: 'stop',
      reason: 'account closure needs the customer’s written request to a human agent',
    };
  }
  if (toolName === 'issue_refund' && (input as { amount: number }).amount > REFUND_LIMIT) {
    return { ...decided, outcome: 'approval_required', reason: `refund above ${REFUND_LIMIT}` };
  }
  return { ...decided, outcome: 'allow' };
};
