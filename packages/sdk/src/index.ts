export {
  AuditSpanProcessor,
  type AuditSpanProcessorOptions,
  type AuditSpanProcessorStats,
  MANDATORY_ATTRIBUTES,
  VIOLATION_MISSING_MANDATORY,
} from './audit-span-processor.js';
export {
  type ForwardPendingOptions,
  type ForwardPendingResult,
  forwardPending,
} from './forward.js';
export {
  type DrainResult,
  Forwarder,
  type ForwarderOptions,
  type ForwarderRecord,
  type ForwarderSource,
  type ForwarderState,
  type ForwarderStatus,
} from './forwarder.js';
export { type ForwarderCursor, readForwarderCursor } from './forwarder-state.js';
export type {
  AuditRecordEntry,
  AuditRecordSink,
  JsonValue,
  OtlpTraceRequest,
  RecordTags,
  SpanStartPayload,
} from './internal-types.js';
export { DEFAULT_OTLP_TRACES_ENDPOINT, resolveTracesEndpoint } from './otlp-endpoint.js';
export { spanEndPayload, spanRecordTags, spanStartPayload } from './otlp-json.js';
export {
  type AgentAuditHandle,
  getAgentAudit,
  registerAgentAudit,
} from './register-agent-audit.js';
export type { RegisterAgentAuditOptions } from './resolve-config.js';
export {
  ATTR_AUDIT_REDACTION_KINDS,
  ATTR_AUDIT_REDACTIONS,
  SpanRedactor,
  type SpanRedactorOptions,
} from './span-redactor.js';
