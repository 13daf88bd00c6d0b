/**
 * issue 12: openai_agents_tool_overhead_ratio = one tool call through the OpenAI Agents SDK's
 * `run()` with agent-audit / the same without it.
 *
 * Each measured call is a whole `run()` of one agent whose scripted model (this file's
 * `ToolThenAnswerModel`, the SDK's `Model` interface, no network) asks for one tool call with
 * ~1 KB of arguments and then answers: two model calls, one tool call, the SDK's own tracing on.
 * - `plain`: the agent as users write it; the SDK's tracing on with no processor (its OpenAI
 *   exporter removed: no network).
 * - `audited`: the same agent through `auditAgent`, the SDK's traces through
 *   `AuditTraceProcessor`, each `run()` inside a `runWorkflow`, under the SDK's
 *   `AuditSpanProcessor` with a store that discards (the store's own cost is store-bench's).
 * - `tools_only`: `auditAgent(…, { auditModels: false })` inside `runWorkflow`, no trace
 *   processor: the policy gate and the tool call record alone.
 * Arms alternate round by round (rotating order) in one process; figures are p50 and p99 over
 * every call of every round, the median of the per-round p50 ratios, and the process CPU per
 * call (median over rounds; on a shared, loaded machine the steadier figure).
 *
 * What the ratio prices: the model answers at once, so a plain run is ~1 ms of SDK work, and
 * the audited run adds its records (run span, agent span, tool call, two model calls, their
 * hashes and redaction). With a real model (hundreds of ms per call) the same absolute cost is
 * a fraction of a percent; the figures report the absolute µs for that reason.
 *
 * `openai@7` under `@openai/agents` needs Node >= 22: run from `pnpm bench` (Node 20), this
 * suite runs itself in a child under the pinned Node 22 (`tools/node/bin/node`, installed by
 * `tools/node/install.mjs`) and reads its figures from the child's last stdout line.
 */
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median } from './bench-support.js';

type Figures = Record<string, number | string>;

const ROUNDS = 12;
const WARMUP_ROUNDS = 2;
const CALLS_PER_ROUND = 150;
const ARM_FLAG = '--openai-agents-arm';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function runOpenAiAgentsBench(): Promise<Figures> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return measure();
  execFileSync(process.execPath, [`${REPO_ROOT}tools/node/install.mjs`, '--quiet'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const node22 = `${REPO_ROOT}tools/node/bin/node`;
  const { stdout } = await promisify(execFile)(node22, [fileURLToPath(import.meta.url), ARM_FLAG], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Figures;
  } catch {
    throw new Error(
      `bench openai-agents: the Node 22 child printed no figures (last line: ${JSON.stringify(last)})`,
    );
  }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * q) - 1))]!;
}

