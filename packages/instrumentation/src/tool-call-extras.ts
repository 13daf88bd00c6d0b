/*
 * The two things a tool call carries for the gate's integrations: the side effect a refused
 * call would have had (recorded as `side_effect.blocked`), and the integration's own span
 * attributes (`mcp.method.name`, …), checked so that none can stand in for the evidence.
 */
import { messageOf } from '@agent-audit/canonical-json';
import type { Attributes, Span } from '@opentelemetry/api';
import {
  ATTR_DECISION_ACTION_KEY,
  ATTR_DECISION_REASON,
  ATTR_INPUT_HASH,
  ATTR_SIDE_EFFECT_OPERATION,
  ATTR_SIDE_EFFECT_STATUS,
  ATTR_SIDE_EFFECT_TARGET_SYSTEM,
  ATTR_TOOL_NAME,
} from './attributes.js';
import { configurationError } from './internal/configuration.js';
import { put } from './internal/span-utils.js';
import { addRunEvent, eventAttributes, RUN_EVENT_SIDE_EFFECT_BLOCKED } from './run-events.js';
import type { Prepared } from './tool-call-prepare.js';

/** Records, on the refused call's span, the side effect that did not happen. Never throws. */
export function blockedSideEffect(
  span: Span,
  sideEffect: { operation: string; targetSystem: string },
  refusal: Error,
  p: Prepared,
): void {
  try {
    const attrs: Attributes = {
      [ATTR_SIDE_EFFECT_TARGET_SYSTEM]: sideEffect.targetSystem,
      [ATTR_SIDE_EFFECT_OPERATION]: sideEffect.operation,
      [ATTR_SIDE_EFFECT_STATUS]: 'blocked',
      [ATTR_TOOL_NAME]: p.toolName,
      // Why it was blocked; the decision itself is the call's policy.decision event.
      [ATTR_DECISION_REASON]: messageOf(refusal),
    };
    put(attrs, ATTR_INPUT_HASH, p.inputHash);
    put(attrs, ATTR_DECISION_ACTION_KEY, p.actionKey);
    addRunEvent(
      span,
      RUN_EVENT_SIDE_EFFECT_BLOCKED,
      eventAttributes(p.run, {
        actorType: 'system',
        actorId: 'agent-audit',
        targetType: sideEffect.targetSystem,
        attributes: attrs,
      }),
    );
  } catch {
    // addRunEvent logs its own failures; building the attributes cannot fail in practice.
  }
}

/** Name prefixes the instrumentation owns on a tool span. */
const RESERVED_PREFIXES = [
  'agent.',
  'workflow.',
  'credential.',
  'input.',
  'output.',
  'decision.',
  'permission.',
  'audit.',
  'trigger.',
  'tenant.',
  'tool.',
  'approval.',
  'authorization.',
  'side_effect.',
  'data.',
  'retention.',
  'gen_ai.operation.',
  'gen_ai.tool.',
  'gen_ai.agent.',
];

/** Throws a Configuration error for a reserved name or a value that is not an attribute value. */
export function checkIntegrationAttributes(attributes: unknown): void {
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) {
    throw configurationError('attributes', 'an object of span attributes', typeof attributes);
  }
  for (const [key, value] of Object.entries(attributes)) {
    if (RESERVED_PREFIXES.some((prefix) => key.startsWith(prefix))) {
      throw configurationError(
        `attributes.${key}`,
        'a name the instrumentation does not set itself (not agent.*, workflow.*, credential.*, input.*, output.*, decision.*, audit.*, tool.*, gen_ai.tool.*, …)',
        key,
      );
    }
    if (!isAttributeValue(value)) {
      throw configurationError(
        `attributes.${key}`,
        'a string, number, boolean or an array of one of them',
        Array.isArray(value) ? 'a mixed array' : typeof value,
      );
    }
  }
}

function isAttributeValue(v: unknown): boolean {
  const t = typeof v;
  if (t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v))) return true;
  if (!Array.isArray(v)) return false;
  const first = v.find((x) => x !== null && x !== undefined);
  const kind = typeof first;
  return (
    v.every((x) => x === null || x === undefined || typeof x === kind) &&
    (first === undefined || kind === 'string' || kind === 'number' || kind === 'boolean')
  );
}
