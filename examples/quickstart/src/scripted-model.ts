/**
 * A scripted stand-in for an LLM planner, so the demo needs no network and no API key.
 * Given a support ticket it always proposes the same plan; a real agent would ask a model.
 */
export interface Ticket {
  id: string;
  customerId: string;
  subject: string;
  body: string;
}

export type PlannedStep =
  | { tool: 'search_knowledge_base'; reason: string; input: { query: string } }
  | { tool: 'update_ticket'; reason: string; input: { ticketId: string; status: string } }
  | { tool: 'delegate_draft_reply'; reason: string; input: { ticketId: string; facts: string[] } }
  | { tool: 'send_email'; reason: string; input: { to: string; subject: string } };

export const SCRIPTED_MODEL = 'scripted-planner-1';

export function planTicket(ticket: Ticket): PlannedStep[] {
  return [
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
      tool: 'delegate_draft_reply',
      reason: 'the drafting sub-agent owns customer-facing wording',
      input: { ticketId: ticket.id, facts: [] },
    },
    {
      tool: 'send_email',
      reason: 'deliver the drafted reply to the customer',
      input: { to: `${ticket.customerId}@customers.example`, subject: `Re: ${ticket.subject}` },
    },
  ];
}
