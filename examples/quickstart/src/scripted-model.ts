/**
 * A scripted stand-in for an LLM planner, so the demo needs no network and no API key.
 * Given a support ticket it always proposes the same plan, with the token counts a real
 * model would report; a real agent would ask a model.
 */
export interface Ticket {
  id: string;
  customerId: string;
  orderId: string;
  subject: string;
  body: string;
}

export type PlannedStep =
  | { tool: 'search_knowledge_base'; reason: string; input: { query: string } }
  | { tool: 'update_ticket'; reason: string; input: { ticketId: string; status: string } }
  | { tool: 'issue_refund'; reason: string; input: { orderId: string; amount: number } }
  | { tool: 'close_customer_account'; reason: string; input: { customerId: string } }
  | { tool: 'delegate_draft_reply'; reason: string; input: { ticketId: string } }
  | { tool: 'send_email'; reason: string; input: { to: string; subject: string } };

export interface Plan {
  steps: PlannedStep[];
  usage: { inputTokens: number; outputTokens: number };
}

export const SCRIPTED_MODEL = 'scripted-planner-1';
export const SCRIPTED_PROVIDER = 'scripted';
export const PLANNER_PROMPT_VERSION = 'support-planner-v3';
export const PLANNER_SYSTEM_PROMPT =
  'You are a support agent. Propose tool calls; refunds and account changes follow policy.';

export function planTicket(ticket: Ticket): Plan {
  return {
    usage: { inputTokens: 412, outputTokens: 96 },
    steps: [
      {
        tool: 'search_knowledge_base',
        reason: 'find the documented fix before answering',
        input: { query: ticket.subject },
      },
      {
        tool: 'update_ticket',
        reason: 'record that the agent is handling the ticket',
        input: { ticketId: ticket.id, status: 'in_progress' },
      },
      {
        tool: 'issue_refund',
        reason: 'the customer was charged for a month without access',
        input: { orderId: ticket.orderId, amount: 120 },
      },
      {
        tool: 'close_customer_account',
        reason: 'the customer wrote that they want to leave',
        input: { customerId: ticket.customerId },
      },
      {
        tool: 'delegate_draft_reply',
        reason: 'the drafting sub-agent owns customer-facing wording',
        input: { ticketId: ticket.id },
      },
      {
        tool: 'send_email',
        reason: 'deliver the drafted reply to the customer',
        input: { to: `${ticket.customerId}@customers.example`, subject: `Re: ${ticket.subject}` },
      },
    ],
  };
}
