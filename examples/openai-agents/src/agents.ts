import { auditAgent } from '@agent-audit/openai-agents';
import { Agent, handoff, tool } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import { z } from 'zod';

/** How often each tool body really ran (the demo prints it: a refused call never runs). */
export const bodyRuns: Record<string, number> = {};
const ran = (name: string) => {
  bodyRuns[name] = (bodyRuns[name] ?? 0) + 1;
};

const lookupOrder = tool({
  name: 'lookup_order',
  description: 'Looks up an order by id',
  parameters: z.object({ orderId: z.string() }),
  execute: async ({ orderId }) => {
    ran('lookup_order');
    return { orderId, status: orderId === 'order-5521' ? 'delivered late' : 'delivered' };
  },
});

const issueRefund = tool({
  name: 'issue_refund',
  description: 'Refunds an order (a human approves every refund)',
  parameters: z.object({ orderId: z.string(), amount: z.number() }),
  needsApproval: true,
  execute: async ({ orderId, amount }) => {
    ran('issue_refund');
    return { refundId: `rf-${orderId}`, amount };
  },
});

const closeAccount = tool({
  name: 'close_customer_account',
  description: 'Closes the customer account',
  parameters: z.object({ customerId: z.string() }),
  execute: async ({ customerId }) => {
    ran('close_customer_account');
    return { closed: customerId };
  },
});

const searchPolicies = tool({
  name: 'search_policies',
  description: 'Searches the refund policy handbook',
  parameters: z.object({ query: z.string() }),
  execute: async ({ query }) => {
    ran('search_policies');
    return {
      hits: [{ id: 'POL-7', title: `Late delivery refunds (${query.length} chars asked)` }],
    };
  },
});

/**
 * The support desk: a triage agent hands off to billing, which looks up two orders in one
 * model message, asks a policy researcher (an agent used as a tool), proposes a refund (the
 * SDK's needsApproval interrupts the run) and tries to close the account (the policy stops
 * it). Every model is the SDK's own ScriptedModel: no network, no key.
 */
export function buildSupportDesk() {
  const researcher = new Agent({
    name: 'Policy Researcher',
    instructions: 'Answer refund policy questions from the handbook.',
    model: new ScriptedModel([
      [functionCall('search_policies', { query: 'late delivery refund' }, { callId: 'call_kb_1' })],
      [assistantMessage('POL-7: a late delivery qualifies for a refund of the shipping fee.')],
    ]),
    tools: [searchPolicies],
  });
  const billing = new Agent({
    name: 'Billing',
    instructions: 'Resolve billing questions; refunds need a human.',
    model: new ScriptedModel([
      [
        functionCall('lookup_order', { orderId: 'order-5521' }, { callId: 'call_order_1' }),
        functionCall('lookup_order', { orderId: 'order-5522' }, { callId: 'call_order_2' }),
      ],
      [
        functionCall(
          'ask_policy_researcher',
          { input: 'Does a late delivery qualify for a refund?' },
          { callId: 'call_research_1' },
        ),
      ],
      [
        functionCall(
          'issue_refund',
          { orderId: 'order-5521', amount: 12 },
          { callId: 'call_refund_1' },
        ),
      ],
      [
        functionCall(
          'close_customer_account',
          { customerId: 'cust-88' },
          { callId: 'call_close_1' },
        ),
      ],
      [
        assistantMessage(
          'Refunded the 12.00 shipping fee for order-5521; closing the account needs a human agent.',
        ),
      ],
    ]),
    tools: [
      lookupOrder,
      issueRefund,
      closeAccount,
      researcher.asTool({
        toolName: 'ask_policy_researcher',
        toolDescription: 'Asks the policy researcher',
      }),
    ],
  });
  const toBilling = handoff(billing, {
    inputType: z.object({ reason: z.string() }),
    onHandoff: () => undefined,
  });
  const triage = new Agent({
    name: 'Triage',
    instructions: 'Route the customer to the right desk.',
    model: new ScriptedModel([
      [
        functionCall(
          toBilling.toolName,
          { reason: 'late delivery, customer asks for a refund' },
          { callId: 'call_handoff_1' },
        ),
      ],
    ]),
    handoffs: [toBilling],
    inputGuardrails: [
      {
        name: 'no_card_numbers',
        execute: async ({ input }) => ({
          outputInfo: {},
          tripwireTriggered: /\b\d{13,19}\b/.test(JSON.stringify(input)),
        }),
      },
    ],
  });
  return auditAgent(triage, { modelName: 'scripted-support-model' });
}
