import {
  type LlmCallHandle,
  type TraceToolCallOptions,
  traceLlmCall,
  traceToolCall,
} from '@agent-audit/instrumentation';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import type { BaseMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import { type Context, context, diag, type Span, trace } from '@opentelemetry/api';
import { isAudited } from './audited-spans.js';
import { type Deferred, deferred } from './deferred.js';
import { plainMessage, responseOf } from './model-call.js';
import { type AuditLangChainOptions, callOptions, checkOptions } from './options.js';
import { toolOutputOf } from './tool-output.js';

const log = diag.createComponentLogger({ namespace: '@agent-audit/langchain' });

/** A call whose span is open between a `handle…Start` and its `handle…End`/`…Error`. */
interface OpenCall {
  readonly span: Span;
  readonly end: Deferred<unknown>;
  readonly settled: Promise<unknown>;
  readonly llm?: LlmCallHandle;
}

/**
 * Records the tool calls and chat model calls of any LangChain runnable or LangGraph graph
 * (LangGraph's `ToolNode`, tools called as runnables) through LangChain's callbacks:
 * `execute_tool {name}` spans through `traceToolCall` (call id, input and output hashes, the
 * policy gate) and `chat {model}` spans through `traceLlmCall` (model, prompt hash, tokens,
 * finish reason, requested tool calls).
 *
 * The gate: the handler is awaited and raises (`awaitHandlers`, `raiseError`), so a refused
 * call throws from `handleToolStart`, before LangChain runs the tool body; `ToolNode` returns
 * the refusal to the model as an error tool message. `approval_required` is a refusal here
 * (a callback cannot pause a graph): use {@link auditToolCall} / {@link auditMiddleware} for
 * LangGraph interrupts. Errors of the handler's own recording are logged and never thrown.
 *
 * A callback cannot make its span the active OpenTelemetry context of the tool body: spans the
 * tool body starts itself are children of the enclosing span (the run), not of the tool span.
 * The handler's own spans are parented by LangChain's run tree (a model call inside a tool is
 * a child of that tool's span) and all carry the run's attributes.
 */
export class AgentAuditCallbackHandler extends BaseCallbackHandler {
  override name = 'agent_audit_callback_handler';
  override awaitHandlers = true;
  override raiseError = true;
  private readonly options: AuditLangChainOptions;
  /** LangChain run id → its parent run id, for the runs without a span (chains, graph nodes). */
  private readonly parents = new Map<string, string | undefined>();
  private readonly open = new Map<string, OpenCall>();

  constructor(options?: AuditLangChainOptions) {
    super();
    this.options = checkOptions(options);
  }

  override async handleChainStart(
    _chain: Serialized,
    _inputs: unknown,
    runId: string,
    parentRunId?: string,
  ): Promise<void> {
    this.parents.set(runId, parentRunId);
  }

  override async handleChainEnd(_outputs: unknown, runId: string): Promise<void> {
    this.parents.delete(runId);
  }

  override async handleChainError(_err: unknown, runId: string): Promise<void> {
    this.parents.delete(runId);
  }

  override async handleToolStart(
    tool: Serialized,
    input: string,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): Promise<void> {
    let options: TraceToolCallOptions;
    let parent: Context;
    try {
      if (isAudited(trace.getActiveSpan())) return;
      const toolName = str(runName) ?? serializedName(tool);
      options = {
        toolName,
        input: parseInput(input),
        ...callOptions(this.options, toolName, 'callback', metadata?.thread_id),
      };
      if (toolCallId !== undefined && toolCallId !== '') options.callId = toolCallId;
      parent = this.parentContext(parentRunId);
    } catch (err) {
      log.error('handleToolStart: preparing the tool span failed; the tool runs unrecorded', err);
      return;
    }
    const started = deferred<Span>();
    const end = deferred<unknown>();
    const settled = context.with(parent, () =>
      traceToolCall(options, (call) => {
        started.resolve(call.span);
        return end.promise;
      }),
    );
    // The refusal (or the policy's own error) rejects `settled` before the tool body starts:
    // thrown from here, LangChain does not call the tool.
    const span = await Promise.race([started.promise, settled.then(() => undefined)]);
    settled.catch(() => undefined);
    if (span !== undefined) this.open.set(runId, { span, end, settled });
  }

  override async handleToolEnd(output: unknown, runId: string): Promise<void> {
    await this.finish(runId, () => toolOutputOf(output), undefined);
  }

  override async handleToolError(err: unknown, runId: string): Promise<void> {
    await this.finish(runId, undefined, err);
  }

  override async handleChatModelStart(
    llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    this.startLlm(runId, parentRunId, () => ({
      ...llmOptions(llm, extraParams, metadata),
      prompt: (messages[0] ?? []).map(plainMessage),
    }));
  }

  /** Text-completion models (LangChain's `LLM`s): the prompts are hashed as given. */
  override async handleLLMStart(
    llm: Serialized,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    this.startLlm(runId, parentRunId, () => ({
      ...llmOptions(llm, extraParams, metadata),
      operation: 'text_completion',
      prompt: prompts,
    }));
  }

  private startLlm(
    runId: string,
    parentRunId: string | undefined,
    options: () => Parameters<typeof traceLlmCall>[0],
  ): void {
    if (this.options.recordModelCalls === false) return;
    try {
      if (isAudited(trace.getActiveSpan())) return;
      const parent = this.parentContext(parentRunId);
      const end = deferred<unknown>();
      let handle: LlmCallHandle | undefined;
      const settled = context.with(parent, () =>
        traceLlmCall(options(), (call) => {
          handle = call;
          return end.promise;
        }),
      );
      settled.catch(() => undefined);
      // traceLlmCall calls its function synchronously once the span started.
      if (handle !== undefined) {
        this.open.set(runId, { span: handle.span, end, settled, llm: handle });
      }
    } catch (err) {
      log.error('recording the model call failed', err);
    }
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const call = this.open.get(runId);
    try {
      const generation = output.generations?.[0]?.[0] as
        | { message?: unknown; generationInfo?: Record<string, unknown> }
        | undefined;
      const response = responseOf(generation?.message, generation?.generationInfo);
      if (
        generation?.message === undefined &&
        typeof (generation as { text?: unknown })?.text === 'string'
      ) {
        // A text completion: its text is the output.
        response.output = (generation as { text: string }).text;
        const finish = generation?.generationInfo?.finish_reason;
        if (typeof finish === 'string') response.finishReasons = [finish];
      }
      const usage = (output.llmOutput?.tokenUsage ?? undefined) as
        | { promptTokens?: number; completionTokens?: number }
        | undefined;
      response.inputTokens ??= usage?.promptTokens;
      response.outputTokens ??= usage?.completionTokens;
      call?.llm?.setResponse(response);
    } catch (err) {
      log.error('handleLLMEnd: recording the response failed', err);
    }
    await this.finish(runId, () => undefined, undefined);
  }

  override async handleLLMError(err: unknown, runId: string): Promise<void> {
    await this.finish(runId, undefined, err);
  }

  /** Ends the open call `runId` (its span ends when `traceToolCall`/`traceLlmCall` return). */
  private async finish(
    runId: string,
    result: (() => unknown) | undefined,
    err: unknown,
  ): Promise<void> {
    const call = this.open.get(runId);
    if (call === undefined) return;
    this.open.delete(runId);
    try {
      if (result === undefined) call.end.reject(err);
      else call.end.resolve(result());
    } catch (e) {
      log.error('recording the call result failed', e);
      call.end.resolve(undefined);
    }
    await call.settled.catch(() => undefined);
  }

  /** The active context with the nearest ancestor run's span (a tool or model call) as parent. */
  private parentContext(parentRunId: string | undefined): Context {
    const active = context.active();
    let id = parentRunId;
    for (let depth = 0; id !== undefined && depth < 1000; depth += 1) {
      const call = this.open.get(id);
      if (call !== undefined) return trace.setSpan(active, call.span);
      id = this.parents.get(id);
    }
    return active;
  }
}

function serializedName(s: Serialized): string {
  const named = (s as { name?: unknown }).name;
  if (typeof named === 'string' && named !== '') return named;
  const id = (s as { id?: unknown }).id;
  const last = Array.isArray(id) ? id[id.length - 1] : undefined;
  return typeof last === 'string' && last !== '' ? last : 'tool';
}

/** LangChain hands tool input to callbacks as JSON text; the hash covers the arguments. */
function parseInput(input: string): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}

function llmOptions(
  llm: Serialized,
  extraParams: Record<string, unknown> | undefined,
  metadata: Record<string, unknown> | undefined,
): { model: string; provider?: string; temperature?: number; maxTokens?: number } {
  const inv = (extraParams?.invocation_params ?? {}) as Record<string, unknown>;
  const model =
    str(metadata?.ls_model_name) ??
    str(inv.model) ??
    str(inv.model_name) ??
    str(metadata?.ls_provider) ??
    serializedName(llm);
  const out: { model: string; provider?: string; temperature?: number; maxTokens?: number } = {
    model,
  };
  const provider = str(metadata?.ls_provider);
  if (provider !== undefined) out.provider = provider;
  if (typeof metadata?.ls_temperature === 'number') out.temperature = metadata.ls_temperature;
  if (typeof metadata?.ls_max_tokens === 'number') out.maxTokens = metadata.ls_max_tokens;
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
