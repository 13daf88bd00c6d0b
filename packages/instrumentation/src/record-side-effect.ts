import { type Attributes, context, SpanKind, trace } from '@opentelemetry/api';
import {
  ATTR_DECISION_ACTION_KEY,
  ATTR_INPUT_HASH,
  ATTR_SIDE_EFFECT_IDEMPOTENCY_KEY,
  ATTR_SIDE_EFFECT_OBJECT_ID,
  ATTR_SIDE_EFFECT_OPERATION,
  ATTR_SIDE_EFFECT_STATUS,
  ATTR_SIDE_EFFECT_TARGET_SYSTEM,
  ATTR_TOOL_NAME,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { hrNow } from './internal/clock.js';
import { checkOneOf, checkString } from './internal/configuration.js';
import { runAttributes, safeHashKey } from './internal/run-attributes.js';
import { recordHash, SIDE_EFFECT_RESULT } from './internal/span-hash.js';
import { endSpan, log, put } from './internal/span-utils.js';
import { getToolCallState } from './internal/tool-call-state.js';
import { getTracer } from './internal/tracer.js';
import { getRunContext } from './run-context.js';
import {
  addRunEvent,
  eventAttributes,
  RUN_EVENT_SIDE_EFFECT_APPLIED,
  RUN_EVENT_SIDE_EFFECT_BLOCKED,
} from './run-events.js';

export interface RecordSideEffectOptions {
  /** The system changed, e.g. `postgres:billing`, `smtp`, `github`. Required. */
  targetSystem: string;
  /** What was done, e.g. `insert`, `send`, `merge`. Required. */
  operation: string;
  /** Id of the object created or changed, e.g. `refund/8812`. */
  objectId?: string;
  /** The idempotency key sent to the target system. */
  idempotencyKey?: string;
  /** The target's answer: hashed into `side_effect.result_hash`, never recorded raw. */
  result?: unknown;
  /** The default value is `applied`. */
  status?: 'applied' | 'blocked';
}

/** What actually happened, to compare with the proposed action. */
export interface SideEffectReceipt {
  readonly targetSystem: string;
  readonly operation: string;
  readonly objectId: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly resultHash: string | undefined;
  readonly status: 'applied' | 'blocked';
  /** `input.hash` of the enclosing tool call (the proposed action), when inside one. */
  readonly proposedInputHash: string | undefined;
  readonly actionKey: string | undefined;
  readonly toolName: string | undefined;
}

const SIDE_EFFECT_STATUSES = ['applied', 'blocked'] as const;

/**
 * Records a side effect (event `side_effect.applied` / `side_effect.blocked`) on the enclosing
 * tool-call span, linked to that call's `input.hash` and action key; outside a tool call on a
 * span of its own. Returns the receipt. Recording failures never throw; bad options do
 * (`Configuration: …`).
 */
export function recordSideEffect(options: RecordSideEffectOptions): SideEffectReceipt {
  checkString('targetSystem', options?.targetSystem, true);
  checkString('operation', options.operation, true);
  checkString('objectId', options.objectId, false);
  checkString('idempotencyKey', options.idempotencyKey, false);
  checkOneOf('status', options.status, SIDE_EFFECT_STATUSES);
  const ctx = context.active();
  const run = getRunContext(ctx);
  const tool = getToolCallState(ctx);
  // The hash (or why it is missing) goes on the side_effect event; the receipt carries the hash.
  const hashAttrs: Attributes = {};
  const resultHash =
    options.result === undefined
      ? undefined
      : recordHash(
          hashAttrs,
          options.result,
          SIDE_EFFECT_RESULT,
          safeHashKey(getAuditHooks(), run),
        );
  const receipt: SideEffectReceipt = Object.freeze({
    targetSystem: options.targetSystem,
    operation: options.operation,
    objectId: options.objectId,
    idempotencyKey: options.idempotencyKey,
    resultHash,
    status: options.status ?? 'applied',
    proposedInputHash: tool?.inputHash,
    actionKey: tool?.actionKey,
    toolName: tool?.toolName,
  });
  try {
    const attrs: Attributes = {
      [ATTR_SIDE_EFFECT_TARGET_SYSTEM]: receipt.targetSystem,
      [ATTR_SIDE_EFFECT_OPERATION]: receipt.operation,
      [ATTR_SIDE_EFFECT_STATUS]: receipt.status,
    };
    put(attrs, ATTR_SIDE_EFFECT_OBJECT_ID, receipt.objectId);
    put(attrs, ATTR_SIDE_EFFECT_IDEMPOTENCY_KEY, receipt.idempotencyKey);
    Object.assign(attrs, hashAttrs);
    put(attrs, ATTR_INPUT_HASH, receipt.proposedInputHash);
    put(attrs, ATTR_DECISION_ACTION_KEY, receipt.actionKey);
    put(attrs, ATTR_TOOL_NAME, receipt.toolName);
    const name =
      receipt.status === 'applied' ? RUN_EVENT_SIDE_EFFECT_APPLIED : RUN_EVENT_SIDE_EFFECT_BLOCKED;
    const eventAttrs = eventAttributes(run, {
      actorType: 'agent',
      targetType: receipt.targetSystem,
      ...(receipt.objectId === undefined ? {} : { targetId: receipt.objectId }),
      attributes: attrs,
    });
    const active = tool?.span ?? trace.getSpan(ctx);
    if (active?.isRecording()) {
      addRunEvent(active, name, eventAttrs);
    } else {
      const span = getTracer().startSpan(
        `side_effect ${receipt.operation} ${receipt.targetSystem}`,
        {
          kind: SpanKind.INTERNAL,
          startTime: hrNow(),
          attributes: { ...(run === undefined ? {} : runAttributes(run)), ...attrs },
        },
        ctx,
      );
      addRunEvent(span, name, eventAttrs);
      endSpan(span);
    }
  } catch (err) {
    log.error('recordSideEffect: recording failed', err);
  }
  return receipt;
}
