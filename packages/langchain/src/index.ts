export { approvalRequestOf } from './approval-request.js';
export { auditMiddleware } from './audit-middleware.js';
export { auditTool } from './audit-tool.js';
export type { AuditedToolCallRequest, WrapToolCall } from './audit-tool-call.js';
export { auditToolCall } from './audit-tool-call.js';
export { AgentAuditCallbackHandler } from './callback-handler.js';
export type {
  ApprovalAnswer,
  ApprovalInterrupt,
  ApprovalMode,
  ApprovalResume,
  AuditLangChainOptions,
} from './options.js';
export { registerAgentAuditCallbacks } from './register-callbacks.js';
