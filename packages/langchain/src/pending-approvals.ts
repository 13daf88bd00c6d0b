import type { ApprovalRequest } from '@agent-audit/instrumentation';
import type { ApprovalInterrupt } from './options.js';

/**
 * The approval requests this process paused a graph for, by thread and tool call id. When
 * LangGraph re-runs the node (on resume, or when the thread is invoked again while paused),
 * the wrapper answers from here instead of asking the gate first: the trail then shows one
 * request, one approval and one call, not a second `approval_required` refusal (with a second
 * approval id nobody was shown) before the approved call. Without an entry (another process,
 * or evicted) the gate is asked again, as before.
 */
export interface PendingApproval {
  readonly request: ApprovalRequest;
  readonly payload: ApprovalInterrupt;
}

/** Paused calls remembered at most (oldest forgotten first): each is a few hundred bytes. */
const MAX_PENDING = 1000;
const pending = new Map<string, PendingApproval>();

/** Key of a tool call of a thread; undefined when either id is missing. */
export function pendingKey(threadId: unknown, callId: string | undefined): string | undefined {
  if (typeof threadId !== 'string' || threadId === '' || callId === undefined || callId === '')
    return undefined;
  return JSON.stringify([threadId, callId]);
}

export function rememberPending(key: string, entry: PendingApproval): void {
  pending.delete(key);
  pending.set(key, entry);
  if (pending.size > MAX_PENDING) {
    const oldest = pending.keys().next().value;
    if (oldest !== undefined) pending.delete(oldest);
  }
}

export function peekPending(key: string): PendingApproval | undefined {
  return pending.get(key);
}

export function forgetPending(key: string): void {
  pending.delete(key);
}
