import { auditModel, auditTools } from '@agent-audit/ai-sdk';
import { runWorkflow } from '@agent-audit/instrumentation';
import { AuditSpanProcessor } from '@agent-audit/sdk';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { generateText, jsonSchema, stepCountIs, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { DiscardingExporter, median, oneKbInput } from './bench-support.js';

// issue 11: ai_sdk_tool_overhead_ratio = one AI SDK tool call made through `generateText` with
// the AI SDK's own mock model (ai@6, `ai/test`), audited / the same call unaudited.
//
// Both arms make the identical call: a two-step `generateText` (the model asks for one tool call
// with a ~1 KB JSON input, the tool answers, the model answers with text), with the AI SDK's own
// OpenTelemetry on (`experimental_telemetry: { isEnabled: true }`: its ai.generateText,
// ai.generateText.doGenerate x2 and ai.toolCall spans) in both.
// - unaudited: the plain tools and model, on the usual OTel setup such a user has: a
//   TracerProvider with a BatchSpanProcessor feeding an exporter that keeps nothing.
// - audited: `auditTools` + `auditModel`, inside a `runWorkflow` run (one per round, as an agent
//   serving requests), on a TracerProvider with the AuditSpanProcessor whose store discards
//   what it is given (as in tool_call_overhead_ratio: the SDK's work, not the disk's). It adds
//   the audit tool span (input and output hashes, the decision records of `policy: none`), two
//   LLM spans (prompt and output hashes, usage) and the audit processor over every span,
//   framework spans included.
// - tools only (`ai_sdk_tools_only_overhead_ratio`): the audited arm without `auditModel`, which
//   splits the overhead between the audited tool call and the two LLM spans;
// - processor only (`ai_sdk_processor_only_overhead_ratio`): plain tools and model in a run on
//   the audited provider: what the AuditSpanProcessor costs on the AI SDK's own spans alone.
// Same process, same context manager, rounds interleaved with the order rotated; per round the
// p50 and p99 of the per-call latency; the ratios are the medians of the per-round ratios (a
// shared 2-core machine's drift hits every arm alike).

const CALLS_PER_ROUND = 300;
const ROUNDS = 15;
const WARMUP_ROUNDS = 3;

const RESOLVED = Promise.resolve({ seq: 0, hash: '' });
/** A store that keeps nothing: the ratio measures the SDK's own work, not the disk. */
const discardingStore = {
  append: () => RESOLVED,
  flushSync: () => undefined,
};

const usage = {
  inputTokens: { total: 120, noCache: 120, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 20, text: 20, reasoning: undefined },
};

/** A mock model that alternates: a tool call with `input`, then a text answer. */
function benchModel(input: unknown): MockLanguageModelV3 {
  const args = JSON.stringify(input);
  let n = 0;
  return new MockLanguageModelV3({
    doGenerate: async () => {
      const toolStep = n++ % 2 === 0;
      return {
        content: toolStep
          ? [{ type: 'tool-call', toolCallId: `call-${n}`, toolName: 'search', input: args }]
          : [{ type: 'text', text: 'found it' }],
        finishReason: toolStep
          ? { unified: 'tool-calls', raw: 'tool_calls' }
          : { unified: 'stop', raw: 'stop' },
        usage,
        warnings: [],
        response: { id: `resp-${n}`, modelId: 'bench-model', timestamp: new Date(0) },
      };
    },
  });
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)]!;
}

