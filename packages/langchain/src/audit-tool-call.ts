import { isDeepStrictEqual } from 'node:util';
import {
  type ApprovalReceipt,
  type ApprovalRequest,
  getRunContext,
  injectRunContext,
  recordApproval,
  type TraceToolCallOptions,
  traceToolCall,
} from '@agent-audit/instrumentation';
import { ToolMessage } from '@langchain/core/messages';
import type { ToolCall } from '@langchain/core/messages/tool';
import { interrupt } from '@langchain/langgraph';
import { markAudited } from './audited-spans.js';
import {
  type ApprovalAnswer,
  type ApprovalInterrupt,
  type AuditLangChainOptions,
  callOptions,
  checkOptions,
  defaultRefusalMessage,
  isApprovalRequired,
  isRefusal,
} from './options.js';
import { forgetPending, peekPending, pendingKey, rememberPending } from './pending-approvals.js';
import { toolOutputOf } from './tool-output.js';

/** The part of LangChain's `ToolCallRequest` the wrapper reads. */
export interface AuditedToolCallRequest {
  toolCall: ToolCall;
  tool?: { name?: string; description?: string } | unknown;
  runtime?: { configurable?: Record<string, unknown> } | unknown;
}

/** LangChain's `wrapToolCall` shape: createAgent middleware and `new ToolNode(tools, { wrapToolCall })`. */
export type WrapToolCall = <R extends AuditedToolCallRequest, O>(
  request: R,
  handler: (request: R) => O | Promise<O>,
) => Promise<O | ToolMessage>;

/**
 * A `wrapToolCall` function that runs every tool call through `traceToolCall`: the call id
 * from the model's tool call, `input.hash` of its arguments, `output.hash` of the tool
 * message, and the policy gate before the tool body runs. A refusal is returned to the model
 * as a `ToolMessage` with status `error` (the tool does not run); `approval_required` pauses
 * the graph with `interrupt()` (unless `approvals: 'refuse'`) and, on resume, records the
 * human's answer with `recordApproval` and runs the call with the approved arguments.
 *
 * Use it as `createAgent({ middleware: [auditMiddleware()] })` or, in your own graph, as
 * `new ToolNode(tools, { wrapToolCall: auditToolCall() })` (ToolNode from `langchain`).
 */
export function auditToolCall(options?: AuditLangChainOptions): WrapToolCall {
  const opts = checkOptions(options);
  const refusalText = opts.refusalMessage ?? defaultRefusalMessage;
  return async (request, handler) => {
    const { toolCall } = request;
    const threadId = (request.runtime as { configurable?: { thread_id?: unknown } } | undefined)
      ?.configurable?.thread_id;
    const base: TraceToolCallOptions = {
      toolName: toolCall.name,
      input: toolCall.args,
      ...callOptions(opts, toolCall.name, 'wrapToolCall', threadId),
    };
    if (toolCall.id !== undefined && toolCall.id !== '') base.callId = toolCall.id;
    const description = descriptionOf(request.tool);
    if (description !== undefined) base.description = description;
    const key = opts.approvals === 'refuse' ? undefined : pendingKey(threadId, base.callId);
    const paused = key === undefined ? undefined : peekPending(key);
    if (key !== undefined && paused !== undefined && !samePausedCall(paused.request, toolCall)) {
      // Not the call that was paused (another run, tool or arguments under a reused id).
      forgetPending(key);
    } else if (key !== undefined && paused !== undefined) {
      // The node re-ran for a call this process paused: the same request is answered (or the
      // graph pauses again with the same payload); the gate decides once, on the answered call.
      try {
        return await resumeApproved(paused, key, base, request, handler);
      } catch (after) {
        if (isRefusal(after)) return refusal(toolCall, refusalText(after));
        throw after;
      }
    }
    try {
      return await run(base, request, handler);
    } catch (err) {
      if (isApprovalRequired(err) && opts.approvals !== 'refuse') {
        const paused = { request: err.request, payload: interruptPayload(err.request, base) };
        if (key !== undefined) rememberPending(key, paused);
        try {
          return await resumeApproved(paused, key, base, request, handler);
        } catch (after) {
          if (isRefusal(after)) return refusal(toolCall, refusalText(after));
          throw after;
        }
      }
      if (isRefusal(err)) return refusal(toolCall, refusalText(err));
      throw err;
    }
  };
}

