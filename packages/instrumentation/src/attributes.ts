/**
 * The agent-audit attribute names. Every workflow span and every tool-call span carries
 * `agent.id`, `workflow.run_id`, `credential.ref` and `input.hash` (the product card's four);
 * the SDK's AuditSpanProcessor stamps the run-level ones on every other span of the run.
 *
 * Names are spelled out in full (never concatenated) so they can be grepped.
 *
 * This module imports nothing but the copied GenAI names of semconv.ts (which import nothing), so that readers of a store (the CLI, an auditor's script) can
 * take the names from `@agent-audit/instrumentation/attributes` without loading OpenTelemetry.
 */

// Run attribution.
/** Stable id of the agent definition, e.g. `support-agent`. */
export const ATTR_AGENT_ID = 'agent.id';
/** Version of the agent definition. */
export const ATTR_AGENT_VERSION = 'agent.version';
/** Human-readable agent name. */
export const ATTR_AGENT_NAME = 'agent.name';
/** Correlation id of one run, shared by every span of the run in every process. */
export const ATTR_WORKFLOW_RUN_ID = 'workflow.run_id';
export const ATTR_WORKFLOW_NAME = 'workflow.name';
export const ATTR_WORKFLOW_VERSION = 'workflow.version';
/** Reference id of the credential used, never the secret itself. */
export const ATTR_CREDENTIAL_REF = 'credential.ref';
/** Who or what started the run: `user:456`, `system:nightly-sync`. */
export const ATTR_TRIGGER_PRINCIPAL = 'trigger.principal';
/** human | system | schedule | agent */
export const ATTR_TRIGGER_TYPE = 'trigger.type';
export const ATTR_TENANT_ID = 'tenant.id';
/** The authenticated client of a served request (e.g. MCP `authInfo.clientId`); never a token. */
export const ATTR_AUTH_CLIENT_ID = 'auth.client_id';

// Hashes of what went in and came out.
/** `sha256:<hex>` or `hmac-sha256:<key-id>:<hex>` of the RFC 8785 canonical JSON of the input. */
export const ATTR_INPUT_HASH = 'input.hash';
/** Why `input.hash` is absent: `<code>: <message>` (cycle, too_deep, too_large, …). */
export const ATTR_INPUT_HASH_ERROR = 'input.hash_error';
export const ATTR_OUTPUT_HASH = 'output.hash';
export const ATTR_OUTPUT_HASH_ERROR = 'output.hash_error';

// Features of a tool call's input and output, recorded instead of the content (issue 14).
/** UTF-8 bytes of the canonical JSON that `input.hash` covers (int; with `input.hash`). */
export const ATTR_INPUT_SIZE = 'input.size';
/** UTF-8 bytes of the canonical JSON that `output.hash` covers (int; with `output.hash`). */
export const ATTR_OUTPUT_SIZE = 'output.size';
/**
 * `shape:<sha256 hex>` of the input's structure: the sorted, de-duplicated `<path>\t<type>`
 * lines (`$`, `.key`, `[]` for any element), no values. Same structure, same shape.
 */
export const ATTR_INPUT_SHAPE = 'input.shape';
/** String array, sorted: the content classes a linear scan found in the input (`INPUT_SIGNAL_*`). */
export const ATTR_INPUT_SIGNALS = 'input.signals';
/** `true` when the features scan stopped at its budget (they cover the first part only). */
export const ATTR_INPUT_FEATURES_TRUNCATED = 'input.features_truncated';
/** SQL injection patterns: `UNION SELECT`, `' OR '1'='1`, stacked `; DROP TABLE`, `'--`, … */
export const INPUT_SIGNAL_SQL_INJECTION = 'sql_injection';
/** `../` segments (also URL-encoded), `/etc/passwd`, `%00`. */
export const INPUT_SIGNAL_PATH_TRAVERSAL = 'path_traversal';
/** `$(…)`, `${IFS}`, backticked commands, `; rm -rf`, `| bash`, `> /dev/tcp/`, … */
export const INPUT_SIGNAL_SHELL_METACHARACTERS = 'shell_metacharacters';
/** A binary value (Buffer, typed array) or a string with NUL or many control characters. */
export const INPUT_SIGNAL_BINARY_BLOB = 'binary_blob';
/** A run of 256 or more base64 characters, or a `data:…;base64,` URI. */
export const INPUT_SIGNAL_BASE64_BLOB = 'base64_blob';
/** "ignore previous instructions", chat-template markers (`<|im_start|>`, `[INST]`), … */
export const INPUT_SIGNAL_PROMPT_INJECTION = 'prompt_injection';

// Permission denials, a first-class outcome of a tool call.
/** `true` on a tool span whose tool was denied permission, or that the policy stopped. */
export const ATTR_PERMISSION_DENIED = 'permission.denied';
/** network | filesystem | code_execution | data_access | policy */
export const ATTR_PERMISSION_DENIAL_TYPE = 'permission.denial_type';

// Tools.
export const ATTR_TOOL_NAME = 'tool.name';
export const ATTR_TOOL_VERSION = 'tool.version';
/** The agent's stated reason (rationale) for calling the tool. */
export const ATTR_TOOL_REASON = 'tool.reason';

