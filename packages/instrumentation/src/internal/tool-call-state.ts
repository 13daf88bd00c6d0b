import { type Context, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';

/** What code running inside a tool call can learn about it (for side-effect receipts). */
export interface ToolCallState {
  readonly span: Span;
  readonly toolName: string;
  readonly callId: string;
  readonly inputHash: string | undefined;
  readonly actionKey: string | undefined;
}

const TOOL_CALL_KEY = Symbol.for('@agent-audit/instrumentation.tool-call');

// The API's span key: `createContextKey` is `Symbol.for(description)` in @opentelemetry/api 1.x.
// Checked once against trace.getSpan rather than assumed; if it ever differs, the tool context
// is built with two setValue calls as before.
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
const SPAN_KEY_WORKS = (() => {
  try {
    const probe = trace.wrapSpanContext({
      traceId: '1'.repeat(32),
      spanId: '1'.repeat(16),
      traceFlags: 0,
    });
    return trace.getSpan(ROOT_CONTEXT.setValue(SPAN_KEY, probe)) === probe;
  } catch {
    return false;
  }
})();

/**
 * The context a tool body runs in: `parent` with the tool span active and the tool-call state.
 * Each `setValue` of the API's context copies all entries; a tool call needs two, and most tool
 * bodies derive no context of their own. So the two values are answered here, in front of
 * `parent`, and the copies are made only when something derives a context from this one (a
 * child span, a baggage change): then it becomes the same context the two calls would have made.
 */
class ToolCallContext implements Context {
  private derived: Context | undefined;

  constructor(
    private readonly parent: Context,
    private readonly span: Span,
    private readonly state: ToolCallState,
  ) {}

  getValue(key: symbol): unknown {
    if (key === SPAN_KEY) return this.span;
    if (key === TOOL_CALL_KEY) return this.state;
    return this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.materialize().setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.materialize().deleteValue(key);
  }

  private materialize(): Context {
    this.derived ??= trace.setSpan(this.parent, this.span).setValue(TOOL_CALL_KEY, this.state);
    return this.derived;
  }
}

/** `parent` with `state.span` as the active span and `state` as the tool-call state. */
export function toolCallContext(parent: Context, state: ToolCallState): Context {
  if (SPAN_KEY_WORKS) return new ToolCallContext(parent, state.span, state);
  return trace.setSpan(parent, state.span).setValue(TOOL_CALL_KEY, state);
}

export function getToolCallState(ctx: Context): ToolCallState | undefined {
  return ctx.getValue(TOOL_CALL_KEY) as ToolCallState | undefined;
}
