import { recordSideEffect } from '@agent-audit/instrumentation';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';

/** What the tools did: the demo prints it, and a refused tool's list stays empty. */
export const ledger: { tool: string; args: unknown }[] = [];

export const lookupOrder = tool(
  async ({ orderId }) => {
    ledger.push({ tool: 'lookup_order', args: { orderId } });
    return JSON.stringify({ orderId, total: 250, status: 'delivered' });
  },
  {
    name: 'lookup_order',
    description: 'Reads an order from the order system',
    schema: z.object({ orderId: z.string() }),
  },
);

export const refundOrder = tool(
  async ({ orderId, amount }) => {
    ledger.push({ tool: 'refund_order', args: { orderId, amount } });
    const refundId = `rf-${orderId.slice(-4)}`;
    // The tool body runs inside its audited tool call: the receipt joins that call's span.
    recordSideEffect({
      targetSystem: 'payments',
      operation: 'refund',
      objectId: `refund/${refundId}`,
      idempotencyKey: `${orderId}:${amount}`,
      result: { refundId, amount },
    });
    return `refunded ${amount} on ${orderId} (refund ${refundId})`;
  },
  {
    name: 'refund_order',
    description: 'Refunds part or all of an order',
    schema: z.object({ orderId: z.string(), amount: z.number() }),
  },
);

export const deleteAccount = tool(
  async ({ customerId }) => {
    ledger.push({ tool: 'delete_account', args: { customerId } });
    return `deleted ${customerId}`;
  },
  {
    name: 'delete_account',
    description: 'Deletes a customer account',
    schema: z.object({ customerId: z.string() }),
  },
);

export const searchKb = tool(
  async ({ query }) => {
    ledger.push({ tool: 'search_kb', args: { query } });
    return 'KB-17: refunds above 100 need a supervisor';
  },
  {
    name: 'search_kb',
    description: 'Searches the support knowledge base',
    schema: z.object({ query: z.string() }),
  },
);
