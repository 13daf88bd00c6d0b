import type { LlmResponse, TraceLlmCallOptions } from '@agent-audit/instrumentation';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';

/**
 * A message as `prompt.hash` / `output.hash` cover it: its role, content and tool calls. The
 * message objects carry generated ids and framework fields that would make an identical prompt
 * hash differently from one run to the next.
 */
export function plainMessage(m: BaseMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.getType(), content: m.content };
  const toolCalls = AIMessage.isInstance(m) ? m.tool_calls : undefined;
  if (toolCalls !== undefined && toolCalls.length > 0) {
    out.tool_calls = toolCalls.map((c) => ({ id: c.id ?? null, name: c.name, args: c.args }));
  }
  const toolCallId = (m as { tool_call_id?: unknown }).tool_call_id;
  if (typeof toolCallId === 'string') out.tool_call_id = toolCallId;
  return out;
}

interface LsParams {
  ls_provider?: unknown;
  ls_model_name?: unknown;
  ls_temperature?: unknown;
  ls_max_tokens?: unknown;
}

/** What LangChain tells about a chat model: its own `getLsParams`, else its fields. */
export function modelOptions(
  model: unknown,
): Pick<TraceLlmCallOptions, 'model' | 'provider' | 'temperature' | 'maxTokens'> {
  const m = (model ?? {}) as Record<string, unknown>;
  let ls: LsParams = {};
  try {
    const target = typeof m.getLsParams === 'function' ? m : boundModel(m);
    if (target !== undefined && typeof target.getLsParams === 'function') {
      ls = (target.getLsParams as (o: object) => LsParams).call(target, {}) ?? {};
    }
  } catch {
    ls = {};
  }
  const name =
    str(ls.ls_model_name) ??
    str(m.model) ??
    str(m.modelName) ??
    str(boundModel(m)?.model) ??
    str(ls.ls_provider) ??
    llmType(m) ??
    'unknown';
  const out: ReturnType<typeof modelOptions> = { model: name };
  const provider = str(ls.ls_provider) ?? llmType(m);
  if (provider !== undefined) out.provider = provider;
  if (typeof ls.ls_temperature === 'number' && Number.isFinite(ls.ls_temperature)) {
    out.temperature = ls.ls_temperature;
  }
  if (typeof ls.ls_max_tokens === 'number' && Number.isFinite(ls.ls_max_tokens)) {
    out.maxTokens = ls.ls_max_tokens;
  }
  return out;
}

/** A `RunnableBinding` (a model with bound tools) keeps the model in `bound`. */
function boundModel(m: Record<string, unknown>): Record<string, unknown> | undefined {
  const b = m.bound;
  return b !== null && typeof b === 'object' ? (b as Record<string, unknown>) : undefined;
}

function llmType(m: Record<string, unknown>): string | undefined {
  const target = typeof m._llmType === 'function' ? m : boundModel(m);
  try {
    return target !== undefined && typeof target._llmType === 'function'
      ? str((target._llmType as () => unknown).call(target))
      : undefined;
  } catch {
    return undefined;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The response fields of an AI message: model, id, usage, finish reason, requested tools. */
export function responseOf(
  message: unknown,
  generationInfo?: Record<string, unknown>,
): LlmResponse {
  const r: LlmResponse = {};
  if (!AIMessage.isInstance(message)) return r;
  const meta = (message.response_metadata ?? {}) as Record<string, unknown>;
  const model = str(meta.model_name) ?? str(meta.model);
  if (model !== undefined) r.model = model;
  const id = str(message.id);
  if (id !== undefined) r.id = id;
  const finish =
    str(meta.finish_reason) ??
    str(meta.stop_reason) ??
    str(generationInfo?.finish_reason) ??
    str(generationInfo?.stop_reason);
  const toolCalls = message.tool_calls ?? [];
  if (finish !== undefined) r.finishReasons = [finish];
  else r.finishReasons = [toolCalls.length > 0 ? 'tool_calls' : 'stop'];
  const usage = message.usage_metadata;
  if (usage !== undefined) {
    r.inputTokens = usage.input_tokens;
    r.outputTokens = usage.output_tokens;
  }
  r.toolCalls = toolCalls.map((c) =>
    c.id === undefined ? { name: c.name } : { name: c.name, id: c.id },
  );
  r.output = plainMessage(message);
  return r;
}
