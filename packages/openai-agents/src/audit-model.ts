import { type LlmResponse, traceLlmCall } from '@agent-audit/instrumentation';
import {
  getCurrentSpan,
  type Model,
  type ModelProvider,
  type ModelRequest,
  type ModelResponse,
  type ModelRetryAdvice,
  type ModelRetryAdviceRequest,
  type StreamEvent,
} from '@openai/agents';
import { context } from '@opentelemetry/api';
import { linkedContext, sdkSpanKey } from './span-links.js';

const PROVIDER = 'openai';

export interface AuditModelOptions {
  /** `gen_ai.request.model`. The default value is the name the provider resolved, else `unknown`. */
  modelName?: string;
  /** `gen_ai.provider.name`. The default value is `openai`. */
  provider?: string;
}

interface ResponseView {
  id?: string | undefined;
  usage?: { inputTokens?: number; outputTokens?: number } | undefined;
  output?: readonly unknown[] | undefined;
}

function describeResponse(r: ResponseView): LlmResponse {
  const toolCalls: Array<{ name: string; id?: string }> = [];
  for (const item of r.output ?? []) {
    const i = item as { type?: unknown; name?: unknown; callId?: unknown };
    if (i.type === 'function_call' && typeof i.name === 'string') {
      toolCalls.push(
        typeof i.callId === 'string' ? { name: i.name, id: i.callId } : { name: i.name },
      );
    }
  }
  return {
    ...(typeof r.id === 'string' && r.id !== '' ? { id: r.id } : {}),
    ...(typeof r.usage?.inputTokens === 'number' ? { inputTokens: r.usage.inputTokens } : {}),
    ...(typeof r.usage?.outputTokens === 'number' ? { outputTokens: r.usage.outputTokens } : {}),
    finishReasons: [toolCalls.length > 0 ? 'tool_calls' : 'stop'],
    toolCalls,
    output: r.output ?? [],
  };
}

/**
 * A `Model` that records each call of the model it wraps as an LLM call of the run
 * (`traceLlmCall`: model, tokens, finish reason, prompt and system prompt hashes, the tool
 * calls it requested), under the SDK's current agent turn. Streamed calls end their record
 * when the stream ends.
 */
export class AuditedModel implements Model {
  readonly #inner: Model;
  readonly #modelName: string;
  readonly #provider: string;

  constructor(inner: Model, options: AuditModelOptions = {}) {
    this.#inner = inner;
    this.#modelName = options.modelName ?? 'unknown';
    this.#provider = options.provider ?? PROVIDER;
  }

  get inner(): Model {
    return this.#inner;
  }

  get supportsPromptModelSelection(): boolean | undefined {
    return this.#inner.supportsPromptModelSelection;
  }

  /** The wrapped model's retry advice (the SDK's retry policy asks for it). */
  getRetryAdvice(
    args: ModelRetryAdviceRequest,
  ): Promise<ModelRetryAdvice | undefined> | ModelRetryAdvice | undefined {
    return this.#inner.getRetryAdvice?.(args);
  }

  #parent() {
    return linkedContext(sdkSpanKey(getCurrentSpan())) ?? context.active();
  }

  #options(request: ModelRequest) {
    return {
      model: this.#modelName,
      provider: this.#provider,
      prompt: request.input,
      ...(request.systemInstructions === undefined
        ? {}
        : { systemPrompt: request.systemInstructions }),
    };
  }

  getResponse(request: ModelRequest): Promise<ModelResponse> {
    return context.with(this.#parent(), () =>
      traceLlmCall(this.#options(request), async (call) => {
        const response = await this.#inner.getResponse(request);
        call.setResponse(describeResponse(response));
        return response;
      }),
    );
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
    let settle: (r: ResponseView | Error) => void = () => undefined;
    const outcome = new Promise<ResponseView | Error>((resolve) => {
      settle = resolve;
    });
    const traced = context.with(this.#parent(), () =>
      traceLlmCall(this.#options(request), async (call) => {
        const r = await outcome;
        if (r instanceof Error) throw r;
        call.setResponse(describeResponse(r));
      }),
    );
    traced.catch(() => undefined);
    let last: ResponseView = {};
    try {
      for await (const event of this.#inner.getStreamedResponse(request)) {
        if (event.type === 'response_done') last = event.response as ResponseView;
        yield event;
      }
      settle(last);
    } catch (err) {
      settle(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      settle(new Error('the stream was abandoned before it ended'));
      await traced.catch(() => undefined);
    }
  }
}

/** A `ModelProvider` whose models are {@link AuditedModel}s (for agents that name their model). */
export class AuditModelProvider implements ModelProvider {
  readonly #inner: ModelProvider;
  readonly #provider: string | undefined;

  constructor(inner: ModelProvider, options: { provider?: string } = {}) {
    this.#inner = inner;
    this.#provider = options.provider;
  }

  async getModel(modelName?: string): Promise<Model> {
    const model = await this.#inner.getModel(modelName);
    return model instanceof AuditedModel
      ? model
      : new AuditedModel(model, {
          modelName: modelName ?? 'default',
          ...(this.#provider === undefined ? {} : { provider: this.#provider }),
        });
  }
}