// Policy decisions.
/** allow | stop | approval_required */
export const ATTR_DECISION_OUTCOME = 'decision.outcome';
export const ATTR_DECISION_REASON = 'decision.reason';
/** Id of the policy that decided. */
export const ATTR_DECISION_POLICY = 'decision.policy';
export const ATTR_DECISION_POLICY_VERSION = 'decision.policy_version';
/** Stable de-duplication key of the proposed action (tool + canonical arguments + scope). */
export const ATTR_DECISION_ACTION_KEY = 'decision.action_key';
/** user | tenant | global */
export const ATTR_DECISION_SCOPE = 'decision.scope';
/** pre (before execution) | post (after execution) */
export const ATTR_DECISION_STAGE = 'decision.stage';
/** Free-text note of an operator who changed a policy. */
export const ATTR_POLICY_NOTE = 'policy.note';
/** How the action was authorized: policy | human_approval | just_in_time */
export const ATTR_AUTHORIZATION_METHOD = 'authorization.method';

// Approvals.
export const ATTR_APPROVAL_ID = 'approval.id';
export const ATTR_APPROVAL_APPROVER = 'approval.approver';
/** approved | rejected */
export const ATTR_APPROVAL_DECISION = 'approval.decision';
/** Time of the human decision, ISO 8601. */
export const ATTR_APPROVAL_TIME = 'approval.time';
/** Hash of what the approver was shown. */
export const ATTR_APPROVAL_SHOWN_HASH = 'approval.shown_hash';
/** Why `approval.shown_hash` is absent: `<code>: <message>`. */
export const ATTR_APPROVAL_SHOWN_HASH_ERROR = 'approval.shown_hash_error';
/** `input.hash` of the arguments the approver approved (after edits). */
export const ATTR_APPROVAL_INPUT_HASH = 'approval.input_hash';
/** Why `approval.input_hash` is absent: `<code>: <message>`. */
export const ATTR_APPROVAL_INPUT_HASH_ERROR = 'approval.input_hash_error';
/** `input.hash` of the arguments originally proposed. */
export const ATTR_APPROVAL_PROPOSED_HASH = 'approval.proposed_hash';
/** Names of the argument fields the approver changed. */
export const ATTR_APPROVAL_EDITS = 'approval.edits';
export const ATTR_APPROVAL_NOTE = 'approval.note';

// Side effects.
export const ATTR_SIDE_EFFECT_TARGET_SYSTEM = 'side_effect.target_system';
export const ATTR_SIDE_EFFECT_OBJECT_ID = 'side_effect.object_id';
export const ATTR_SIDE_EFFECT_OPERATION = 'side_effect.operation';
export const ATTR_SIDE_EFFECT_IDEMPOTENCY_KEY = 'side_effect.idempotency_key';
export const ATTR_SIDE_EFFECT_RESULT_HASH = 'side_effect.result_hash';
/** Why `side_effect.result_hash` is absent: `<code>: <message>`. */
export const ATTR_SIDE_EFFECT_RESULT_HASH_ERROR = 'side_effect.result_hash_error';
/** applied | blocked */
export const ATTR_SIDE_EFFECT_STATUS = 'side_effect.status';

// Credentials.
export const ATTR_CREDENTIAL_SCOPES = 'credential.scopes';
export const ATTR_CREDENTIAL_EXPIRES_AT = 'credential.expires_at';
export const ATTR_CREDENTIAL_ISSUER = 'credential.issuer';
// Run context received from another process (signed run context).
/** `verified` (adopted from a signed context) or `claimed` (not adopted: see the next three). */
export const ATTR_RUN_CONTEXT_STATUS = 'run_context.status';
/** The run id a remote caller claimed without a valid signature; never `workflow.run_id`. */
export const ATTR_RUN_CONTEXT_CLAIMED_RUN_ID = 'run_context.claimed_run_id';
/** The principal a remote caller claimed without a valid signature; never `trigger.principal`. */
export const ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL = 'run_context.claimed_principal';
/** Why it was not adopted: unsigned, bad_signature, unknown_key, expired, wrong_audience, … */
export const ATTR_RUN_CONTEXT_CLAIM_REASON = 'run_context.claim_reason';
/** The service a credential is meant for (a run token's audience). */
export const ATTR_CREDENTIAL_AUDIENCE = 'credential.audience';

// Prompts (LLM calls).
export const ATTR_PROMPT_HASH = 'prompt.hash';
/** Why `prompt.hash` is absent: `<code>: <message>`. */
export const ATTR_PROMPT_HASH_ERROR = 'prompt.hash_error';
export const ATTR_PROMPT_VERSION = 'prompt.version';
export const ATTR_SYSTEM_PROMPT_HASH = 'prompt.system_hash';
/** Why `prompt.system_hash` is absent: `<code>: <message>`. */
export const ATTR_SYSTEM_PROMPT_HASH_ERROR = 'prompt.system_hash_error';

