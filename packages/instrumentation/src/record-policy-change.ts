import { type Attributes, context, SpanKind } from '@opentelemetry/api';
import {
  ATTR_ACTOR_ID,
  ATTR_ACTOR_TYPE,
  ATTR_DECISION_POLICY,
  ATTR_DECISION_POLICY_VERSION,
  ATTR_PAYLOAD_HASH,
  ATTR_POLICY_NOTE,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { hashValue } from './hash-value.js';
import { hrNow } from './internal/clock.js';
import { checkOneOf, checkString } from './internal/configuration.js';
import { runAttributes, safeHashKey } from './internal/run-attributes.js';
import { endSpan, log, put } from './internal/span-utils.js';
import { getTracer } from './internal/tracer.js';
import { getRunContext } from './run-context.js';
import { addRunEvent, eventAttributes, RUN_EVENT_POLICY_CHANGED } from './run-events.js';

export interface PolicyChangeOptions {
  /** Who changed the policy, e.g. `user:ops-anna`. Required. */
  actor: string;
  /** The default value is `human`. */
  actorType?: 'human' | 'system';
  /** `decision.policy` of the changed policy. Required. */
  policyId: string;
  /** `decision.policy_version` after the change. */
  policyVersion?: string;
  /** The change itself (a diff or the new rules): hashed into `payload.hash`, never recorded raw. */
  change?: unknown;
  /** Free text (masked by the SDK's scanner). */
  note?: string;
}

/**
 * Records an operator action that changes a policy as a `policy.changed {policyId}` span with
 * its actor, inside the active run if there is one. Recording failures never throw; bad options
 * do (`Configuration: …`).
 */
export function recordPolicyChange(options: PolicyChangeOptions): void {
  checkString('actor', options?.actor, true);
  checkString('policyId', options.policyId, true);
  checkString('policyVersion', options.policyVersion, false);
  checkString('note', options.note, false);
  checkOneOf('actorType', options.actorType, ['human', 'system']);
  try {
    const ctx = context.active();
    const run = getRunContext(ctx);
    const actorType = options.actorType ?? 'human';
    const attrs: Attributes = {
      ...(run === undefined ? {} : runAttributes(run)),
      [ATTR_ACTOR_TYPE]: actorType,
      [ATTR_ACTOR_ID]: options.actor,
      [ATTR_DECISION_POLICY]: options.policyId,
    };
    put(attrs, ATTR_DECISION_POLICY_VERSION, options.policyVersion);
    if (options.change !== undefined) {
      const h = hashValue(options.change, { key: safeHashKey(getAuditHooks(), run) });
      if (h.ok) attrs[ATTR_PAYLOAD_HASH] = h.hash;
    }
    const span = getTracer().startSpan(
      `${RUN_EVENT_POLICY_CHANGED} ${options.policyId}`,
      { kind: SpanKind.INTERNAL, startTime: hrNow(), attributes: attrs },
      ctx,
    );
    const eventExtra: Attributes = { [ATTR_DECISION_POLICY]: options.policyId };
    put(eventExtra, ATTR_DECISION_POLICY_VERSION, options.policyVersion);
    put(eventExtra, ATTR_POLICY_NOTE, options.note);
    addRunEvent(
      span,
      RUN_EVENT_POLICY_CHANGED,
      eventAttributes(run, {
        actorType,
        actorId: options.actor,
        targetType: 'policy',
        targetId: options.policyId,
        attributes: eventExtra,
        ...(options.change === undefined ? {} : { payload: options.change }),
      }),
    );
    endSpan(span);
  } catch (err) {
    log.error('recordPolicyChange: recording failed', err);
  }
}
