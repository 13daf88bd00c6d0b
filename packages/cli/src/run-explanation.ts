import {
  ATTR_ACTOR_ID,
  ATTR_ACTOR_TYPE,
  ATTR_AGENT_VERSION,
  ATTR_APPROVAL_APPROVER,
  ATTR_APPROVAL_DECISION,
  ATTR_APPROVAL_EDITS,
  ATTR_APPROVAL_ID,
  ATTR_APPROVAL_INPUT_HASH,
  ATTR_APPROVAL_NOTE,
  ATTR_APPROVAL_PROPOSED_HASH,
  ATTR_APPROVAL_SHOWN_HASH,
  ATTR_APPROVAL_TIME,
  ATTR_AUTHORIZATION_METHOD,
  ATTR_CREDENTIAL_EXPIRES_AT,
  ATTR_CREDENTIAL_ISSUER,
  ATTR_CREDENTIAL_REF,
  ATTR_CREDENTIAL_SCOPES,
  ATTR_DATA_SUBJECTS,
  ATTR_DECISION_ACTION_KEY,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_DECISION_POLICY_VERSION,
  ATTR_DECISION_REASON,
  ATTR_DECISION_SCOPE,
  ATTR_DECISION_STAGE,
  ATTR_GEN_AI_AGENT_VERSION,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_HANDOFF_FROM_AGENT,
  ATTR_HANDOFF_REASON,
  ATTR_HANDOFF_TO_AGENT,
  ATTR_INPUT_SOURCE_HASHES,
  ATTR_INPUT_SOURCE_REFS,
  ATTR_INPUT_SOURCE_TYPES,
  ATTR_LLM_REQUESTED_TOOL_CALL_IDS,
  ATTR_LLM_REQUESTED_TOOLS,
  ATTR_POLICY_NOTE,
  ATTR_PROMPT_HASH,
  ATTR_PROMPT_VERSION,
  ATTR_RUN_CONTEXT_CLAIM_REASON,
  ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL,
  ATTR_RUN_CONTEXT_CLAIMED_RUN_ID,
  ATTR_RUN_CONTEXT_STATUS,
  ATTR_SIDE_EFFECT_IDEMPOTENCY_KEY,
  ATTR_SIDE_EFFECT_OBJECT_ID,
  ATTR_SIDE_EFFECT_OPERATION,
  ATTR_SIDE_EFFECT_RESULT_HASH,
  ATTR_SIDE_EFFECT_STATUS,
  ATTR_SIDE_EFFECT_TARGET_SYSTEM,
  ATTR_SYSTEM_PROMPT_HASH,
  ATTR_TOOL_REASON,
  ATTR_TOOL_VERSION,
  ATTR_TRIGGER_TYPE,
  ATTR_VALIDATION_NAME,
  ATTR_VALIDATION_REASON,
  ATTR_WORKFLOW_NAME,
  ATTR_WORKFLOW_VERSION,
} from '@agent-audit/instrumentation/attributes';
import { runStatus } from '@agent-audit/store';
import type { AttributeValue } from './otlp-json.js';
import { isAuditRecord, isToolCall, type TrailSpan } from './trail-span.js';

/** Every side-effect attribute starts with this (see ATTR_SIDE_EFFECT_* ). */
const SIDE_EFFECT_PREFIX = 'side_effect.';
/** The provider attribute's name before semantic conventions v1.37 (`gen_ai.provider.name`). */
const ATTR_GEN_AI_SYSTEM_DEPRECATED = 'gen_ai.system';

/**
 * The six questions of DESIGN.md answered from a run's record. Keys are part of the CLI
 * contract (`explain --json`): trigger, context, actions, checks, approvals, side_effects.
 */
