import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_LLM_REQUESTED_TOOL_CALL_IDS,
  ATTR_LLM_REQUESTED_TOOLS,
  ATTR_PROMPT_VERSION,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { hrNow } from './internal/clock.js';
import {
  checkFiniteNumber,
  checkFunction,
  checkObject,
  checkString,
} from './internal/configuration.js';
import { runAttributes, safeHashKey } from './internal/run-attributes.js';
import { LLM_OUTPUT, LLM_PROMPT, LLM_SYSTEM_PROMPT, recordHash } from './internal/span-hash.js';
import { endSpan, log, markError, put } from './internal/span-utils.js';
import { getTracer } from './internal/tracer.js';
import { getRunContext, type RunAttributes } from './run-context.js';
import {
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROMPT_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
} from './semconv.js';

export interface TraceLlmCallOptions {
  /** `gen_ai.request.model`. Required. */
  model: string;
  /** `gen_ai.provider.name`, e.g. `openai`, `anthropic`, `aws.bedrock`. */
  provider?: string;
  /** `gen_ai.operation.name`. The default value is `chat`. */
  operation?: 'chat' | 'text_completion' | 'generate_content' | (string & {});
  /** The prompt / input messages: hashed into `prompt.hash`; raw only with `captureContent`. */
  prompt?: unknown;
  /** The system prompt: hashed into `prompt.system_hash`; raw only with `captureContent`. */
  systemPrompt?: unknown;
  /** `gen_ai.prompt.name`: the prompt template's name. */
  promptName?: string;
  /** `prompt.version`: the prompt template's version. */
  promptVersion?: string;
  /** `gen_ai.request.max_tokens`. */
  maxTokens?: number;
  /** `gen_ai.request.temperature`. */
  temperature?: number;
  /** `gen_ai.conversation.id`. */
  conversationId?: string;
  /**
   * Record `gen_ai.input.messages`, `gen_ai.system_instructions` and `gen_ai.output.messages`.
   * The default value is the hooks' `captureContent` (false).
   */
  captureContent?: boolean;
}

/** What the model answered; every field is optional. */
export interface LlmResponse {
  /** `gen_ai.response.model`. */
  model?: string;
  /** `gen_ai.response.id`. */
  id?: string;
  /** `gen_ai.response.finish_reasons` (the stop reason per choice). */
  finishReasons?: string[];
  /** `gen_ai.usage.input_tokens`. */
  inputTokens?: number;
  /** `gen_ai.usage.output_tokens`. */
  outputTokens?: number;
  /** Tool calls the model requested (`llm.requested_tools`, `llm.requested_tool_call_ids`). */
  toolCalls?: Array<{ name: string; id?: string }>;
  /** The output messages: hashed into `output.hash`; raw only with `captureContent`. */
  output?: unknown;
}

export interface LlmCallHandle {
  readonly span: Span;
  /** Records the response details; call it once the model answered. Never throws. */
  setResponse(response: LlmResponse): void;
}

/**
 * Runs one model call as a `{operation} {model}` span (kind CLIENT) with the GenAI names,
 * prompt hashes and version, and the usage, stop reason and requested tool calls given to
 * `setResponse`. Content is recorded only with `captureContent`. The call's own errors
 * propagate unchanged; recording failures never reach it.
 */
export async function traceLlmCall<T>(
  options: TraceLlmCallOptions,
  fn: (call: LlmCallHandle) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  validate(options, fn);
  const parentCtx = context.active();
  let span: Span | undefined;
  let run: RunAttributes | undefined;
  let capture = false;
  try {
    const hooks = getAuditHooks();
    run = getRunContext(parentCtx);
    capture = options.captureContent ?? hooks.captureContent === true;
    const key = safeHashKey(hooks, run);
    const operation = options.operation ?? GEN_AI_OPERATION_NAME_VALUE_CHAT;
    const attrs: Attributes = run === undefined ? {} : runAttributes(run);
    attrs[ATTR_GEN_AI_OPERATION_NAME] = operation;
    attrs[ATTR_GEN_AI_REQUEST_MODEL] = options.model;
    put(attrs, ATTR_GEN_AI_PROVIDER_NAME, options.provider);
    put(attrs, ATTR_GEN_AI_PROMPT_NAME, options.promptName);
    put(attrs, ATTR_PROMPT_VERSION, options.promptVersion);
    put(attrs, ATTR_GEN_AI_REQUEST_MAX_TOKENS, options.maxTokens);
    put(attrs, ATTR_GEN_AI_REQUEST_TEMPERATURE, options.temperature);
    put(attrs, ATTR_GEN_AI_CONVERSATION_ID, options.conversationId);
    if (options.prompt !== undefined) recordHash(attrs, options.prompt, LLM_PROMPT, key, capture);
    if (options.systemPrompt !== undefined) {
      recordHash(attrs, options.systemPrompt, LLM_SYSTEM_PROMPT, key, capture);
    }
    span = getTracer().startSpan(
      `${operation} ${options.model}`,
      { kind: SpanKind.CLIENT, startTime: hrNow(), attributes: attrs },
      parentCtx,
    );
  } catch (err) {
    log.error('traceLlmCall: starting the span failed; calling the model untraced', err);
  }
  const llmSpan = span ?? trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const spanRun = run;
  const handle: LlmCallHandle = Object.freeze({
    span: llmSpan,
    setResponse(response: LlmResponse) {
      if (span === undefined) return;
      try {
        recordResponse(span, response, spanRun, capture);
      } catch (err) {
        log.error('traceLlmCall: recording the response failed', err);
      }
    },
  });
  if (span === undefined) return (await fn(handle)) as Awaited<T>;
  try {
    const result = (await context.with(
      trace.setSpan(parentCtx, span),
      fn,
      undefined,
      handle,
    )) as Awaited<T>;
    endSpan(span);
    return result;
  } catch (err) {
    markError(span, err);
    endSpan(span);
    throw err;
  }
}

function recordResponse(
  span: Span,
  r: LlmResponse,
  run: RunAttributes | undefined,
  capture: boolean,
): void {
  const a: Attributes = {};
  put(a, ATTR_GEN_AI_RESPONSE_MODEL, r.model);
  put(a, ATTR_GEN_AI_RESPONSE_ID, r.id);
  if (Array.isArray(r.finishReasons))
    a[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = r.finishReasons.map(String);
  if (Number.isFinite(r.inputTokens)) a[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = r.inputTokens;
  if (Number.isFinite(r.outputTokens)) a[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = r.outputTokens;
  if (Array.isArray(r.toolCalls)) {
    a[ATTR_LLM_REQUESTED_TOOLS] = r.toolCalls.map((t) => String(t.name));
    a[ATTR_LLM_REQUESTED_TOOL_CALL_IDS] = r.toolCalls.map((t) => String(t.id ?? ''));
  }
  if (r.output !== undefined) {
    recordHash(a, r.output, LLM_OUTPUT, safeHashKey(getAuditHooks(), run), capture);
  }
  span.setAttributes(a);
}

function validate(options: TraceLlmCallOptions, fn: unknown): void {
  checkObject('options', options);
  checkFunction('fn', fn, true);
  checkString('model', options.model, true);
  for (const name of [
    'provider',
    'operation',
    'promptName',
    'promptVersion',
    'conversationId',
  ] as const) {
    checkString(name, options[name], false);
  }
  for (const name of ['maxTokens', 'temperature'] as const) checkFiniteNumber(name, options[name]);
}