// Lifecycle events: who did what to which object.
/** agent | human | system */
export const ATTR_ACTOR_TYPE = 'actor.type';
export const ATTR_ACTOR_ID = 'actor.id';
export const ATTR_TARGET_TYPE = 'target.type';
export const ATTR_TARGET_ID = 'target.id';
/** Hash (or external reference) of an event's structured payload. */
export const ATTR_PAYLOAD_HASH = 'payload.hash';
export const ATTR_PAYLOAD_REF = 'payload.ref';

// Compliance.
export const ATTR_DATA_SUBJECTS = 'data.subjects';
export const ATTR_DATA_CLASSIFICATION = 'data.classification';
export const ATTR_RETENTION_POLICY = 'retention.policy';

// What a run resolved before acting (`input.resolved`): parallel arrays, one item per source.
/** References of the source records and retrieved documents (ids, URIs), never their content. */
export const ATTR_INPUT_SOURCE_REFS = 'input.source_refs';
/** Hash of each source's content (`''` where the caller gave neither content nor hash). */
export const ATTR_INPUT_SOURCE_HASHES = 'input.source_hashes';
/** Kind of each source, e.g. `record`, `document`, `message` (`''` where not given). */
export const ATTR_INPUT_SOURCE_TYPES = 'input.source_types';

// Handoffs between agents (a framework's agent passing the conversation to another).
export const ATTR_HANDOFF_FROM_AGENT = 'handoff.from_agent';
export const ATTR_HANDOFF_TO_AGENT = 'handoff.to_agent';
/** Why the model handed off, as it said. */
export const ATTR_HANDOFF_REASON = 'handoff.reason';
/** The run event recorded for a handoff (on the handoff's span). */
export const RUN_EVENT_AGENT_HANDOFF = 'agent.handoff';

// Validations (`validation.passed` / `validation.failed`).
/** Name of the check, e.g. `schema:refund-request`, `guardrail:pii`. */
export const ATTR_VALIDATION_NAME = 'validation.name';
/** Why it failed (or a note on why it passed). */
export const ATTR_VALIDATION_REASON = 'validation.reason';

// Audit enforcement.
/** String array of violation codes, e.g. `['no_run_context']`. */
export const ATTR_AUDIT_VIOLATION = 'audit.violation';
/** String array of mandatory attribute names that are missing, e.g. `['input.hash']`. */
export const ATTR_AUDIT_MISSING = 'audit.missing';
/**
 * String array of a framework span's raw-content attribute names (prompts, tool arguments)
 * that the SDK removed because content capture is off.
 */
export const ATTR_AUDIT_CONTENT_DROPPED = 'audit.content_dropped';
/**
 * The instrumentation scope of the spans this package makes: the audit evidence. Workflow and
 * tool spans from other scopes (a framework's own telemetry) are recorded, never enforced.
 */
export const AUDIT_INSTRUMENTATION_SCOPE = '@agent-audit/instrumentation';

// Violation codes: the values of `audit.violation`.
/** A tool call (or LLM call) ran outside any run: no `workflow.run_id` to attribute it to. */
export const VIOLATION_NO_RUN_CONTEXT = 'no_run_context';
/** A `credential.ref` looked like a secret; it was replaced before the span was recorded. */
export const VIOLATION_CREDENTIAL_REF_LOOKS_LIKE_SECRET = 'credential_ref_looks_like_secret';
/** A span ended without one of its mandatory attributes (listed in `audit.missing`). */
export const VIOLATION_MISSING_MANDATORY_ATTRIBUTE = 'missing_mandatory_attribute';
/** A recorded value holds control characters (C0 but TAB/LF/CRLF, DEL, C1, ESC sequences). */
export const VIOLATION_CONTROL_CHARACTERS = 'control_characters';
/** A recorded value holds bidirectional overrides or isolates (U+202A–U+202E, U+2066–U+2069). */
export const VIOLATION_BIDI_OVERRIDE = 'bidi_override';
/** Incoming trace context (traceparent, tracestate, baggage) was malformed and was not adopted. */
export const VIOLATION_MALFORMED_TRACE_CONTEXT = 'malformed_trace_context';
/** Incoming trace context was larger than the W3C limits and was not adopted. */
export const VIOLATION_OVERSIZED_TRACE_CONTEXT = 'oversized_trace_context';
/** What was wrong with the incoming trace context: `<field>: <problem>` entries. */
export const ATTR_TRACE_CONTEXT_ERROR = 'trace_context.error';

// LLM calls (beyond the GenAI names).
/** Names of the tools the model asked to call in its response. */
export const ATTR_LLM_REQUESTED_TOOLS = 'llm.requested_tools';
/** `gen_ai.tool.call.id`s the model issued in its response, in the same order. */
export const ATTR_LLM_REQUESTED_TOOL_CALL_IDS = 'llm.requested_tool_call_ids';

// The OpenTelemetry GenAI names written beside ours (copied constants, see semconv.ts), so
// that `@agent-audit/instrumentation/attributes` is the one import for every name in a record.
export {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_AGENT_VERSION,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_PROMPT_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
  ATTR_GEN_AI_TOOL_DESCRIPTION,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_WORKFLOW_NAME,
  ERROR_TYPE_VALUE_OTHER,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW,
} from './semconv.js';