export interface RunExplanation {
  run_id: string;
  /** 1. What triggered the run, and who is accountable. */
  trigger: {
    principal: string | null;
    trigger_type: string | null;
    tenant_id: string | null;
    workflow_name: string | null;
    workflow_version: string | null;
    root_span: string | null;
    credential_ref: string | null;
    input_hash: string | null;
    started_at: string | null;
    ended_at: string | null;
    /** incomplete (a span never ended) | error (the run span failed) | ok */
    status: string;
    incomplete: boolean;
    spans: number;
    /**
     * `verified`: run id and principal adopted from a remote caller's signed run context;
     * `claimed`: a remote caller claimed a run it could not prove (see `claimed`); null: local.
     */
    run_context: string | null;
    /** What an unverified remote caller claimed: never this run's principal. */
    claimed: { run_id: string | null; principal: string | null; reason: string | null } | null;
    /** `data.subjects` of every span: keyed references (`subj:…`), never identifiers. */
    data_subjects: string[];
  };
  /** 2. Which agent(s) ran, with what context. */
  context: {
    agents: Array<{
      agent_id: string | null;
      agent_name: string | null;
      agent_version: string | null;
      models: string[];
      processes: string[];
    }>;
    input_hashes: string[];
    prompt_versions: string[];
    prompt_hashes: string[];
    policy_versions: string[];
    /** What the run resolved before acting (`input.resolved`): sources by reference and hash. */
    inputs_resolved: Array<{
      time: string | null;
      span_id: string;
      sources: Array<{ ref: string; hash: string | null; type: string | null }>;
    }>;
    /** Handoffs between agents (a framework's agent passing the conversation on), in order. */
    handoffs: Array<{
      time: string | null;
      span_id: string;
      from_agent: string | null;
      to_agent: string | null;
      reason: string | null;
    }>;
    /** Credentials issued for the run (`credential.issued` events): ref, scopes, expiry. */
    credentials: Array<{
      time: string | null;
      credential_ref: string | null;
      scopes: AttributeValue;
      expires_at: string | null;
      issuer: string | null;
    }>;
    llm_calls: Array<{
      time: string | null;
      span_id: string;
      agent_id: string | null;
      model: string | null;
      provider: string | null;
      input_tokens: number | null;
      output_tokens: number | null;
      duration_ms: number | null;
      finish_reasons: AttributeValue;
      prompt_hash: string | null;
      prompt_version: string | null;
      system_prompt_hash: string | null;
      /** Tools the model asked for (`llm.requested_tools`). */
      requested_tools: AttributeValue;
      /** Their call ids (`llm.requested_tool_call_ids`): the actions' `tool_call_id`s. */
      requested_tool_call_ids: AttributeValue;
    }>;
  };
  /** 3. Which actions (tool calls) ran, in order, with which credential reference. */
  actions: Array<{
    time: string | null;
    span_id: string;
    agent_id: string | null;
    tool: string | null;
    tool_version: string | null;
    tool_call_id: string | null;
    reason: string | null;
    credential_ref: string | null;
    input_hash: string | null;
    output_hash: string | null;
    decision: string | null;
    status: string;
    error_type: string | null;
    duration_ms: number | null;
    incomplete: boolean;
  }>;
  /** 4. Which validation / policy decisions ran, and why. */
  checks: Array<{
    time: string | null;
    span_id: string;
    source: string;
    tool: string | null;
    /** allow | stop | approval_required, or passed / failed for a validation event. */
    outcome: string | null;
    actor: string | null;
    reason: string | null;
    policy: string | null;
    policy_version: string | null;
    action_key: string | null;
    scope: string | null;
    stage: string | null;
    authorization_method: string | null;
  }>;
  /** 5. Did a human approve, reject or edit anything — who, when, what they were shown. */
  approvals: Array<{
    time: string | null;
    span_id: string;
    source: string;
    tool: string | null;
    approval_id: string | null;
    approver: string | null;
    /** approved | rejected (or requested / granted / invalid, from the event name). */
    decision: string | null;
    actor: string | null;
    shown_hash: string | null;
    approved_input_hash: string | null;
    proposed_input_hash: string | null;
    edits: AttributeValue;
    note: string | null;
  }>;
  /** 6. What side effect actually happened. */
  side_effects: Array<{
    time: string | null;
    span_id: string;
    source: string;
    tool: string | null;
    target_system: string | null;
    object_id: string | null;
    operation: string | null;
    idempotency_key: string | null;
    result_hash: string | null;
    status: string | null;
    /** `input.hash` of the tool call that produced it: the proposed action to compare with. */
    action_input_hash: string | null;
  }>;
}

