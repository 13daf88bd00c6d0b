import { type LlmCallHandle, type LlmResponse, traceLlmCall } from '@agent-audit/instrumentation';
import { configurationError } from './configuration.js';

/** Options of {@link auditModel} and {@link auditMiddleware}. */
export interface AuditModelOptions {
  /** `gen_ai.provider.name`. The default value is the model's `provider` (e.g. `openai.chat`). */
  provider?: string;
  /** `gen_ai.prompt.name`: the prompt template's name. */
  promptName?: string;
  /** `prompt.version`: the prompt template's version. */
  promptVersion?: string;
  /** `gen_ai.conversation.id`. */
  conversationId?: string;
  /** Record the messages raw on the LLM span. The default value is the hooks' (false). */
  captureContent?: boolean;
}

/**
 * The part of an AI SDK language model (specification v3 in ai@6, v4 in ai@7; v2 reads the
 * same) this package reads. Kept structural so one build serves both majors.
 */
export interface LanguageModelLike {
  readonly specificationVersion: string;
  readonly provider: string;
  readonly modelId: string;
  doGenerate(params: never): PromiseLike<unknown>;
  doStream(params: never): PromiseLike<unknown>;
}

interface CallParams {
  prompt?: unknown;
  maxOutputTokens?: unknown;
  temperature?: unknown;
}

interface WrapArgs {
  doGenerate: () => PromiseLike<unknown>;
  doStream: () => PromiseLike<unknown>;
  params: unknown;
  model: LanguageModelLike;
}

/**
 * A language-model middleware for the AI SDK's `wrapLanguageModel` (ai@6 and ai@7: the
 * `wrapGenerate` / `wrapStream` shape is the same in both).
 */
export interface AuditMiddleware {
  readonly specificationVersion: 'v3';
  wrapGenerate(args: WrapArgs): Promise<unknown>;
  wrapStream(args: WrapArgs): Promise<unknown>;
}

const KNOWN_OPTIONS = new Set([
  'provider',
  'promptName',
  'promptVersion',
  'conversationId',
  'captureContent',
]);

/**
 * The middleware behind {@link auditModel}, for `wrapLanguageModel({ model, middleware })`:
 * each model call (`doGenerate`, and `doStream` until its stream ends) runs as one LLM call
 * through `traceLlmCall`: model, provider, `prompt.hash` / `prompt.system_hash`, token usage,
 * finish reason, `output.hash`, and the tool calls the model requested (`llm.requested_tools`,
 * `llm.requested_tool_call_ids`: the ids the tool spans carry as `gen_ai.tool.call.id`).
 */
export function auditMiddleware(options: AuditModelOptions = {}): AuditMiddleware {
  validate(options);
  const o = { ...options };
  return {
    specificationVersion: 'v3',
    wrapGenerate: ({ doGenerate, params, model }) =>
      traceLlmCall(llmOptions(o, model, params), async (call) => {
        const result = await doGenerate();
        call.setResponse(generateResponse(result));
        return result;
      }),
    wrapStream: ({ doStream, params, model }) => traceStream(o, model, params, doStream),
  };
}

/**
 * Wraps an AI SDK language model (ai@6 or ai@7) so that every call it answers is recorded as
 * an audited LLM call of the active run (see {@link auditMiddleware}). The same as
 * `wrapLanguageModel({ model, middleware: auditMiddleware(options) })`, without importing the
 * `ai` package: the returned model keeps the given model's specification version.
 */
export function auditModel<MODEL extends LanguageModelLike>(
  model: MODEL,
  options: AuditModelOptions = {},
): MODEL {
  if (
    model === null ||
    typeof model !== 'object' ||
    typeof model.doGenerate !== 'function' ||
    typeof model.doStream !== 'function'
  ) {
    throw configurationError(
      'model',
      'an AI SDK language model (with doGenerate and doStream)',
      model === null ? 'null' : typeof model,
    );
  }
  const middleware = auditMiddleware(options);
  const call = (kind: 'doGenerate' | 'doStream', params: unknown) => {
    const args: WrapArgs = {
      doGenerate: () => model.doGenerate(params as never),
      doStream: () => model.doStream(params as never),
      params,
      model,
    };
    return kind === 'doGenerate' ? middleware.wrapGenerate(args) : middleware.wrapStream(args);
  };
  const wrapped = {
    specificationVersion: model.specificationVersion,
    provider: model.provider,
    modelId: model.modelId,
    get supportedUrls() {
      return (model as { supportedUrls?: unknown }).supportedUrls;
    },
    doGenerate: (params: unknown) => call('doGenerate', params),
    doStream: (params: unknown) => call('doStream', params),
  };
  return wrapped as unknown as MODEL;
}

function llmOptions(o: AuditModelOptions, model: LanguageModelLike, params: unknown) {
  const p = (params ?? {}) as CallParams;
  const { system, messages } = splitPrompt(p.prompt);
  return {
    model: String(model.modelId),
    provider: o.provider ?? (typeof model.provider === 'string' ? model.provider : undefined),
    prompt: messages,
    systemPrompt: system,
    promptName: o.promptName,
    promptVersion: o.promptVersion,
    conversationId: o.conversationId,
    maxTokens: finite(p.maxOutputTokens),
    temperature: finite(p.temperature),
    captureContent: o.captureContent,
  };
}

