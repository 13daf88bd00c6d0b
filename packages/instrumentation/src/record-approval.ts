import { type Attributes, context, SpanKind } from '@opentelemetry/api';
import {
  ATTR_ACTOR_ID,
  ATTR_ACTOR_TYPE,
  ATTR_APPROVAL_APPROVER,
  ATTR_APPROVAL_DECISION,
  ATTR_APPROVAL_EDITS,
  ATTR_APPROVAL_ID,
  ATTR_APPROVAL_INPUT_HASH,
  ATTR_APPROVAL_INPUT_HASH_ERROR,
  ATTR_APPROVAL_NOTE,
  ATTR_APPROVAL_PROPOSED_HASH,
  ATTR_APPROVAL_TIME,
  ATTR_DECISION_ACTION_KEY,
  ATTR_INPUT_HASH,
  ATTR_INPUT_HASH_ERROR,
  ATTR_TOOL_NAME,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { canonicalJson } from './hash-value.js';
import { markIssued, proveReceipt } from './internal/approval-proof.js';
import { hrNow } from './internal/clock.js';
import {
  checkDate,
  checkOneOf,
  checkString,
  configurationError,
} from './internal/configuration.js';
import { runAttributes, safeHashKey } from './internal/run-attributes.js';
import { APPROVAL_SHOWN, APPROVED_INPUT, recordHash } from './internal/span-hash.js';
import { endSpan, log, put } from './internal/span-utils.js';
import { getTracer } from './internal/tracer.js';
import type { ApprovalReceipt, ApprovalRequest } from './policy.js';
import { getRunContext } from './run-context.js';
import {
  addRunEvent,
  eventAttributes,
  RUN_EVENT_APPROVAL_GRANTED,
  RUN_EVENT_APPROVAL_REJECTED,
} from './run-events.js';

export interface RecordApprovalOptions {
  /** Who decided, e.g. `user:jane` (`approval.approver`). Required. */
  approver: string;
  decision: 'approved' | 'rejected';
  /**
   * The arguments as approved, after any edit. The default value is the proposed arguments.
   * The receipt is bound to their `input.hash`: the tool must be called with exactly these.
   */
  approvedInput?: unknown;
  /** What the approver was shown (hashed into `approval.shown_hash`). The default value is the proposed arguments. */
  shown?: unknown;
  /** Names of edited fields. The default value is computed from the top-level fields that differ. */
  edits?: string[];
  /** Free text from the approver (the SDK masks PII and secrets in it). */
  note?: string;
  /** When the human decided. The default value is now. */
  time?: Date;
}

const APPROVAL_DECISIONS = ['approved', 'rejected'] as const;

/**
 * Records a human's answer to an {@link ApprovalRequest} as its own `approval {tool}` span in
 * the active run (events `approval.granted` / `approval.rejected`, actor human) and returns the
 * receipt to pass to `traceToolCall({ approval })`. A bad option throws `Configuration: …`.
 */
export function recordApproval(
  request: ApprovalRequest,
  options: RecordApprovalOptions,
): ApprovalReceipt {
  if (request === null || typeof request !== 'object' || typeof request.approvalId !== 'string') {
    throw configurationError('request', 'an ApprovalRequest', 'other');
  }
  checkString('approver', options?.approver, true);
  if (options.decision === undefined)
    throw configurationError('decision', 'approved|rejected', 'undefined');
  checkOneOf('decision', options.decision, APPROVAL_DECISIONS);
  checkString('note', options.note, false);
  checkDate('time', options.time);

  const ctx = context.active();
  const run = getRunContext(ctx);
  const key = safeHashKey(getAuditHooks(), run);
  // The hashes (or why they are missing) go on the approval span; computed first, the receipt
  // is bound to them.
  const hashAttrs: Attributes = {};
  const approvedInput = 'approvedInput' in options ? options.approvedInput : request.input;
  const inputHash = recordHash(hashAttrs, approvedInput, APPROVED_INPUT, key);
  const proposedHash = request.inputHash;
  const shown = 'shown' in options ? options.shown : request.input;
  const shownHash = recordHash(hashAttrs, shown, APPROVAL_SHOWN, key);
  const edits =
    options.edits ??
    (inputHash === proposedHash ? [] : changedFields(request.input, approvedInput));
  const time = (options.time ?? new Date()).toISOString();

  const unsigned: ApprovalReceipt = {
    approvalId: request.approvalId,
    runId: request.runId ?? run?.runId,
    toolName: request.toolName,
    actionKey: request.actionKey,
    approver: options.approver,
    decision: options.decision,
    time,
    inputHash,
    proposedHash,
    shownHash,
    edits: Object.freeze([...edits]),
    approvedInput,
    note: options.note,
  };
  let proof: string | undefined;
  try {
    proof = proveReceipt(unsigned, getAuditHooks(), run);
  } catch (err) {
    log.error('recordApproval: signing the receipt failed', err);
  }
  const receipt: ApprovalReceipt = Object.freeze(
    proof === undefined ? unsigned : { ...unsigned, proof },
  );
  markIssued(receipt);

  try {
    const attrs: Attributes = run === undefined ? {} : runAttributes(run);
    attrs[ATTR_TOOL_NAME] = request.toolName;
    attrs[ATTR_APPROVAL_ID] = receipt.approvalId;
    attrs[ATTR_APPROVAL_APPROVER] = receipt.approver;
    attrs[ATTR_APPROVAL_DECISION] = receipt.decision;
    attrs[ATTR_APPROVAL_TIME] = time;
    attrs[ATTR_DECISION_ACTION_KEY] = receipt.actionKey;
    attrs[ATTR_APPROVAL_EDITS] = [...receipt.edits];
    attrs[ATTR_ACTOR_TYPE] = 'human';
    attrs[ATTR_ACTOR_ID] = receipt.approver;
    Object.assign(attrs, hashAttrs);
    put(attrs, ATTR_INPUT_HASH, inputHash);
    put(
      attrs,
      ATTR_INPUT_HASH_ERROR,
      hashAttrs[ATTR_APPROVAL_INPUT_HASH_ERROR] as string | undefined,
    );
    put(attrs, ATTR_APPROVAL_PROPOSED_HASH, proposedHash);
    put(attrs, ATTR_APPROVAL_NOTE, options.note);
    const span = getTracer().startSpan(
      `approval ${request.toolName}`,
      { kind: SpanKind.INTERNAL, startTime: hrNow(), attributes: attrs },
      ctx,
    );
    addRunEvent(
      span,
      receipt.decision === 'approved' ? RUN_EVENT_APPROVAL_GRANTED : RUN_EVENT_APPROVAL_REJECTED,
      eventAttributes(run, {
        actorType: 'human',
        actorId: receipt.approver,
        targetType: 'approval',
        targetId: receipt.approvalId,
        attributes: {
          [ATTR_APPROVAL_ID]: receipt.approvalId,
          [ATTR_APPROVAL_DECISION]: receipt.decision,
          [ATTR_APPROVAL_EDITS]: [...receipt.edits],
          ...(inputHash === undefined ? {} : { [ATTR_APPROVAL_INPUT_HASH]: inputHash }),
        },
      }),
      options.time?.getTime(),
    );
    endSpan(span);
  } catch (err) {
    log.error('recordApproval: recording the approval span failed', err);
  }
  return receipt;
}

/**
 * Top-level fields whose canonical form differs; `$` when the values are not both objects, or
 * cannot be read (a getter or proxy that throws: the receipt must still be returned).
 */
function changedFields(before: unknown, after: unknown): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(before) || !isObj(after)) return ['$'];
  try {
    const out: string[] = [];
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const k of [...keys].sort()) {
      const a = canonicalJson(before[k] === undefined ? null : before[k]);
      const b = canonicalJson(after[k] === undefined ? null : after[k]);
      const same = k in before === k in after && a.ok && b.ok && a.json === b.json;
      if (!same) out.push(k);
    }
    return out;
  } catch (err) {
    log.error('recordApproval: comparing the approved with the proposed arguments failed', err);
    return ['$'];
  }
}