function str(value: AttributeValue | undefined): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function num(value: AttributeValue | undefined): number | null {
  return typeof value === 'number' ? value : null;
}

function unique(values: Array<string | null>): string[] {
  return [...new Set(values.filter((v): v is string => v !== null))];
}

/** A place a governance fact can live: the span's own attributes, or one of its events. */
interface Site {
  span: TrailSpan;
  source: string;
  time: string | null;
  attributes: Record<string, AttributeValue>;
}

/**
 * Every place of the run a fact can be recorded. A span's events come before the span itself,
 * so that when the same decision is on both, the event's details (stage, actor) are kept.
 */
function sitesOf(spans: TrailSpan[]): Site[] {
  return spans.flatMap((span) => [
    ...span.events.map((event) => ({
      span,
      source: `event:${event.name}`,
      time: event.time,
      attributes: event.attributes,
    })),
    { span, source: 'span', time: span.start, attributes: span.attributes },
  ]);
}

// Lifecycle events (instrumentation's run-events) that record a check, with the outcome their
// name implies when they carry no `decision.outcome`. `decision.proposed` is not one: it is
// the agent proposing the action, which `actions` already lists.
const CHECK_EVENTS = new Map<string, string | null>([
  ['event:policy.decision', null],
  ['event:validation.passed', 'passed'],
  ['event:validation.failed', 'failed'],
  ['event:policy.changed', 'policy_changed'],
]);

function actorOf(site: Site): string | null {
  const type = str(site.attributes[ATTR_ACTOR_TYPE]);
  const id = str(site.attributes[ATTR_ACTOR_ID]);
  if (type && id) return id.startsWith(`${type}:`) ? id : `${type}:${id}`;
  return id ?? type;
}

/**
 * The same fact is often recorded twice (a decision on the tool span and in its
 * `policy.decision` event; an approval span and its `approval.granted` event): entries with
 * the same key become one, each field taken from the first entry that has it.
 */
function fold<T extends object>(items: T[], keyOf: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item);
    const seen = byKey.get(key) as Record<string, unknown> | undefined;
    if (!seen) {
      byKey.set(key, item);
      continue;
    }
    for (const [field, value] of Object.entries(item)) {
      if (seen[field] === null || seen[field] === undefined) seen[field] = value;
    }
  }
  return [...byKey.values()];
}

/** Chronological, stable; entries without a time last. */
function byTime<T extends { time: string | null }>(items: T[]): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => {
      if (a.item.time === b.item.time) return a.i - b.i;
      if (a.item.time === null) return 1;
      if (b.item.time === null) return -1;
      return a.item.time < b.item.time ? -1 : 1;
    })
    .map(({ item }) => item);
}

const LLM_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings']);

