export type { ToolApprovalOptions, ToolRejectionOptions } from './approvals.js';
export { approveToolCall, recordInterruptions, rejectToolCall } from './approvals.js';
export {
  ATTR_GUARDRAIL_NAME,
  ATTR_GUARDRAIL_TRIGGERED,
  ATTR_HANDOFF_FROM_AGENT,
  ATTR_HANDOFF_REASON,
  ATTR_HANDOFF_TO_AGENT,
  NEEDS_APPROVAL_POLICY,
  RUN_EVENT_AGENT_HANDOFF,
} from './attributes.js';
export type { AuditAgentOptions } from './audit-agent.js';
export { auditAgent } from './audit-agent.js';
export type { AuditModelOptions } from './audit-model.js';
export { AuditedModel, AuditModelProvider } from './audit-model.js';
export { AuditTraceProcessor, EVENT_AGENT_TURN } from './audit-trace-processor.js';
