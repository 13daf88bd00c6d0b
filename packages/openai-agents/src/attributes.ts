// The handoff names are the instrumentation's (one home for names; the CLI reads them too).
export {
  ATTR_HANDOFF_FROM_AGENT,
  ATTR_HANDOFF_REASON,
  ATTR_HANDOFF_TO_AGENT,
  RUN_EVENT_AGENT_HANDOFF,
} from '@agent-audit/instrumentation/attributes';
/** Attribute names this integration adds (the audit attributes come from instrumentation). */
export const ATTR_OAI_SPAN_TYPE = 'openai_agents.span.type';
export const ATTR_OAI_TRACE_ID = 'openai_agents.trace_id';
export const ATTR_OAI_SPAN_ID = 'openai_agents.span_id';
export const ATTR_OAI_TURN = 'openai_agents.turn';
export const ATTR_OAI_ARGUMENTS_INVALID = 'openai_agents.arguments_invalid';
export const ATTR_GUARDRAIL_NAME = 'guardrail.name';
export const ATTR_GUARDRAIL_TRIGGERED = 'guardrail.triggered';
/** Policy id recorded when the SDK's `needsApproval` interrupts a call. */
export const NEEDS_APPROVAL_POLICY = 'openai-agents:needsApproval';
