import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';

/** The agent workload shared by `pnpm loadtest` and the OTLP bench. */
export interface WorkloadOptions {
  /** Workflow runs to execute. */
  runs: number;
  /** Tool calls per run, one after the other (an agent's loop). */
  toolCalls: number;
  /** Runs in flight at once. */
  concurrency: number;
  /** `trigger.principal` of every run. */
  principal: string;
  /** `agent.id` of every run. The default value is `loadtest-agent`. */
  agentId?: string;
  /** Called after each finished run with the number of finished runs. */
  onRunDone?: (finishedRuns: number) => void;
}

export interface WorkloadResult {
  runs: number;
  /** Workflow plus tool spans ended (each becomes one `span.end` record). */
  spansEnded: number;
  /** Run ids in the order they finished. */
  runIds: string[];
  /** Latency of every tool call as the agent saw it (traceToolCall around the tool), in ms. */
  toolCallMs: Float64Array;
  /** performance.now() just before the first tool call's run started. */
  startedAt: number;
  /** performance.now() once the last run returned. */
  endedAt: number;
}

/** ~1 KB of JSON, like a typical tool argument object: what input.hash has to digest. */
function toolInput(run: number, call: number): Record<string, unknown> {
  const filters: Record<string, string> = {};
  for (let i = 0; i < 24; i++) filters[`field_${i}`] = `value-${i}-${'x'.repeat(i % 7)}`;
  return { query: 'refund status for order', run, call, page: 1, filters };
}

/**
 * Runs `runs` audited workflows, `concurrency` at a time, each with `toolCalls` sequential tool
 * calls through the real instrumentation API, against whatever tracer provider is registered.
 * Each tool yields once to the event loop (as real I/O would), so concurrent runs interleave and
 * the store's group commit and the forwarder get their turns.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const { runs, toolCalls, concurrency, principal } = options;
  const agentId = options.agentId ?? 'loadtest-agent';
  const toolCallMs = new Float64Array(runs * toolCalls);
  const runIds: string[] = [];
  let latencyIndex = 0;
  let nextRun = 0;
  let spansEnded = 0;
  const tool = () =>
    new Promise<{ ok: true }>((resolve) => setImmediate(() => resolve({ ok: true })));

  const worker = async () => {
    for (;;) {
      const run = nextRun++;
      if (run >= runs) return;
      await runWorkflow(
        {
          agentId,
          agentName: 'loadtest',
          workflowName: 'loadtest',
          triggerPrincipal: principal,
          triggerType: 'system',
          credentialRef: 'cred-ref:loadtest/read-only',
          input: { run },
        },
        async (handle) => {
          for (let call = 0; call < toolCalls; call++) {
            const t0 = performance.now();
            await traceToolCall(
              {
                toolName: call % 3 === 0 ? 'search' : call % 3 === 1 ? 'fetch' : 'summarize',
                input: toolInput(run, call),
              },
              tool,
            );
            toolCallMs[latencyIndex++] = performance.now() - t0;
            spansEnded++;
          }
          runIds.push(handle.runId);
        },
      );
      spansEnded++;
      options.onRunDone?.(runIds.length);
    }
  };

  const startedAt = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, runs) }, worker));
  return {
    runs: runIds.length,
    spansEnded,
    runIds,
    toolCallMs: toolCallMs.subarray(0, latencyIndex),
    startedAt,
    endedAt: performance.now(),
  };
}

/** The q-quantile (0..1) by the nearest-rank method. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * q) - 1))]!;
}
