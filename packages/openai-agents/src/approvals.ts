import {
  type ApprovalReceipt,
  type ApprovalRequest,
  ApprovalRequiredError,
  type PolicyDecision,
  recordApproval,
  ToolCallRefusedError,
  traceToolCall,
} from '@agent-audit/instrumentation';
import type { RunToolApprovalItem } from '@openai/agents';
import { NEEDS_APPROVAL_POLICY } from './attributes.js';
import { parseArguments } from './parse-arguments.js';
import type { AnyRunState } from './sdk-types.js';

/** Open approval requests and issued receipts of this process, by the model's tool call id. */
const pending = new Map<string, ApprovalRequest>();
const receipts = new Map<string, ApprovalReceipt>();
/** A paused run that is never resumed leaves its entries: the tables keep the newest ones. */
const MAX_ENTRIES = 10_000;

function remember<T>(table: Map<string, T>, key: string, value: T): void {
  if (table.size >= MAX_ENTRIES) {
    const oldest = table.keys().next();
    if (oldest.done !== true) table.delete(oldest.value);
  }
  table.set(key, value);
}

const NEEDS_APPROVAL: PolicyDecision = Object.freeze({
  outcome: 'approval_required',
  policyId: NEEDS_APPROVAL_POLICY,
  reason: 'the tool declares needsApproval',
});

/** Options of {@link approveToolCall} / {@link rejectToolCall}. */
export interface ToolApprovalOptions {
  /** Who decided, e.g. `user:jane` (`approval.approver`). Required. */
  approver: string;
  /** Free text from the approver (masked by the SDK's redaction). */
  note?: string;
  /** When the human decided. The default value is now. */
  time?: Date;
}

export interface ToolRejectionOptions extends ToolApprovalOptions {
  /** The message the model receives instead of the tool's output (the SDK's `reject` option). */
  message?: string;
}

interface FunctionCallView {
  callId: string;
  toolName: string;
  arguments: string;
}

function functionCallOf(item: RunToolApprovalItem): FunctionCallView | undefined {
  const raw = item.rawItem as { type?: unknown; callId?: unknown; arguments?: unknown };
  const toolName = item.name;
  if (raw.type !== 'function_call' || typeof raw.callId !== 'string' || toolName === undefined)
    return undefined;
  return {
    callId: raw.callId,
    toolName,
    arguments: typeof raw.arguments === 'string' ? raw.arguments : '',
  };
}

/**
 * Records the approval request of each `needsApproval` interruption of a paused run (the
 * gate's `approval_required` record, bound to the call's `input.hash`). Call it when `run()`
 * returns with `interruptions`; {@link approveToolCall} and {@link rejectToolCall} call it for
 * their item when it was not recorded yet. Records each tool call id once.
 */
export async function recordInterruptions(result: {
  interruptions?: RunToolApprovalItem[] | undefined;
}): Promise<ApprovalRequest[]> {
  const out: ApprovalRequest[] = [];
  for (const item of result.interruptions ?? []) {
    const r = await requestFor(item);
    if (r !== undefined) out.push(r);
  }
  return out;
}

async function requestFor(item: RunToolApprovalItem): Promise<ApprovalRequest | undefined> {
  const call = functionCallOf(item);
  if (call === undefined) return undefined;
  const known = pending.get(call.callId);
  if (known !== undefined) return known;
  const parsed = parseArguments(call.arguments);
  try {
    await traceToolCall(
      {
        toolName: call.toolName,
        callId: call.callId,
        input: parsed.ok ? parsed.value : call.arguments,
        policy: () => NEEDS_APPROVAL,
      },
      () => undefined,
    );
  } catch (err) {
    if (err instanceof ApprovalRequiredError) {
      remember(pending, call.callId, err.request);
      return err.request;
    }
    if (err instanceof ToolCallRefusedError) return undefined;
    throw err;
  }
  return undefined;
}

/**
 * Approves a `needsApproval` interruption: records the approver's decision as an approval
 * record bound to the call's `input.hash` (`recordApproval`), then `state.approve(item)`. When
 * the run resumes, the tool call carries the receipt through the gate (`authorization.method`
 * `human_approval`). Call it inside the run (`runWorkflow` with the same run id). Works on a
 * state restored with `RunState.fromString` in this process; in another process the receipt
 * is re-derived from a new request (recorded there).
 */
export async function approveToolCall(
  state: AnyRunState,
  item: RunToolApprovalItem,
  options: ToolApprovalOptions & { alwaysApprove?: boolean },
): Promise<ApprovalReceipt | undefined> {
  const receipt = await decideItem(item, 'approved', options);
  state.approve(
    item,
    options.alwaysApprove === undefined ? undefined : { alwaysApprove: options.alwaysApprove },
  );
  return receipt;
}

/**
 * Rejects a `needsApproval` interruption: records the rejection (approval record, then the
 * tool call refused by the gate with `decision.outcome=stop`), then `state.reject(item)`; the
 * model receives the SDK's rejection message and the tool body never runs.
 */
export async function rejectToolCall(
  state: AnyRunState,
  item: RunToolApprovalItem,
  options: ToolRejectionOptions,
): Promise<ApprovalReceipt | undefined> {
  const receipt = await decideItem(item, 'rejected', options);
  const call = functionCallOf(item);
  if (receipt !== undefined && call !== undefined) {
    receipts.delete(call.callId);
    const parsed = parseArguments(call.arguments);
    try {
      await traceToolCall(
        {
          toolName: call.toolName,
          callId: call.callId,
          input: parsed.ok ? parsed.value : call.arguments,
          approval: receipt,
        },
        () => undefined,
      );
    } catch (err) {
      if (!(err instanceof ToolCallRefusedError)) throw err;
    }
  }
  state.reject(item, options.message === undefined ? undefined : { message: options.message });
  return receipt;
}

async function decideItem(
  item: RunToolApprovalItem,
  decision: 'approved' | 'rejected',
  options: ToolApprovalOptions,
): Promise<ApprovalReceipt | undefined> {
  const call = functionCallOf(item);
  if (call === undefined) return undefined;
  const request = await requestFor(item);
  if (request === undefined) return undefined;
  const parsed = parseArguments(call.arguments);
  const receipt = recordApproval(request, {
    approver: options.approver,
    decision,
    approvedInput: parsed.ok ? parsed.value : call.arguments,
    ...(options.note === undefined ? {} : { note: options.note }),
    ...(options.time === undefined ? {} : { time: options.time }),
  });
  pending.delete(call.callId);
  remember(receipts, call.callId, receipt);
  return receipt;
}

/** The receipt issued for this tool call id, once (the audited tool passes it to the gate). */
export function takeReceipt(callId: string | undefined): ApprovalReceipt | undefined {
  if (callId === undefined) return undefined;
  const r = receipts.get(callId);
  if (r !== undefined) receipts.delete(callId);
  return r;
}