/** Answers the six questions from the run's timeline (ordered spans, see `runTimeline`). */
export function explainRun(runId: string, spans: TrailSpan[]): RunExplanation {
  const root = spans.find((s) => s.depth === 0 && s.parent_span_id === null) ?? spans[0];
  const first = (pick: (s: TrailSpan) => string | null) =>
    (root ? pick(root) : null) ?? spans.map(pick).find((v) => v !== null) ?? null;
  const ends = spans.map((s) => s.end).filter((e): e is string => e !== null);
  const starts = spans.map((s) => s.start).filter((e): e is string => e !== null);
  const anyIncomplete = spans.some((s) => s.incomplete);
  const sites = sitesOf(spans);

  const agents = new Map<string, RunExplanation['context']['agents'][number]>();
  for (const span of spans) {
    const key = span.agent_id ?? '?';
    const entry = agents.get(key) ?? {
      agent_id: span.agent_id,
      agent_name: null,
      agent_version: null,
      models: [],
      processes: [],
    };
    entry.agent_name ??= span.agent_name;
    entry.agent_version ??= str(
      span.attributes[ATTR_AGENT_VERSION] ?? span.attributes[ATTR_GEN_AI_AGENT_VERSION],
    );
    const model = str(span.attributes[ATTR_GEN_AI_REQUEST_MODEL]);
    if (model && !entry.models.includes(model)) entry.models.push(model);
    if (span.service) {
      const process = span.pid === null ? span.service : `${span.service}[${span.pid}]`;
      if (!entry.processes.includes(process)) entry.processes.push(process);
    }
    agents.set(key, entry);
  }

  const isLlm = (s: TrailSpan) =>
    isAuditRecord(s) &&
    ((s.operation !== null && LLM_OPERATIONS.has(s.operation)) ||
      (s.tool === null &&
        s.attributes[ATTR_GEN_AI_REQUEST_MODEL] !== undefined &&
        s.operation !== 'invoke_agent'));

  return {
    run_id: runId,
    trigger: {
      principal: first((s) => s.principal),
      trigger_type: first((s) => str(s.attributes[ATTR_TRIGGER_TYPE])),
      tenant_id: first((s) => s.tenant_id),
      workflow_name: first((s) => str(s.attributes[ATTR_WORKFLOW_NAME])),
      workflow_version: first((s) => str(s.attributes[ATTR_WORKFLOW_VERSION])),
      root_span: root?.name ?? null,
      credential_ref: root?.credential_ref ?? null,
      input_hash: root?.input_hash ?? null,
      started_at: starts.sort()[0] ?? null,
      ended_at: anyIncomplete ? null : (ends.sort().at(-1) ?? null),
      // The rule `runs` and the console use too (store's runStatus): the workflow span decides.
      status: runStatus({
        incomplete: anyIncomplete,
        workflowStatus: spans.find((s) => s.parent_span_id === null && s.end !== null)?.status,
        anyEnded: ends.length > 0,
      }),
      incomplete: anyIncomplete,
      spans: spans.length,
      run_context: root === undefined ? null : str(root.attributes[ATTR_RUN_CONTEXT_STATUS]),
      claimed:
        first((s) => str(s.attributes[ATTR_RUN_CONTEXT_CLAIMED_RUN_ID])) === null
          ? null
          : {
              run_id: first((s) => str(s.attributes[ATTR_RUN_CONTEXT_CLAIMED_RUN_ID])),
              principal: first((s) => str(s.attributes[ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL])),
              reason: first((s) => str(s.attributes[ATTR_RUN_CONTEXT_CLAIM_REASON])),
            },
      data_subjects: unique(
        spans.flatMap((s) => {
          const v = s.attributes[ATTR_DATA_SUBJECTS];
          return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
        }),
      ),
    },
    context: {
      agents: [...agents.values()],
      input_hashes: unique(spans.map((s) => s.input_hash)),
      prompt_versions: unique(sites.map((x) => str(x.attributes[ATTR_PROMPT_VERSION]))),
      prompt_hashes: unique(
        sites.flatMap((x) => [
          str(x.attributes[ATTR_PROMPT_HASH]),
          str(x.attributes[ATTR_SYSTEM_PROMPT_HASH]),
        ]),
      ),
      policy_versions: unique(
        sites.map((x) => {
          const policy = str(x.attributes[ATTR_DECISION_POLICY]);
          const version = str(x.attributes[ATTR_DECISION_POLICY_VERSION]);
          return policy && version ? `${policy}@${version}` : policy;
        }),
      ),
      inputs_resolved: sites
        .filter((x) => x.source === 'event:input.resolved')
        .map((x) => {
          const refs = x.attributes[ATTR_INPUT_SOURCE_REFS];
          const hashes = x.attributes[ATTR_INPUT_SOURCE_HASHES];
          const types = x.attributes[ATTR_INPUT_SOURCE_TYPES];
          const at = (list: AttributeValue | undefined, i: number) =>
            Array.isArray(list) && typeof list[i] === 'string' && list[i] !== '' ? list[i] : null;
          return {
            time: x.time,
            span_id: x.span.span_id,
            sources: (Array.isArray(refs) ? refs : []).map((ref, i) => ({
              ref: String(ref),
              hash: at(hashes, i),
              type: at(types, i),
            })),
          };
        }),
      handoffs: byTime(
        fold(
          sites
            .filter((x) => x.attributes[ATTR_HANDOFF_TO_AGENT] !== undefined)
            .map((x) => ({
              time: x.time,
              span_id: x.span.span_id,
              from_agent: str(x.attributes[ATTR_HANDOFF_FROM_AGENT]),
              to_agent: str(x.attributes[ATTR_HANDOFF_TO_AGENT]),
              reason: str(x.attributes[ATTR_HANDOFF_REASON]),
            })),
          // The handoff's span and its agent.handoff event say the same thing once.
          (h) => `${h.span_id}|${h.from_agent}|${h.to_agent}`,
        ),
      ),
      credentials: sites
        .filter((x) => x.source === 'event:credential.issued')
        .map((x) => ({
          time: x.time,
          credential_ref: str(x.attributes[ATTR_CREDENTIAL_REF]),
          scopes: x.attributes[ATTR_CREDENTIAL_SCOPES] ?? null,
          expires_at: str(x.attributes[ATTR_CREDENTIAL_EXPIRES_AT]),
          issuer: str(x.attributes[ATTR_CREDENTIAL_ISSUER]),
        })),
      llm_calls: spans.filter(isLlm).map((s) => ({
        time: s.start,
        span_id: s.span_id,
        agent_id: s.agent_id,
        model: str(
          s.attributes[ATTR_GEN_AI_RESPONSE_MODEL] ?? s.attributes[ATTR_GEN_AI_REQUEST_MODEL],
        ),
        provider: str(
          s.attributes[ATTR_GEN_AI_PROVIDER_NAME] ?? s.attributes[ATTR_GEN_AI_SYSTEM_DEPRECATED],
        ),
        input_tokens: num(s.attributes[ATTR_GEN_AI_USAGE_INPUT_TOKENS]),
        output_tokens: num(s.attributes[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]),
        duration_ms: s.duration_ms,
        finish_reasons: s.attributes[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] ?? null,
        prompt_hash: str(s.attributes[ATTR_PROMPT_HASH]),
        prompt_version: str(s.attributes[ATTR_PROMPT_VERSION]),
        system_prompt_hash: str(s.attributes[ATTR_SYSTEM_PROMPT_HASH]),
        requested_tools: s.attributes[ATTR_LLM_REQUESTED_TOOLS] ?? null,
        requested_tool_call_ids: s.attributes[ATTR_LLM_REQUESTED_TOOL_CALL_IDS] ?? null,
      })),
    },
    actions: spans.filter(isToolCall).map((s) => ({
      time: s.start,
      span_id: s.span_id,
      agent_id: s.agent_id,
      tool: s.tool,
      tool_version: str(s.attributes[ATTR_TOOL_VERSION]),
      tool_call_id: s.tool_call_id,
      reason: str(s.attributes[ATTR_TOOL_REASON]),
      credential_ref: s.credential_ref,
      input_hash: s.input_hash,
      output_hash: s.output_hash,
      decision: s.decision,
      status: s.status,
      error_type: s.error_type,
      duration_ms: s.duration_ms,
      incomplete: s.incomplete,
    })),
    checks: byTime(
      fold(
        sites
          .filter(
            (x) => x.attributes[ATTR_DECISION_OUTCOME] !== undefined || CHECK_EVENTS.has(x.source),
          )
          .map((x) => ({
            time: x.time,
            span_id: x.span.span_id,
            source: x.source,
            tool: x.span.tool,
            outcome: str(x.attributes[ATTR_DECISION_OUTCOME]) ?? CHECK_EVENTS.get(x.source) ?? null,
            actor: actorOf(x),
            // An operator's policy change explains itself in its note.
            reason:
              str(x.attributes[ATTR_DECISION_REASON]) ??
              str(x.attributes[ATTR_POLICY_NOTE]) ??
              str(x.attributes[ATTR_VALIDATION_REASON]),
            // A validation's check name stands where a policy's id would.
            policy:
              str(x.attributes[ATTR_DECISION_POLICY]) ?? str(x.attributes[ATTR_VALIDATION_NAME]),
            policy_version: str(x.attributes[ATTR_DECISION_POLICY_VERSION]),
            action_key: str(x.attributes[ATTR_DECISION_ACTION_KEY]),
            scope: str(x.attributes[ATTR_DECISION_SCOPE]),
            stage: str(x.attributes[ATTR_DECISION_STAGE]),
            authorization_method: str(x.attributes[ATTR_AUTHORIZATION_METHOD]),
          })),
        // The decision on a tool span is its pre-exec decision, also noted as an event.
        (c) => `${c.span_id}|${c.outcome}|${c.action_key}|${c.stage ?? 'pre'}`,
      ),
    ),
    approvals: byTime(
      fold(
        sites
          .filter(
            (x) =>
              x.attributes[ATTR_APPROVAL_DECISION] !== undefined ||
              x.attributes[ATTR_APPROVAL_APPROVER] !== undefined ||
              x.source.startsWith('event:approval.'),
          )
          .map((x) => ({
            time: str(x.attributes[ATTR_APPROVAL_TIME]) ?? x.time,
            span_id: x.span.span_id,
            source: x.source,
            tool: x.span.tool,
            approval_id: str(x.attributes[ATTR_APPROVAL_ID]),
            approver: str(x.attributes[ATTR_APPROVAL_APPROVER]),
            decision:
              str(x.attributes[ATTR_APPROVAL_DECISION]) ??
              (x.source.startsWith('event:approval.')
                ? x.source.slice('event:approval.'.length)
                : // A tool call carrying an approval's id and approver is that approval used.
                  'applied'),
            actor: actorOf(x),
            shown_hash: str(x.attributes[ATTR_APPROVAL_SHOWN_HASH]),
            approved_input_hash: str(x.attributes[ATTR_APPROVAL_INPUT_HASH]),
            proposed_input_hash: str(x.attributes[ATTR_APPROVAL_PROPOSED_HASH]),
            edits: x.attributes[ATTR_APPROVAL_EDITS] ?? null,
            note: str(x.attributes[ATTR_APPROVAL_NOTE]),
          })),
        (a) => `${a.approval_id ?? a.span_id}|${a.decision}`,
      ),
    ),
    side_effects: byTime(
      fold(
        sites
          .filter(
            (x) =>
              x.source.startsWith('event:side_effect.') ||
              Object.keys(x.attributes).some((k) => k.startsWith(SIDE_EFFECT_PREFIX)),
          )
          .map((x) => ({
            time: x.time,
            span_id: x.span.span_id,
            source: x.source,
            tool: x.span.tool,
            target_system: str(x.attributes[ATTR_SIDE_EFFECT_TARGET_SYSTEM]),
            object_id: str(x.attributes[ATTR_SIDE_EFFECT_OBJECT_ID]),
            operation: str(x.attributes[ATTR_SIDE_EFFECT_OPERATION]),
            idempotency_key: str(x.attributes[ATTR_SIDE_EFFECT_IDEMPOTENCY_KEY]),
            result_hash: str(x.attributes[ATTR_SIDE_EFFECT_RESULT_HASH]),
            status:
              str(x.attributes[ATTR_SIDE_EFFECT_STATUS]) ??
              (x.source.startsWith('event:side_effect.')
                ? x.source.slice('event:side_effect.'.length)
                : null),
            action_input_hash: x.span.input_hash,
          })),
        (e) =>
          `${e.span_id}|${e.target_system}|${e.object_id}|${e.operation}|${e.idempotency_key}|${e.status}`,
      ),
    ),
  };
}