async function run<R extends AuditedToolCallRequest, O>(
  options: TraceToolCallOptions,
  request: R,
  handler: (request: R) => O | Promise<O>,
): Promise<O> {
  let message: O | undefined;
  await traceToolCall(options, async (call) => {
    markAudited(call.span);
    message = await handler(request);
    return toolOutputOf(message);
  });
  return message as O;
}

/** The remembered request is for this very call: same run, tool and arguments. */
function samePausedCall(req: ApprovalRequest, toolCall: ToolCall): boolean {
  return (
    req.toolName === toolCall.name &&
    req.runId === getRunContext()?.runId &&
    isDeepStrictEqual(req.input, toolCall.args)
  );
}

/** What the graph pauses with (`__interrupt__[].value`): what the approver needs to decide. */
function interruptPayload(req: ApprovalRequest, base: TraceToolCallOptions): ApprovalInterrupt {
  return {
    type: 'agent-audit.approval_required',
    approvalId: req.approvalId,
    toolName: req.toolName,
    toolCallId: base.callId,
    runId: req.runId,
    actionKey: req.actionKey,
    inputHash: req.inputHash,
    input: req.input,
    reason: req.decision.reason,
    runContext: runContextHeaders(),
  };
}

/**
 * The first time: pauses the graph (LangGraph's `interrupt()` throws). On resume the node
 * re-runs: in the process that paused it, the remembered request is answered without asking
 * the gate first (pending-approvals.ts); in another process the gate is asked again and its
 * new request answered. `interrupt()` returns the human's answer, recorded as an approval of
 * the request and attached to the call, which the gate then decides (policy asked once more).
 */
async function resumeApproved<R extends AuditedToolCallRequest, O>(
  paused: { request: ApprovalRequest; payload: ApprovalInterrupt },
  key: string | undefined,
  base: TraceToolCallOptions,
  request: R,
  handler: (request: R) => O | Promise<O>,
): Promise<O> {
  const answer: unknown = interrupt(paused.payload);
  if (key !== undefined) forgetPending(key);
  const receipt = receiptOf(answer, paused.request);
  const approvedArgs = receipt.approvedInput as ToolCall['args'];
  const approvedRequest = { ...request, toolCall: { ...request.toolCall, args: approvedArgs } };
  return run({ ...base, input: approvedArgs, approval: receipt }, approvedRequest, handler);
}

function runContextHeaders(): Record<string, string> {
  try {
    return injectRunContext({} as Record<string, string>);
  } catch {
    return {};
  }
}

/** The resume value as a receipt: a receipt made elsewhere, or an answer recorded here. */
function receiptOf(answer: unknown, req: ApprovalRequest): ApprovalReceipt {
  if (answer === null || typeof answer !== 'object') {
    throw resumeError(typeof answer);
  }
  const a = answer as Partial<ApprovalReceipt> & Partial<ApprovalAnswer>;
  if (typeof a.actionKey === 'string' && typeof a.time === 'string' && 'inputHash' in a) {
    // A receipt recordApproval made in another process: traceToolCall checks its proof,
    // tool, run and arguments hash; an altered or unsigned one does not approve anything.
    return a as ApprovalReceipt;
  }
  if (typeof a.approver !== 'string' || (a.decision !== 'approved' && a.decision !== 'rejected')) {
    throw resumeError('an object without approver/decision');
  }
  const request =
    typeof a.approvalId === 'string' && a.approvalId !== ''
      ? { ...req, approvalId: a.approvalId }
      : req;
  return recordApproval(request, {
    approver: a.approver,
    decision: a.decision,
    ...('approvedInput' in a ? { approvedInput: a.approvedInput } : {}),
    ...('shown' in a ? { shown: a.shown } : {}),
    ...(typeof a.note === 'string' ? { note: a.note } : {}),
  });
}

function resumeError(actual: string): Error {
  return new Error(
    `Configuration: the resume value of an agent-audit approval interrupt is invalid, expected { approver, decision: 'approved'|'rejected', approvedInput?, note? } or an approval receipt (actual: ${actual})`,
  );
}

function refusal(toolCall: ToolCall, content: string): ToolMessage {
  return new ToolMessage({
    content,
    tool_call_id: toolCall.id ?? '',
    name: toolCall.name,
    status: 'error',
  });
}

function descriptionOf(tool: unknown): string | undefined {
  const d = (tool as { description?: unknown } | undefined)?.description;
  return typeof d === 'string' && d !== '' ? d : undefined;
}