/** The AI SDK prompt is one message list with the system messages in it; hashed apart. */
function splitPrompt(prompt: unknown): { system?: unknown[]; messages?: unknown } {
  if (!Array.isArray(prompt)) return { messages: prompt };
  const system = prompt.filter((m) => (m as { role?: unknown })?.role === 'system');
  const messages = prompt.filter((m) => (m as { role?: unknown })?.role !== 'system');
  return { system: system.length > 0 ? system : undefined, messages };
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

interface Usage {
  inputTokens?: unknown;
  outputTokens?: unknown;
}

/** Token counts: `{ total }` objects in specification v3/v4, plain numbers in v2. */
function tokens(v: unknown): number | undefined {
  if (typeof v === 'number') return finite(v);
  if (v !== null && typeof v === 'object') return finite((v as { total?: unknown }).total);
  return undefined;
}

/** `{ unified, raw }` in specification v3/v4, a string in v2. */
function finishReason(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (v !== null && typeof v === 'object') {
    const unified = (v as { unified?: unknown }).unified;
    if (typeof unified === 'string') return [unified];
  }
  return undefined;
}

interface ContentPart {
  type?: unknown;
  toolName?: unknown;
  toolCallId?: unknown;
  text?: unknown;
  delta?: unknown;
}

function toolCallsOf(content: ContentPart[]): Array<{ name: string; id?: string }> {
  const calls: Array<{ name: string; id?: string }> = [];
  for (const part of content) {
    if (part?.type !== 'tool-call') continue;
    calls.push({
      name: String(part.toolName),
      id: typeof part.toolCallId === 'string' ? part.toolCallId : undefined,
    });
  }
  return calls;
}

function generateResponse(result: unknown): LlmResponse {
  const r = (result ?? {}) as {
    content?: unknown;
    usage?: Usage;
    finishReason?: unknown;
    response?: { id?: unknown; modelId?: unknown };
  };
  const content = Array.isArray(r.content) ? (r.content as ContentPart[]) : [];
  return {
    model: typeof r.response?.modelId === 'string' ? r.response.modelId : undefined,
    id: typeof r.response?.id === 'string' ? r.response.id : undefined,
    finishReasons: finishReason(r.finishReason),
    inputTokens: tokens(r.usage?.inputTokens),
    outputTokens: tokens(r.usage?.outputTokens),
    toolCalls: toolCallsOf(content),
    output: content,
  };
}

/**
 * A streamed model call: the LLM span stays open until the stream ends (read to the end,
 * cancelled or failed), observing its parts on the way; the caller gets the stream at once.
 */
function traceStream(
  o: AuditModelOptions,
  model: LanguageModelLike,
  params: unknown,
  doStream: () => PromiseLike<unknown>,
): Promise<unknown> {
  return new Promise((resolveStart, rejectStart) => {
    let started = false;
    traceLlmCall(llmOptions(o, model, params), async (call) => {
      const result = (await doStream()) as { stream?: unknown };
      const source = result?.stream;
      if (!(source instanceof ReadableStream)) {
        started = true;
        resolveStart(result);
        return;
      }
      const observed = observeStream(source, call);
      started = true;
      resolveStart({ ...result, stream: observed.stream });
      await observed.done;
    }).catch((err: unknown) => {
      // Before the stream started this is the model's own error: the caller's. After, the
      // stream itself delivered it to its reader; the span recorded it.
      if (!started) rejectStart(err);
    });
  });
}

function observeStream(
  source: ReadableStream<unknown>,
  call: LlmCallHandle,
): { stream: ReadableStream<unknown>; done: Promise<void> } {
  const content: ContentPart[] = [];
  let text = '';
  const response: LlmResponse = {};
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err?: unknown) => {
      if (text !== '') content.unshift({ type: 'text', text });
      call.setResponse({ ...response, toolCalls: toolCallsOf(content), output: content });
      if (err === undefined) resolve();
      else reject(err);
    };
  });
  const observe = (chunk: unknown) => {
    const part = (chunk ?? {}) as ContentPart & {
      usage?: Usage;
      finishReason?: unknown;
      id?: unknown;
      modelId?: unknown;
      error?: unknown;
    };
    switch (part.type) {
      case 'text-delta':
        if (typeof part.delta === 'string') text += part.delta;
        break;
      case 'tool-call':
        content.push(part);
        break;
      case 'response-metadata':
        if (typeof part.id === 'string') response.id = part.id;
        if (typeof part.modelId === 'string') response.model = part.modelId;
        break;
      case 'finish':
        response.finishReasons = finishReason(part.finishReason);
        response.inputTokens = tokens(part.usage?.inputTokens);
        response.outputTokens = tokens(part.usage?.outputTokens);
        break;
    }
  };
  const reader = source.getReader();
  let finished = false;
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    settle(err);
  };
  const stream = new ReadableStream<unknown>({
    async pull(controller) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        controller.error(err);
        finish(err);
        return;
      }
      if (next.done) {
        controller.close();
        finish();
        return;
      }
      try {
        observe(next.value);
      } catch {
        // Observing never breaks the model call it observes.
      }
      controller.enqueue(next.value);
    },
    async cancel(reason) {
      finish();
      await reader.cancel(reason);
    },
  });
  return { stream, done };
}

function validate(options: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw configurationError('options', 'an object', options === null ? 'null' : typeof options);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw configurationError(`options.${key}`, `one of ${[...KNOWN_OPTIONS].join(', ')}`, key);
    }
  }
}
