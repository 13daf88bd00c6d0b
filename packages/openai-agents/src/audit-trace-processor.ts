import {
  ATTR_AGENT_NAME,
  ATTR_WORKFLOW_RUN_ID,
  getRunContext,
  recordRunEvent,
  recordValidation,
} from '@agent-audit/instrumentation';
import type { Span as SdkSpan, SpanData, Trace, TracingProcessor } from '@openai/agents';
import {
  type Attributes,
  type Context,
  context,
  diag,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_GUARDRAIL_NAME,
  ATTR_GUARDRAIL_TRIGGERED,
  ATTR_HANDOFF_FROM_AGENT,
  ATTR_HANDOFF_REASON,
  ATTR_HANDOFF_TO_AGENT,
  ATTR_OAI_SPAN_ID,
  ATTR_OAI_SPAN_TYPE,
  ATTR_OAI_TRACE_ID,
  ATTR_OAI_TURN,
  RUN_EVENT_AGENT_HANDOFF,
} from './attributes.js';
import {
  linkedContext,
  linkSpan,
  takeAudited,
  takeHandoffReason,
  unlinkSpan,
} from './span-links.js';

const TRACER_NAME = '@agent-audit/openai-agents';
/** SDK span types recorded as spans of their own; function spans are the tool wrapper's. */
const RECORDED = new Set(['agent', 'handoff', 'guardrail', 'custom']);
/**
 * SDK spans that add no record of their own: a `task` is the run itself (the `runWorkflow`
 * span), a `turn` is an `agent.turn` event on its agent's span. Their children go to the
 * parent's context. (A span per turn would double the records of every model round trip.)
 */
const PASS_THROUGH = new Set(['task', 'turn']);
/** Event recorded on an agent's span at the start of each of its turns. */
export const EVENT_AGENT_TURN = 'agent.turn';

/**
 * A `TracingProcessor` for the OpenAI Agents SDK (`addTraceProcessor` / `setTraceProcessors`)
 * that ties the SDK's own traces to the audited run: the trace's `groupId` (when unset) and
 * metadata get `workflow.run_id`; each agent and handoff becomes a span under the run (handoffs
 * with `from` / `to` agent and the model's reason, and an `agent.handoff` run event), each turn
 * an `agent.turn` event on its agent's span (model and tool calls of the turn under that span);
 * each guardrail result is a `validation.passed` / `validation.failed` record. Never throws
 * into the SDK.
 */
export class AuditTraceProcessor implements TracingProcessor {
  readonly #traces = new Map<string, Context>();
  readonly #spans = new Map<string, Span>();
  readonly #passThrough = new Set<string>();

  async onTraceStart(t: Trace): Promise<void> {
    try {
      const ctx = context.active();
      this.#traces.set(t.traceId, ctx);
      const run = getRunContext(ctx);
      if (run === undefined) return;
      if (t.groupId == null) t.groupId = run.runId;
      t.metadata = { ...(t.metadata ?? {}), [ATTR_WORKFLOW_RUN_ID]: run.runId };
    } catch (err) {
      diag.error('agent-audit openai-agents: onTraceStart failed', err);
    }
  }

  async onTraceEnd(t: Trace): Promise<void> {
    this.#traces.delete(t.traceId);
  }

  async onSpanStart(s: SdkSpan<SpanData>): Promise<void> {
    try {
      const data = s.spanData as { type: string } & Record<string, unknown>;
      const passThrough = PASS_THROUGH.has(data.type);
      if (!passThrough && !RECORDED.has(data.type)) return;
      const parent = linkedContext(s.parentId) ?? this.#traces.get(s.traceId) ?? context.active();
      if (passThrough) {
        linkSpan(s.spanId, parent);
        this.#passThrough.add(s.spanId);
        if (data.type === 'turn') {
          trace.getSpan(parent)?.addEvent(EVENT_AGENT_TURN, {
            [ATTR_OAI_TURN]: typeof data.turn === 'number' ? data.turn : -1,
            [ATTR_AGENT_NAME]: typeof data.agent_name === 'string' ? data.agent_name : '',
            [ATTR_OAI_SPAN_ID]: s.spanId,
          });
        }
        return;
      }
      const attrs: Attributes = {
        [ATTR_OAI_SPAN_TYPE]: data.type,
        [ATTR_OAI_TRACE_ID]: s.traceId,
        [ATTR_OAI_SPAN_ID]: s.spanId,
      };
      const run = getRunContext(parent);
      if (run !== undefined) attrs[ATTR_WORKFLOW_RUN_ID] = run.runId;
      if (data.type === 'agent' && typeof data.name === 'string')
        attrs[ATTR_AGENT_NAME] = data.name;
      const span = trace
        .getTracer(TRACER_NAME)
        .startSpan(spanName(data), { kind: SpanKind.INTERNAL, attributes: attrs }, parent);
      this.#spans.set(s.spanId, span);
      linkSpan(s.spanId, trace.setSpan(parent, span));
    } catch (err) {
      diag.error('agent-audit openai-agents: onSpanStart failed', err);
    }
  }

