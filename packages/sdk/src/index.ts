// Forwarding lives in @agent-audit/forwarder (the CLI uses it without the SDK); re-exported so
// agents need one import.
export {
  DEFAULT_OTLP_TRACES_ENDPOINT,
  type DrainResult,
  Forwarder,
  type ForwarderCursor,
  type ForwarderOptions,
  type ForwarderRecord,
  type ForwarderSource,
  type ForwarderState,
  type ForwarderStatus,
  type ForwardPendingOptions,
  type ForwardPendingResult,
  forwardPending,
  readForwarderCursor,
  resolveTracesEndpoint,
} from '@agent-audit/forwarder';
export {
  AppendLagSink,
  AuditMetricsProcessor,
  type AuditMetricsSources,
  METRIC_AUDIT_VIOLATIONS,
  METRIC_FORWARDER_BACKLOG,
  METRIC_PERMISSION_DENIALS,
  METRIC_STORE_APPEND_LAG,
  METRIC_TOOL_DURATION,
  METRIC_TOOL_INVOCATIONS,
  TOOL_DURATION_BUCKETS,
  type ToolCallStatus,
} from './audit-metrics.js';
export {
  AuditSpanProcessor,
  type AuditSpanProcessorOptions,
  type AuditSpanProcessorStats,
  MANDATORY_ATTRIBUTES,
  VIOLATION_MISSING_MANDATORY,
} from './audit-span-processor.js';
export type {
  AuditRecordEntry,
  AuditRecordSink,
  JsonValue,
  OtlpTraceRequest,
  RecordTags,
  SpanStartPayload,
} from './internal-types.js';
export {
  DEFAULT_OTLP_METRICS_ENDPOINT,
  type MetricsOptions,
} from './metrics-config.js';
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
