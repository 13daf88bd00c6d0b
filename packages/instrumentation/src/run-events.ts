import { type Attributes, context, type Span, SpanKind, trace } from '@opentelemetry/api';
import {
  ATTR_ACTOR_ID,
  ATTR_ACTOR_TYPE,
  ATTR_AGENT_ID,
  ATTR_PAYLOAD_HASH,
  ATTR_PAYLOAD_REF,
  ATTR_TARGET_ID,
  ATTR_TARGET_TYPE,
  ATTR_TRIGGER_PRINCIPAL,
  ATTR_WORKFLOW_RUN_ID,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { hashValue } from './hash-value.js';
import { hrNow } from './internal/clock.js';
import { runAttributes, safeHashKey } from './internal/run-attributes.js';
import { endSpan, log } from './internal/span-utils.js';
import { getTracer } from './internal/tracer.js';
import { getRunContext, type RunAttributes } from './run-context.js';

/**
 * Span event names of the run lifecycle. Every event carries `workflow.run_id`, `actor.type`,
 * `actor.id` and, when known, `target.type`, `target.id` and `payload.hash`/`payload.ref`;
 * its timestamp is the event time.
 */
export const RUN_EVENT_RUN_CREATED = 'run.created';
export const RUN_EVENT_INPUT_RESOLVED = 'input.resolved';
export const RUN_EVENT_RETRIEVAL_COMPLETED = 'retrieval.completed';
/** The agent proposed an action (a tool call), before any check. */
export const RUN_EVENT_DECISION_PROPOSED = 'decision.proposed';
/** A policy decided (`decision.stage` = pre) or recorded the result (`decision.stage` = post). */
export const RUN_EVENT_POLICY_DECISION = 'policy.decision';
export const RUN_EVENT_VALIDATION_PASSED = 'validation.passed';
export const RUN_EVENT_VALIDATION_FAILED = 'validation.failed';
export const RUN_EVENT_APPROVAL_REQUESTED = 'approval.requested';
export const RUN_EVENT_APPROVAL_GRANTED = 'approval.granted';
export const RUN_EVENT_APPROVAL_REJECTED = 'approval.rejected';
/** An attached approval did not match the call (other arguments, tool or run). */
export const RUN_EVENT_APPROVAL_INVALID = 'approval.invalid';
/** The tool ran (post-exec): `output.hash` or `error.type`. */
export const RUN_EVENT_TOOL_CALLED = 'tool.called';
export const RUN_EVENT_SIDE_EFFECT_APPLIED = 'side_effect.applied';
export const RUN_EVENT_SIDE_EFFECT_BLOCKED = 'side_effect.blocked';
export const RUN_EVENT_CREDENTIAL_ISSUED = 'credential.issued';
export const RUN_EVENT_POLICY_CHANGED = 'policy.changed';
export const RUN_EVENT_RUN_COMPLETED = 'run.completed';
export const RUN_EVENT_RUN_FAILED = 'run.failed';
export const RUN_EVENT_RUN_TIMED_OUT = 'run.timed_out';

export type RunEventName =
  | typeof RUN_EVENT_RUN_CREATED
  | typeof RUN_EVENT_INPUT_RESOLVED
  | typeof RUN_EVENT_RETRIEVAL_COMPLETED
  | typeof RUN_EVENT_DECISION_PROPOSED
  | typeof RUN_EVENT_POLICY_DECISION
  | typeof RUN_EVENT_VALIDATION_PASSED
  | typeof RUN_EVENT_VALIDATION_FAILED
  | typeof RUN_EVENT_APPROVAL_REQUESTED
  | typeof RUN_EVENT_APPROVAL_GRANTED
  | typeof RUN_EVENT_APPROVAL_REJECTED
  | typeof RUN_EVENT_APPROVAL_INVALID
  | typeof RUN_EVENT_TOOL_CALLED
  | typeof RUN_EVENT_SIDE_EFFECT_APPLIED
  | typeof RUN_EVENT_SIDE_EFFECT_BLOCKED
  | typeof RUN_EVENT_CREDENTIAL_ISSUED
  | typeof RUN_EVENT_POLICY_CHANGED
  | typeof RUN_EVENT_RUN_COMPLETED
  | typeof RUN_EVENT_RUN_FAILED
  | typeof RUN_EVENT_RUN_TIMED_OUT;

export type ActorType = 'agent' | 'human' | 'system';

export interface RunEventOptions {
  /** The default value is `agent`. */
  actorType?: ActorType;
  /** The default value is the run's agent id (for `agent`), else required for clarity. */
  actorId?: string;
  targetType?: string;
  targetId?: string;
  /** A structured payload: hashed into `payload.hash`, never recorded raw. */
  payload?: unknown;
  /** A reference to where the payload lives (a URI, a document id). */
  payloadRef?: string;
  /** More attributes for the event (names from this package's attribute list). */
  attributes?: Attributes;
}

/** Builds the common event attributes; never throws. */
export function eventAttributes(
  run: RunAttributes | undefined,
  options: RunEventOptions,
): Attributes {
  const a: Attributes = { ...(options.attributes ?? {}) };
  const actorType = options.actorType ?? 'agent';
  a[ATTR_ACTOR_TYPE] = actorType;
  const actorId = options.actorId ?? (actorType === 'agent' ? run?.agentId : undefined);
  if (actorId !== undefined) a[ATTR_ACTOR_ID] = actorId;
  if (run !== undefined) {
    a[ATTR_WORKFLOW_RUN_ID] = run.runId;
    if (run.agentId !== undefined) a[ATTR_AGENT_ID] = run.agentId;
    if (run.triggerPrincipal !== undefined) a[ATTR_TRIGGER_PRINCIPAL] = run.triggerPrincipal;
  }
  if (options.targetType !== undefined) a[ATTR_TARGET_TYPE] = options.targetType;
  if (options.targetId !== undefined) a[ATTR_TARGET_ID] = options.targetId;
  if (options.payloadRef !== undefined) a[ATTR_PAYLOAD_REF] = options.payloadRef;
  if (options.payload !== undefined) {
    const h = hashValue(options.payload, { key: safeHashKey(getAuditHooks(), run) });
    a[ATTR_PAYLOAD_HASH] = h.ok ? h.hash : `error:${h.code}`;
  }
  return a;
}

/** Adds an event to `span`; never throws. */
export function addRunEvent(span: Span, name: string, attributes: Attributes, time?: number): void {
  try {
    span.addEvent(name, attributes, time ?? hrNow());
  } catch (err) {
    log.error(`adding event ${name} failed`, err);
  }
}

/**
 * Records one lifecycle event of the active run on the active span. When there is no
 * recording span (e.g. after the run span ended), a zero-length span named after the event
 * is recorded instead, so the event is never lost. Never throws.
 */
export function recordRunEvent(
  name: RunEventName | (string & {}),
  options: RunEventOptions = {},
): void {
  try {
    const ctx = context.active();
    const run = getRunContext(ctx);
    const attrs = eventAttributes(run, options);
    const active = trace.getSpan(ctx);
    if (active?.isRecording()) {
      addRunEvent(active, name, attrs);
      return;
    }
    const span = getTracer().startSpan(
      name,
      {
        kind: SpanKind.INTERNAL,
        startTime: hrNow(),
        attributes: run === undefined ? {} : runAttributes(run),
      },
      ctx,
    );
    addRunEvent(span, name, attrs);
    endSpan(span);
  } catch (err) {
    log.error(`recordRunEvent(${name}) failed`, err);
  }
}