  async onSpanEnd(s: SdkSpan<SpanData>): Promise<void> {
    if (s.spanData.type === 'function') {
      this.#functionEnd(s);
      return;
    }
    if (this.#passThrough.delete(s.spanId)) {
      unlinkSpan(s.spanId);
      return;
    }
    const span = this.#spans.get(s.spanId);
    if (span === undefined) return;
    this.#spans.delete(s.spanId);
    try {
      const data = s.spanData as { type: string } & Record<string, unknown>;
      const ctx = linkedContext(s.spanId) ?? trace.setSpan(context.active(), span);
      if (data.type === 'handoff') this.#handoff(span, ctx, s, data);
      if (data.type === 'guardrail') this.#guardrail(span, ctx, data);
      const error = s.error;
      if (error !== null) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        span.setAttribute('error.type', 'openai_agents_error');
      }
    } catch (err) {
      diag.error('agent-audit openai-agents: onSpanEnd failed', err);
    } finally {
      unlinkSpan(s.spanId);
      span.end();
    }
  }

  #handoff(span: Span, ctx: Context, s: SdkSpan<SpanData>, data: Record<string, unknown>): void {
    const from = typeof data.from_agent === 'string' ? data.from_agent : undefined;
    const to = typeof data.to_agent === 'string' ? data.to_agent : undefined;
    const reason = takeHandoffReason(s.spanId);
    span.updateName(`handoff ${from ?? '?'} -> ${to ?? '?'}`);
    const attrs: Attributes = {};
    if (from !== undefined) attrs[ATTR_HANDOFF_FROM_AGENT] = from;
    if (to !== undefined) attrs[ATTR_HANDOFF_TO_AGENT] = to;
    if (reason !== undefined) attrs[ATTR_HANDOFF_REASON] = reason;
    span.setAttributes(attrs);
    context.with(ctx, () =>
      recordRunEvent(RUN_EVENT_AGENT_HANDOFF, {
        actorType: 'agent',
        ...(from === undefined ? {} : { actorId: from }),
        targetType: 'agent',
        ...(to === undefined ? {} : { targetId: to }),
        attributes: attrs,
      }),
    );
  }

  /**
   * A function call the SDK settled without invoking the tool (arguments that are not valid
   * JSON or fail the schema, a tool input guardrail's rejection): no audited call happened, so
   * the failed validation is recorded instead.
   */
  #functionEnd(s: SdkSpan<SpanData>): void {
    try {
      if (takeAudited(s.spanId) || s.error === null) return;
      const data = s.spanData as { name?: unknown };
      const toolName = typeof data.name === 'string' ? data.name : 'unknown';
      const ctx = linkedContext(s.parentId) ?? this.#traces.get(s.traceId) ?? context.active();
      context.with(ctx, () =>
        recordValidation({
          name: `tool-arguments:${toolName}`,
          passed: false,
          reason: `${s.error?.message ?? 'failed'}: the SDK settled the call without running the tool`,
          actorId: 'openai-agents',
        }),
      );
    } catch (err) {
      diag.error('agent-audit openai-agents: recording a settled function call failed', err);
    }
  }

  #guardrail(span: Span, ctx: Context, data: Record<string, unknown>): void {
    const name = typeof data.name === 'string' ? data.name : 'guardrail';
    const triggered = data.triggered === true;
    span.setAttributes({ [ATTR_GUARDRAIL_NAME]: name, [ATTR_GUARDRAIL_TRIGGERED]: triggered });
    context.with(ctx, () =>
      recordValidation({
        name: `guardrail:${name}`,
        passed: !triggered,
        ...(triggered ? { reason: 'the guardrail tripwire triggered' } : {}),
        actorId: 'openai-agents',
      }),
    );
  }

  async shutdown(): Promise<void> {
    for (const span of this.#spans.values()) span.end();
    this.#spans.clear();
    this.#passThrough.clear();
    this.#traces.clear();
  }

  async forceFlush(): Promise<void> {}
}

function spanName(data: { type: string } & Record<string, unknown>): string {
  switch (data.type) {
    case 'agent':
      return `agent ${String(data.name)}`;
    case 'handoff':
      return 'handoff';
    case 'guardrail':
      return `guardrail ${String(data.name)}`;
    default:
      return `${data.type} ${typeof data.name === 'string' ? data.name : ''}`.trim();
  }
}
