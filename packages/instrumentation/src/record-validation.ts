import type { Attributes } from '@opentelemetry/api';
import { ATTR_VALIDATION_NAME, ATTR_VALIDATION_REASON } from './attributes.js';
import { checkString, configurationError } from './internal/configuration.js';
import { put } from './internal/span-utils.js';
import {
  RUN_EVENT_VALIDATION_FAILED,
  RUN_EVENT_VALIDATION_PASSED,
  recordRunEvent,
} from './run-events.js';

export interface RecordValidationOptions {
  /** The check, e.g. `schema:refund-request`, `guardrail:pii`, `output-moderation`. Required. */
  name: string;
  /** Whether it passed. Required. */
  passed: boolean;
  /** Why it failed (or a note on why it passed). */
  reason?: string;
  /** What was checked, in process only: hashed into `payload.hash`, never recorded raw. */
  subject?: unknown;
  /** Where what was checked lives (a URI, a document id). */
  subjectRef?: string;
  /** Who ran the check. The default value is the check's name, as a `system` actor. */
  actorId?: string;
}

/**
 * Records `validation.passed` or `validation.failed` on the active span (a schema check, a
 * guardrail, an output moderation). `agent-audit explain` lists it with the policy decisions.
 * Bad options throw `Configuration: …`; recording never throws.
 */
export function recordValidation(options: RecordValidationOptions): void {
  checkString('name', options?.name, true);
  if (typeof options.passed !== 'boolean') {
    throw configurationError('passed', 'a boolean', typeof options.passed);
  }
  checkString('reason', options.reason, false);
  checkString('subjectRef', options.subjectRef, false);
  checkString('actorId', options.actorId, false);
  const attributes: Attributes = { [ATTR_VALIDATION_NAME]: options.name };
  put(attributes, ATTR_VALIDATION_REASON, options.reason);
  recordRunEvent(options.passed ? RUN_EVENT_VALIDATION_PASSED : RUN_EVENT_VALIDATION_FAILED, {
    actorType: 'system',
    actorId: options.actorId ?? options.name,
    targetType: 'validation',
    targetId: options.name,
    ...(options.subject === undefined ? {} : { payload: options.subject }),
    ...(options.subjectRef === undefined ? {} : { payloadRef: options.subjectRef }),
    attributes,
  });
}