export async function runAiSdkBench(): Promise<Record<string, number>> {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  const hadContext = context.setGlobalContextManager(contextManager);

  const auditedProvider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new AuditSpanProcessor({ sink: discardingStore })],
  });
  const plainProvider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor({ exporter: new DiscardingExporter() })],
  });
  const useGlobal = (provider: TracerProvider) => {
    trace.disable();
    trace.setGlobalTracerProvider(provider);
  };

  const input = oneKbInput();
  const tools = {
    search: tool({
      description: 'Searches the orders',
      inputSchema: jsonSchema<Record<string, unknown>>({ type: 'object' }),
      execute: async () => ({ ok: true }),
    }),
  };
  const auditedTools = auditTools(tools);
  const plainModel = benchModel(input);
  const auditedModel = auditModel(benchModel(input));
  const call = (model: MockLanguageModelV3, toolSet: typeof tools) =>
    generateText({
      model,
      tools: toolSet,
      prompt: 'Find the order.',
      stopWhen: stepCountIs(3),
      experimental_telemetry: { isEnabled: true },
    });

  async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
    const ns = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await fn();
      ns[i] = Number(process.hrtime.bigint() - t0);
    }
    return ns;
  }
  async function plainRound(n: number): Promise<number[]> {
    useGlobal(plainProvider);
    const ns = await timed(n, () => call(plainModel, tools));
    await plainProvider.forceFlush();
    return ns;
  }
  async function auditedRound(
    n: number,
    model = auditedModel,
    toolSet: typeof tools = auditedTools,
  ): Promise<number[]> {
    useGlobal(auditedProvider);
    const ns = await runWorkflow(
      {
        agentId: 'bench-agent',
        agentName: 'bench',
        triggerPrincipal: 'user:bench',
        credentialRef: 'cred-bench',
        input: { task: 'bench' },
      },
      () => timed(n, () => call(model, toolSet)),
    );
    await auditedProvider.forceFlush();
    return ns;
  }

  const toolsOnlyModel = benchModel(input);
  for (let i = 0; i < WARMUP_ROUNDS; i++) {
    await plainRound(CALLS_PER_ROUND);
    await auditedRound(CALLS_PER_ROUND);
    await auditedRound(CALLS_PER_ROUND, toolsOnlyModel);
    await auditedRound(CALLS_PER_ROUND, plainModel, tools);
  }
  const p50 = {
    audited: [] as number[],
    plain: [] as number[],
    toolsOnly: [] as number[],
    processorOnly: [] as number[],
  };
  const p99 = { audited: [] as number[], plain: [] as number[] };
  const ratios50: number[] = [];
  const ratios99: number[] = [];
  const toolsOnlyRatios: number[] = [];
  const processorOnlyRatios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const arms = [
      async () => {
        const ns = await plainRound(CALLS_PER_ROUND);
        p50.plain.push(percentile(ns, 0.5));
        p99.plain.push(percentile(ns, 0.99));
      },
      async () => {
        const ns = await auditedRound(CALLS_PER_ROUND);
        p50.audited.push(percentile(ns, 0.5));
        p99.audited.push(percentile(ns, 0.99));
      },
      async () => {
        const ns = await auditedRound(CALLS_PER_ROUND, toolsOnlyModel);
        p50.toolsOnly.push(percentile(ns, 0.5));
      },
      async () => {
        const ns = await auditedRound(CALLS_PER_ROUND, plainModel, tools);
        p50.processorOnly.push(percentile(ns, 0.5));
      },
    ];
    for (let k = 0; k < arms.length; k++) await arms[(r + k) % arms.length]!();
    ratios50.push(p50.audited[r]! / p50.plain[r]!);
    ratios99.push(p99.audited[r]! / p99.plain[r]!);
    toolsOnlyRatios.push(p50.toolsOnly[r]! / p50.plain[r]!);
    processorOnlyRatios.push(p50.processorOnly[r]! / p50.plain[r]!);
  }

  await auditedProvider.shutdown();
  await plainProvider.shutdown();
  trace.disable();
  contextManager.disable();
  if (hadContext) context.disable();

  const us = (ns: number) => Number((ns / 1000).toFixed(1));
  return {
    ai_sdk_tool_overhead_ratio: Number(median(ratios50).toFixed(3)),
    ai_sdk_tool_overhead_ratio_p99: Number(median(ratios99).toFixed(3)),
    ai_sdk_tools_only_overhead_ratio: Number(median(toolsOnlyRatios).toFixed(3)),
    ai_sdk_processor_only_overhead_ratio: Number(median(processorOnlyRatios).toFixed(3)),
    ai_sdk_generate_audited_p50_us: us(median(p50.audited)),
    ai_sdk_generate_unaudited_p50_us: us(median(p50.plain)),
    ai_sdk_generate_audited_p99_us: us(median(p99.audited)),
    ai_sdk_generate_unaudited_p99_us: us(median(p99.plain)),
  };
}
