export type { VerifiedRun } from './adopt-run.js';
export { withVerifiedRun } from './adopt-run.js';
export {
  ATTR_ACTOR_ID,
  ATTR_ACTOR_TYPE,
  ATTR_AGENT_ID,
  ATTR_AGENT_NAME,
  ATTR_AGENT_VERSION,
  ATTR_APPROVAL_APPROVER,
  ATTR_APPROVAL_DECISION,
  ATTR_APPROVAL_EDITS,
  ATTR_APPROVAL_ID,
  ATTR_APPROVAL_INPUT_HASH,
  ATTR_APPROVAL_INPUT_HASH_ERROR,
  ATTR_APPROVAL_NOTE,
  ATTR_APPROVAL_PROPOSED_HASH,
  ATTR_APPROVAL_SHOWN_HASH,
  ATTR_APPROVAL_SHOWN_HASH_ERROR,
  ATTR_APPROVAL_TIME,
  ATTR_AUDIT_CONTENT_DROPPED,
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_AUTHORIZATION_METHOD,
  ATTR_CREDENTIAL_AUDIENCE,
  ATTR_CREDENTIAL_EXPIRES_AT,
  ATTR_CREDENTIAL_ISSUER,
  ATTR_CREDENTIAL_REF,
  ATTR_CREDENTIAL_SCOPES,
  ATTR_DATA_CLASSIFICATION,
  ATTR_DATA_SUBJECTS,
  ATTR_DECISION_ACTION_KEY,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_DECISION_POLICY_VERSION,
  ATTR_DECISION_REASON,
  ATTR_DECISION_SCOPE,
  ATTR_DECISION_STAGE,
  ATTR_HANDOFF_FROM_AGENT,
  ATTR_HANDOFF_REASON,
  ATTR_HANDOFF_TO_AGENT,
  ATTR_INPUT_FEATURES_TRUNCATED,
  ATTR_INPUT_HASH,
  ATTR_INPUT_HASH_ERROR,
  ATTR_INPUT_SHAPE,
  ATTR_INPUT_SIGNALS,
  ATTR_INPUT_SIZE,
  ATTR_INPUT_SOURCE_HASHES,
  ATTR_INPUT_SOURCE_REFS,
  ATTR_INPUT_SOURCE_TYPES,
  ATTR_LLM_REQUESTED_TOOL_CALL_IDS,
  ATTR_LLM_REQUESTED_TOOLS,
  ATTR_OUTPUT_HASH,
  ATTR_OUTPUT_HASH_ERROR,
  ATTR_OUTPUT_SIZE,
  ATTR_PAYLOAD_HASH,
  ATTR_PAYLOAD_REF,
  ATTR_PERMISSION_DENIAL_TYPE,
  ATTR_PERMISSION_DENIED,
  ATTR_POLICY_NOTE,
  ATTR_PROMPT_HASH,
  ATTR_PROMPT_HASH_ERROR,
  ATTR_PROMPT_VERSION,
  ATTR_RETENTION_POLICY,
  ATTR_RUN_CONTEXT_CLAIM_REASON,
  ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL,
  ATTR_RUN_CONTEXT_CLAIMED_RUN_ID,
  ATTR_RUN_CONTEXT_STATUS,
  ATTR_SIDE_EFFECT_IDEMPOTENCY_KEY,
  ATTR_SIDE_EFFECT_OBJECT_ID,
  ATTR_SIDE_EFFECT_OPERATION,
  ATTR_SIDE_EFFECT_RESULT_HASH,
  ATTR_SIDE_EFFECT_RESULT_HASH_ERROR,
  ATTR_SIDE_EFFECT_STATUS,
  ATTR_SIDE_EFFECT_TARGET_SYSTEM,
  ATTR_SYSTEM_PROMPT_HASH,
  ATTR_SYSTEM_PROMPT_HASH_ERROR,
  ATTR_TARGET_ID,
  ATTR_TARGET_TYPE,
  ATTR_TENANT_ID,
  ATTR_TOOL_NAME,
  ATTR_TOOL_REASON,
  ATTR_TOOL_VERSION,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_TRIGGER_TYPE,
  ATTR_VALIDATION_NAME,
  ATTR_VALIDATION_REASON,
  ATTR_WORKFLOW_NAME,
  ATTR_WORKFLOW_RUN_ID,
  ATTR_WORKFLOW_VERSION,
  AUDIT_INSTRUMENTATION_SCOPE,
  INPUT_SIGNAL_BASE64_BLOB,
  INPUT_SIGNAL_BINARY_BLOB,
  INPUT_SIGNAL_PATH_TRAVERSAL,
  INPUT_SIGNAL_PROMPT_INJECTION,
  INPUT_SIGNAL_SHELL_METACHARACTERS,
  INPUT_SIGNAL_SQL_INJECTION,
} from './attributes.js';
export type { AuditHooks, HashKeyResolver } from './audit-hooks.js';
export { getAuditHooks, setAuditHooks } from './audit-hooks.js';
export type { ComplianceFields } from './compliance.js';
export type { CredentialIssuedOptions, CredentialRefOptions } from './credential-ref.js';
export { credentialRef, recordCredentialIssued } from './credential-ref.js';
export type { PermissionDenialType, RefusalCode } from './errors.js';
export {
  ApprovalRequiredError,
  AuditRefusedError,
  MissingRunContextError,
  PERMISSION_DENIAL_TYPES,
  PermissionDeniedError,
  PolicyStopError,
  ToolCallRefusedError,
} from './errors.js';
export type {
  CanonicalJsonResult,
  HashErrorCode,
  HashKey,
  HashResult,
  HashValueOptions,
} from './hash-value.js';
export {
  canonicalJson,
  DEFAULT_HASH_MAX_DEPTH,
  DEFAULT_HASH_MAX_SIZE,
  hashCanonicalJson,
  hashMatches,
  hashValue,
} from './hash-value.js';
export {
  escapeIdentity,
  identityProblem,
  isSafeIdentity,
  MAX_IDENTITY_LENGTH,
} from './identity-text.js';
export type { InputFeatures, InputSignalRule } from './input-features.js';
export {
  BUILT_IN_INPUT_SIGNALS,
  FEATURES_MAX_DEPTH,
  FEATURES_MAX_NODES,
  FEATURES_MAX_SCAN_CHARS,
  inputFeatures,
  inputSignalRulesProblem,
} from './input-features.js';
export { permissionDenialOf } from './permission-denial.js';
export type {
  ApprovalReceipt,
  ApprovalRequest,
  AuthorizationMethod,
  DecisionOutcome,
  DecisionScope,
  PolicyDecision,
  PolicyHook,
  ProposedAction,
} from './policy.js';
export { actionKeyOf } from './policy.js';
export type { HeaderCarrier } from './propagation.js';
export {
  extractRunContext,
  injectRunContext,
  RUN_CONTEXT_HEADER,
  withRemoteRunContext,
} from './propagation.js';
export type { RecordApprovalOptions } from './record-approval.js';
export { recordApproval } from './record-approval.js';
export type { RecordInputResolvedOptions, ResolvedSource } from './record-input-resolved.js';
export { recordInputResolved } from './record-input-resolved.js';
export type { PolicyChangeOptions } from './record-policy-change.js';
export { recordPolicyChange } from './record-policy-change.js';
export type { RecordSideEffectOptions, SideEffectReceipt } from './record-side-effect.js';
export { recordSideEffect } from './record-side-effect.js';
export type { RecordValidationOptions } from './record-validation.js';
export { recordValidation } from './record-validation.js';
export type {
  PiiKind,
  RedactionKind,
  RedactOptions,
  RedactResult,
  SecretKind,
} from './redaction.js';
export { looksLikeSecret, redactString } from './redaction.js';
export type { ClaimedRunContext, RunAttributes } from './run-context.js';
export {
  BAGGAGE_RUN_ID,
  BAGGAGE_TRIGGER_PRINCIPAL,
  getClaimedRunContext,
  getRunContext,
  isValidPrincipal,
  isValidRunId,
} from './run-context.js';
export type { RunContextClaimReason } from './run-context-token.js';
export type { RunContextTrustOptions } from './run-context-trust.js';
export { configureRunContextTrust } from './run-context-trust.js';
export type { ActorType, RunEventName, RunEventOptions } from './run-events.js';
export {
  RUN_EVENT_APPROVAL_GRANTED,
  RUN_EVENT_APPROVAL_INVALID,
  RUN_EVENT_APPROVAL_REJECTED,
  RUN_EVENT_APPROVAL_REQUESTED,
  RUN_EVENT_CREDENTIAL_ISSUED,
  RUN_EVENT_DECISION_PROPOSED,
  RUN_EVENT_INPUT_RESOLVED,
  RUN_EVENT_POLICY_CHANGED,
  RUN_EVENT_POLICY_DECISION,
  RUN_EVENT_RETRIEVAL_COMPLETED,
  RUN_EVENT_RUN_COMPLETED,
  RUN_EVENT_RUN_CREATED,
  RUN_EVENT_RUN_FAILED,
  RUN_EVENT_RUN_TIMED_OUT,
  RUN_EVENT_SIDE_EFFECT_APPLIED,
  RUN_EVENT_SIDE_EFFECT_BLOCKED,
  RUN_EVENT_TOOL_CALLED,
  RUN_EVENT_VALIDATION_FAILED,
  RUN_EVENT_VALIDATION_PASSED,
  recordRunEvent,
} from './run-events.js';
export type { RunHandle, RunWorkflowOptions, TriggerType } from './run-workflow.js';
export { runWorkflow } from './run-workflow.js';
// The copied gen_ai.* names (semconv.ts) stay private: they track a Development-status
// convention and may change in any release. Only the stable error.type names are exported.
export { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from './semconv.js';
export type { SubjectKey } from './subject-ref.js';
export {
  isSubjectRef,
  SUBJECT_REF_PREFIX,
  subjectKeyProblem,
  subjectRef,
} from './subject-ref.js';
export type { LlmCallHandle, LlmResponse, TraceLlmCallOptions } from './trace-llm-call.js';
export { traceLlmCall } from './trace-llm-call.js';
export type { ToolCallHandle, TraceToolCallOptions } from './trace-tool-call.js';
export { traceToolCall } from './trace-tool-call.js';