async function measure(): Promise<Figures> {
  const [{ runWorkflow }, oa, agents, testing, { z }, otel, ctxHooks, sdkTrace, sdk] =
    await Promise.all([
      import('@agent-audit/instrumentation'),
      import('@agent-audit/openai-agents'),
      import('@openai/agents'),
      import('@openai/agents/testing'),
      import('zod'),
      import('@opentelemetry/api'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/sdk-trace'),
      import('@agent-audit/sdk'),
    ]);
  const { Agent, Usage, run, setTraceProcessors, setTracingDisabled, tool } = agents;
  const { assistantMessage, functionCall } = testing;

  otel.context.setGlobalContextManager(new ctxHooks.AsyncLocalStorageContextManager().enable());
  const RESOLVED = Promise.resolve({ seq: 0, hash: '' });
  const provider = new sdkTrace.TracerProvider({
    sampler: new sdkTrace.AlwaysOnSampler(),
    spanProcessors: [
      new sdk.AuditSpanProcessor({ sink: { append: () => RESOLVED, flushSync: () => undefined } }),
    ],
  });
  otel.trace.setGlobalTracerProvider(provider);
  setTracingDisabled(false);
  const processor = new oa.AuditTraceProcessor();

  const filters = 'x'.repeat(960);
  let callSeq = 0;
  /** Asks for one tool call, then answers once the tool's result is in the input. */
  class ToolThenAnswerModel {
    async getResponse(request: { input: unknown }) {
      const items = Array.isArray(request.input) ? request.input : [];
      const answered = items.some((i: { type?: string }) => i?.type === 'function_call_result');
      return {
        usage: new Usage(),
        output: answered
          ? [assistantMessage('done')]
          : [
              functionCall(
                'search',
                { query: 'refund status for order', page: 1, filters },
                { callId: `call_${++callSeq}` },
              ),
            ],
      };
    }
    // biome-ignore lint/correctness/useYield: streaming is not measured here
    async *getStreamedResponse(): AsyncIterable<never> {
      throw new Error('not streamed');
    }
  }
  const makeAgent = () =>
    new Agent({
      name: 'Bench',
      model: new ToolThenAnswerModel() as never,
      tools: [
        tool({
          name: 'search',
          description: 'Searches',
          parameters: z.object({ query: z.string(), page: z.number(), filters: z.string() }),
          execute: async () => ({ ok: true }),
        }),
      ],
    });
  const plainAgent = makeAgent();
  const auditedAgent = oa.auditAgent(makeAgent());
  const toolsOnlyAgent = oa.auditAgent(makeAgent(), { auditModels: false });
  const runOptions = {
    agentId: 'bench-agent',
    triggerPrincipal: 'user:bench',
    credentialRef: 'cred-bench',
  };

  const cpu = { plain: [] as number[], audited: [] as number[], toolsOnly: [] as number[] };
  const cpuOf = (c: NodeJS.CpuUsage, n: number) => (c.user + c.system) / n;

  async function plainRound(n: number): Promise<number[]> {
    setTraceProcessors([]);
    const c0 = process.cpuUsage();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await run(plainAgent, 'find it');
      out.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    cpu.plain.push(cpuOf(process.cpuUsage(c0), n));
    return out;
  }
  async function auditedRound(n: number): Promise<number[]> {
    setTraceProcessors([processor]);
    const c0 = process.cpuUsage();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      // The run's result is what the workflow returns: its output.hash is of the final
      // output (a RunResult would be hashed whole: state, agents, items).
      await runWorkflow(runOptions, async () => (await run(auditedAgent, 'find it')).finalOutput);
      out.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await provider.forceFlush();
    cpu.audited.push(cpuOf(process.cpuUsage(c0), n));
    return out;
  }

  /** The gate alone: audited tools in a run, no model records, no SDK trace processor. */
  async function toolsOnlyRound(n: number): Promise<number[]> {
    setTraceProcessors([]);
    const c0 = process.cpuUsage();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await runWorkflow(runOptions, async () => (await run(toolsOnlyAgent, 'find it')).finalOutput);
      out.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await provider.forceFlush();
    cpu.toolsOnly.push(cpuOf(process.cpuUsage(c0), n));
    return out;
  }

  for (let r = 0; r < WARMUP_ROUNDS; r++) {
    await plainRound(CALLS_PER_ROUND);
    await auditedRound(CALLS_PER_ROUND);
    await toolsOnlyRound(CALLS_PER_ROUND);
  }
  cpu.plain.length = 0;
  cpu.audited.length = 0;
  cpu.toolsOnly.length = 0;
  const plain: number[] = [];
  const audited: number[] = [];
  const toolsOnly: number[] = [];
  const roundRatios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const got: { p: number[]; a: number[]; t: number[] } = { p: [], a: [], t: [] };
    // Rotate the order, so no arm always runs on a warmer or colder heap.
    const arms = [
      async () => {
        got.p = await plainRound(CALLS_PER_ROUND);
      },
      async () => {
        got.a = await auditedRound(CALLS_PER_ROUND);
      },
      async () => {
        got.t = await toolsOnlyRound(CALLS_PER_ROUND);
      },
    ];
    for (let k = 0; k < arms.length; k++) await arms[(r + k) % arms.length]!();
    plain.push(...got.p);
    audited.push(...got.a);
    toolsOnly.push(...got.t);
    roundRatios.push(quantile(got.a, 0.5) / quantile(got.p, 0.5));
  }
  await provider.shutdown();
  const r3 = (x: number) => Number(x.toFixed(3));
  const r1 = (x: number) => Number(x.toFixed(1));
  return {
    openai_agents_tool_overhead_ratio: r3(quantile(audited, 0.5) / quantile(plain, 0.5)),
    openai_agents_tool_overhead_ratio_p99: r3(quantile(audited, 0.99) / quantile(plain, 0.99)),
    openai_agents_tool_overhead_round_ratio_median: r3(median(roundRatios)),
    // Process CPU per call (median over rounds): steadier than latency on a shared machine.
    openai_agents_tool_overhead_cpu_ratio: r3(median(cpu.audited) / median(cpu.plain)),
    openai_agents_run_audited_cpu_us: r1(median(cpu.audited)),
    openai_agents_run_plain_cpu_us: r1(median(cpu.plain)),
    // The gate alone (audited tools inside a run; no model records, no trace processor).
    openai_agents_tools_only_overhead_ratio: r3(quantile(toolsOnly, 0.5) / quantile(plain, 0.5)),
    openai_agents_tools_only_overhead_cpu_ratio: r3(median(cpu.toolsOnly) / median(cpu.plain)),
    openai_agents_run_audited_p50_us: r1(quantile(audited, 0.5)),
    openai_agents_run_plain_p50_us: r1(quantile(plain, 0.5)),
    openai_agents_run_audited_p99_us: r1(quantile(audited, 0.99)),
    openai_agents_run_plain_p99_us: r1(quantile(plain, 0.99)),
    openai_agents_node: process.version,
  };
}

if (process.argv.includes(ARM_FLAG)) {
  measure()
    .then((figures) => process.stdout.write(`${JSON.stringify(figures)}\n`))
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
