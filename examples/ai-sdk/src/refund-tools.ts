import type { PolicyHook } from '@agent-audit/instrumentation';
import { jsonSchema, tool } from 'ai';

export const REFUND_POLICY = 'refund-limits';
export const REFUND_POLICY_VERSION = '1';
const REFUND_LIMIT = 50;

/** Refunds above the limit need a human; everything else is allowed. */
export const refundPolicy: PolicyHook = ({ toolName, input }) => {
  const decided = { policyId: REFUND_POLICY, policyVersion: REFUND_POLICY_VERSION };
  if (toolName === 'issueRefund' && (input as { amount: number }).amount > REFUND_LIMIT) {
    return { ...decided, outcome: 'approval_required', reason: `refund above ${REFUND_LIMIT}` };
  }
  return { ...decided, outcome: 'allow' };
};

const ORDERS: Record<string, { total: number; status: string }> = {
  'order-5521': { total: 120, status: 'delivered' },
};
const CUSTOMERS: Record<string, { name: string; plan: string }> = {
  'cust-88': { name: 'Dana', plan: 'pro' },
};

/** What the tools did, so the demo can show the refused refund never ran. */
export const toolLog: string[] = [];

const object = (properties: Record<string, object>) =>
  jsonSchema<Record<string, never>>({
    type: 'object',
    properties,
    required: Object.keys(properties),
  });

/** The agent's tools, plain AI SDK tools: `auditTools` wraps them in main.ts. */
export const refundTools = {
  lookupOrder: tool({
    description: 'Looks up an order by id',
    inputSchema: object({ orderId: { type: 'string' } }),
    execute: async (input: Record<string, unknown>) => {
      const orderId = String(input.orderId);
      toolLog.push(`lookupOrder ${orderId}`);
      return { orderId, ...(ORDERS[orderId] ?? { status: 'unknown', total: 0 }) };
    },
  }),
  lookupCustomer: tool({
    description: 'Looks up a customer by id',
    inputSchema: object({ customerId: { type: 'string' } }),
    execute: async (input: Record<string, unknown>) => {
      const customerId = String(input.customerId);
      toolLog.push(`lookupCustomer ${customerId}`);
      return { customerId, ...(CUSTOMERS[customerId] ?? { name: '?', plan: '?' }) };
    },
  }),
  issueRefund: tool({
    description: 'Refunds an amount of an order to the customer',
    inputSchema: object({ orderId: { type: 'string' }, amount: { type: 'number' } }),
    execute: async (input: Record<string, unknown>) => {
      toolLog.push(`issueRefund ${String(input.orderId)} ${String(input.amount)}`);
      return { refunded: input.amount };
    },
  }),
  notifyCustomer: tool({
    description: 'Sends the customer a message',
    inputSchema: object({ customerId: { type: 'string' }, message: { type: 'string' } }),
    execute: async (input: Record<string, unknown>) => {
      toolLog.push(`notifyCustomer ${String(input.customerId)}`);
      return { sent: true };
    },
  }),
};
