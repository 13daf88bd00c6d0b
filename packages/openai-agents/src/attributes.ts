/** Attribute names this integration adds (the audit attributes come from instrumentation). */
export const ATTR_OAI_SPAN_TYPE = 'openai_agents.span.type';
export const ATTR_OAI_TRACE_ID = 'openai_agents.trace_id';
export const ATTR_OAI_SPAN_ID = 'openai_agents.span_id';
export const ATTR_OAI_TURN = 'openai_agents.turn';
export const ATTR_OAI_ARGUMENTS_INVALID = 'openai_agents.arguments_invalid';
export const ATTR_HANDOFF_FROM_AGENT = 'handoff.from_agent';
export const ATTR_HANDOFF_TO_AGENT = 'handoff.to_agent';
export const ATTR_HANDOFF_REASON = 'handoff.reason';
export const ATTR_GUARDRAIL_NAME = 'guardrail.name';
export const ATTR_GUARDRAIL_TRIGGERED = 'guardrail.triggered';
/** Run event recorded for a handoff between agents. */
export const RUN_EVENT_AGENT_HANDOFF = 'agent.handoff';
/** Policy id recorded when the SDK's `needsApproval` interrupts a call. */
export const NEEDS_APPROVAL_POLICY = 'openai-agents:needsApproval';
