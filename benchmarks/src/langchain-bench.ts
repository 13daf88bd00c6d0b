import { runWorkflow } from '@agent-audit/instrumentation';
import { auditMiddleware } from '@agent-audit/langchain';
import { AuditSpanProcessor } from '@agent-audit/sdk';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { createAgent, createMiddleware } from 'langchain';
import { z } from 'zod';
import { median } from './bench-support.js';

// issue 12: langchain_tool_overhead_ratio = one agent turn with a tool call through LangChain's
// createAgent (fake model → one tool call → the tool → fake model's answer), with
// auditMiddleware() (the tool call through traceToolCall, both model calls through
// traceLlmCall, the SDK's AuditSpanProcessor, a store that discards) / the same turn on the
// same kind of agent without the middleware. Same process; the arms alternate turn by turn
// (order rotated); every turn is timed on its own, and the p50 and p99 of each arm's turns
// give the two ratios. A third arm with a pass-through middleware (the same two hooks, calling
// straight through) splits LangChain's own cost of running middleware from ours. The framework's own work (graph steps, message objects, zod parsing)
// is in both arms: this is what an audited tool call costs a LangChain user, per turn.

const TURNS_PER_ROUND = 100;
const ROUNDS = 10;
const WARMUP_ROUNDS = 2;

const RESOLVED = Promise.resolve({ seq: 0, hash: '' });
const discardingStore = { append: () => RESOLVED, flushSync: () => undefined };

type Arm = 'audited' | 'toolsOnly' | 'bare' | 'passThrough';

/** The same two hooks doing nothing: LangChain's own cost of having a middleware at all. */
const passThrough = createMiddleware({
  name: 'PassThrough',
  wrapToolCall: (request, handler) => handler(request),
  wrapModelCall: (request, handler) => handler(request),
});

const MIDDLEWARE = {
  audited: () => [auditMiddleware()],
  // Only the tool calls audited (`recordModelCalls: false`): the tool call's own share.
  toolsOnly: () => [auditMiddleware({ recordModelCalls: false })],
  bare: () => [],
  passThrough: () => [passThrough],
};

function agentFor(arm: Arm, turns: number) {
  const model = fakeModel();
  for (let i = 0; i < turns; i++) {
    model
      .respond(
        new AIMessage({
          content: '',
          tool_calls: [
            { name: 'search', args: { query: 'refund status', page: 1 }, id: `call_${i}` },
          ],
        }),
      )
      .respond(new AIMessage('done'));
  }
  const search = tool(async ({ query }) => `3 results for ${query}`, {
    name: 'search',
    description: 'Searches',
    schema: z.object({ query: z.string(), page: z.number() }),
  });
  return createAgent({
    model,
    tools: [search],
    middleware: MIDDLEWARE[arm](),
  });
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * q) - 1))]!;
};

export async function runLangChainBench(): Promise<Record<string, number>> {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  const hadContext = context.setGlobalContextManager(contextManager);
  const provider = new TracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new AuditSpanProcessor({ sink: discardingStore })],
  });
  trace.disable();
  trace.setGlobalTracerProvider(provider);

  const totalTurns = (WARMUP_ROUNDS + ROUNDS) * TURNS_PER_ROUND;
  const agents = {
    audited: agentFor('audited', totalTurns),
    bare: agentFor('bare', totalTurns),
    passThrough: agentFor('passThrough', totalTurns),
    toolsOnly: agentFor('toolsOnly', totalTurns),
  };
  const input = { messages: [new HumanMessage('refund status?')] };
  const runOptions = {
    agentId: 'bench-agent',
    triggerPrincipal: 'user:bench',
    credentialRef: 'cred-bench',
  };

  const arms: Arm[] = ['bare', 'audited', 'passThrough', 'toolsOnly'];
  const samples: Record<Arm, number[]> = { audited: [], bare: [], passThrough: [], toolsOnly: [] };
  const roundRatios: number[] = [];
  // Turn by turn, the arms take turns (order rotated each turn): load from other tenants of
  // this shared machine comes and goes within milliseconds, and hits all arms alike this way.
  // The run span is one per round (as an audited agent runs its turns inside a run); the
  // unaudited arms run in the same context and make no spans.
  async function round(record: boolean): Promise<void> {
    const before = { audited: samples.audited.length, bare: samples.bare.length };
    await runWorkflow(runOptions, async () => {
      for (let i = 0; i < TURNS_PER_ROUND; i++) {
        for (let k = 0; k < arms.length; k++) {
          const arm = arms[(i + k) % arms.length]!;
          const t0 = process.hrtime.bigint();
          await agents[arm].invoke(input);
          if (record) samples[arm].push(Number(process.hrtime.bigint() - t0));
        }
      }
    });
    await provider.forceFlush();
    if (record) {
      roundRatios.push(
        median(samples.audited.slice(before.audited)) / median(samples.bare.slice(before.bare)),
      );
    }
  }
  for (let i = 0; i < WARMUP_ROUNDS; i++) await round(false);
  for (let r = 0; r < ROUNDS; r++) await round(true);

  await provider.shutdown();
  trace.disable();
  if (hadContext) context.disable();

  const p50 = {
    audited: quantile(samples.audited, 0.5),
    bare: quantile(samples.bare, 0.5),
    passThrough: quantile(samples.passThrough, 0.5),
    toolsOnly: quantile(samples.toolsOnly, 0.5),
  };
  const p99 = { audited: quantile(samples.audited, 0.99), bare: quantile(samples.bare, 0.99) };
  return {
    langchain_tool_overhead_ratio: Number((p50.audited / p50.bare).toFixed(3)),
    langchain_tool_overhead_ratio_p99: Number((p99.audited / p99.bare).toFixed(3)),
    langchain_tool_overhead_round_median_ratio: Number(median(roundRatios).toFixed(3)),
    // audited / a middleware whose two hooks only call through: our own share of the overhead.
    langchain_tool_overhead_vs_pass_through_ratio: Number(
      (p50.audited / p50.passThrough).toFixed(3),
    ),
    langchain_tools_only_overhead_ratio: Number((p50.toolsOnly / p50.bare).toFixed(3)),
    langchain_turn_audited_p50_us: Number((p50.audited / 1000).toFixed(1)),
    langchain_turn_bare_p50_us: Number((p50.bare / 1000).toFixed(1)),
    langchain_turn_audited_p99_us: Number((p99.audited / 1000).toFixed(1)),
    langchain_turn_bare_p99_us: Number((p99.bare / 1000).toFixed(1)),
  };
}
