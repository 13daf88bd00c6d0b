import { ATTR, GOV } from './attribute-names.js';
import type { AttributeValue } from './otlp-json.js';
import type { TrailSpan } from './trail-span.js';

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

/**
 * A tool call, as opposed to the spans that only mention a tool (an `approval {tool}` span,
 * a `side_effect …` span): the GenAI operation says so, or, from an SDK that does not set
 * it, the `execute_tool` span name.
 */
export function isToolCall(span: TrailSpan): boolean {
  if (span.operation !== null) return span.operation === 'execute_tool';
  return span.tool !== null && span.name.startsWith('execute_tool');
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
  const type = str(site.attributes[GOV.actorType]);
  const id = str(site.attributes[GOV.actorId]);
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
      span.attributes[ATTR.agentVersion] ?? span.attributes[ATTR.genAiAgentVersion],
    );
    const model = str(span.attributes[ATTR.genAiRequestModel]);
    if (model && !entry.models.includes(model)) entry.models.push(model);
    if (span.service) {
      const process = span.pid === null ? span.service : `${span.service}[${span.pid}]`;
      if (!entry.processes.includes(process)) entry.processes.push(process);
    }
    agents.set(key, entry);
  }

  const isLlm = (s: TrailSpan) =>
    (s.operation !== null && LLM_OPERATIONS.has(s.operation)) ||
    (s.tool === null &&
      s.attributes[ATTR.genAiRequestModel] !== undefined &&
      s.operation !== 'invoke_agent');

  return {
    run_id: runId,
    trigger: {
      principal: first((s) => s.principal),
      trigger_type: first((s) => str(s.attributes[ATTR.triggerType])),
      tenant_id: first((s) => s.tenant_id),
      workflow_name: first((s) => str(s.attributes[ATTR.workflowName])),
      workflow_version: first((s) => str(s.attributes[ATTR.workflowVersion])),
      root_span: root?.name ?? null,
      credential_ref: root?.credential_ref ?? null,
      input_hash: root?.input_hash ?? null,
      started_at: starts.sort()[0] ?? null,
      ended_at: anyIncomplete ? null : (ends.sort().at(-1) ?? null),
      // OTel leaves a successful span's status UNSET; for the run, "not failed" reads as ok.
      status: anyIncomplete ? 'incomplete' : root?.status === 'error' ? 'error' : 'ok',
      incomplete: anyIncomplete,
      spans: spans.length,
    },
    context: {
      agents: [...agents.values()],
      input_hashes: unique(spans.map((s) => s.input_hash)),
      prompt_versions: unique(sites.map((x) => str(x.attributes[GOV.promptVersion]))),
      prompt_hashes: unique(
        sites.flatMap((x) => [
          str(x.attributes[GOV.promptHash]),
          str(x.attributes[GOV.systemPromptHash]),
        ]),
      ),
      policy_versions: unique(
        sites.map((x) => {
          const policy = str(x.attributes[ATTR.decisionPolicy]);
          const version = str(x.attributes[GOV.decisionPolicyVersion]);
          return policy && version ? `${policy}@${version}` : policy;
        }),
      ),
      credentials: sites
        .filter((x) => x.source === 'event:credential.issued')
        .map((x) => ({
          time: x.time,
          credential_ref: str(x.attributes[ATTR.credentialRef]),
          scopes: x.attributes[GOV.credentialScopes] ?? null,
          expires_at: str(x.attributes[GOV.credentialExpiresAt]),
          issuer: str(x.attributes[GOV.credentialIssuer]),
        })),
      llm_calls: spans.filter(isLlm).map((s) => ({
        time: s.start,
        span_id: s.span_id,
        agent_id: s.agent_id,
        model: str(s.attributes[ATTR.genAiResponseModel] ?? s.attributes[ATTR.genAiRequestModel]),
        provider: str(s.attributes[ATTR.genAiProvider] ?? s.attributes['gen_ai.system']),
        input_tokens: num(s.attributes[ATTR.genAiInputTokens]),
        output_tokens: num(s.attributes[ATTR.genAiOutputTokens]),
        duration_ms: s.duration_ms,
        finish_reasons: s.attributes[GOV.genAiFinishReasons] ?? null,
        prompt_hash: str(s.attributes[GOV.promptHash]),
        prompt_version: str(s.attributes[GOV.promptVersion]),
        system_prompt_hash: str(s.attributes[GOV.systemPromptHash]),
        requested_tools: s.attributes[GOV.llmRequestedTools] ?? null,
      })),
    },
    actions: spans.filter(isToolCall).map((s) => ({
      time: s.start,
      span_id: s.span_id,
      agent_id: s.agent_id,
      tool: s.tool,
      tool_version: str(s.attributes[ATTR.toolVersion]),
      tool_call_id: s.tool_call_id,
      reason: str(s.attributes[GOV.toolReason]),
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
            (x) => x.attributes[ATTR.decisionOutcome] !== undefined || CHECK_EVENTS.has(x.source),
          )
          .map((x) => ({
            time: x.time,
            span_id: x.span.span_id,
            source: x.source,
            tool: x.span.tool,
            outcome: str(x.attributes[ATTR.decisionOutcome]) ?? CHECK_EVENTS.get(x.source) ?? null,
            actor: actorOf(x),
            // An operator's policy change explains itself in its note.
            reason: str(x.attributes[ATTR.decisionReason]) ?? str(x.attributes[GOV.policyNote]),
            policy: str(x.attributes[ATTR.decisionPolicy]),
            policy_version: str(x.attributes[GOV.decisionPolicyVersion]),
            action_key: str(x.attributes[GOV.decisionActionKey]),
            scope: str(x.attributes[GOV.decisionScope]),
            stage: str(x.attributes[GOV.decisionStage]),
            authorization_method: str(x.attributes[GOV.authorizationMethod]),
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
              x.attributes[GOV.approvalDecision] !== undefined ||
              x.attributes[GOV.approvalApprover] !== undefined ||
              x.source.startsWith('event:approval.'),
          )
          .map((x) => ({
            time: str(x.attributes[GOV.approvalTime]) ?? x.time,
            span_id: x.span.span_id,
            source: x.source,
            tool: x.span.tool,
            approval_id: str(x.attributes[GOV.approvalId]),
            approver: str(x.attributes[GOV.approvalApprover]),
            decision:
              str(x.attributes[GOV.approvalDecision]) ??
              (x.source.startsWith('event:approval.')
                ? x.source.slice('event:approval.'.length)
                : // A tool call carrying an approval's id and approver is that approval used.
                  'applied'),
            actor: actorOf(x),
            shown_hash: str(x.attributes[GOV.approvalShownHash]),
            approved_input_hash: str(x.attributes[GOV.approvalInputHash]),
            proposed_input_hash: str(x.attributes[GOV.approvalProposedHash]),
            edits: x.attributes[GOV.approvalEdits] ?? null,
            note: str(x.attributes[GOV.approvalNote]),
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
              Object.keys(x.attributes).some((k) => k.startsWith(GOV.sideEffectPrefix)),
          )
          .map((x) => ({
            time: x.time,
            span_id: x.span.span_id,
            source: x.source,
            tool: x.span.tool,
            target_system: str(x.attributes[GOV.sideEffectTargetSystem]),
            object_id: str(x.attributes[GOV.sideEffectObjectId]),
            operation: str(x.attributes[GOV.sideEffectOperation]),
            idempotency_key: str(x.attributes[GOV.sideEffectIdempotencyKey]),
            result_hash: str(x.attributes[GOV.sideEffectResultHash]),
            status:
              str(x.attributes[GOV.sideEffectStatus]) ??
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
