import type { Context, Span } from '@opentelemetry/api';

/** What code running inside a tool call can learn about it (for side-effect receipts). */
export interface ToolCallState {
  readonly span: Span;
  readonly toolName: string;
  readonly callId: string;
  readonly inputHash: string | undefined;
  readonly actionKey: string | undefined;
}

const TOOL_CALL_KEY = Symbol.for('@agent-audit/instrumentation.tool-call');

export function setToolCallState(ctx: Context, state: ToolCallState): Context {
  return ctx.setValue(TOOL_CALL_KEY, state);
}

export function getToolCallState(ctx: Context): ToolCallState | undefined {
  return ctx.getValue(TOOL_CALL_KEY) as ToolCallState | undefined;
}
