/**
 * The labelled workload behind `pnpm --silent loadtest --scenario anomalies` and the
 * `anomalies` bench arm: normal support-agent traffic through the real instrumentation
 * (`runWorkflow` + `traceToolCall`, a per-call refund policy), with one or more planted runs
 * per anomaly pattern whose run ids are known. The caller registers the SDK (and its store).
 */
import { randomUUID } from 'node:crypto';
import { PermissionDeniedError, runWorkflow, traceToolCall } from '@agent-audit/instrumentation';

export type Pattern =
  | 'call_frequency'
  | 'new_input_shape'
  | 'permission_denials'
  | 'output_size'
  | 'execution_time'
  | 'policy';

export interface ScenarioOptions {
  /** Normal runs (three tool calls each). */
  normalRuns: number;
  /** Plant the anomalies (false: normal traffic only, for the false-alert rate). */
  planted: boolean;
  /** Runs in flight at once. */
  concurrency: number;
  /** Called with each planted run id as its first call starts (for latency measurement). */
  onPlanted?: (pattern: Pattern, runId: string) => void;
}

export interface ScenarioResult {
  runs: number;
  toolCalls: number;
  /** The planted run ids by the pattern they must raise. */
  planted: Record<Pattern, string[]>;
  elapsedS: number;
}

export const AGENT = 'support-agent';
const TENANT = 'acme';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const refundPolicy = (action: { input: unknown }) => {
  const amount = (action.input as { amount?: number }).amount ?? 0;
  return amount <= 100
    ? { outcome: 'allow' as const, policyId: 'refunds', reason: 'within limit' }
    : { outcome: 'stop' as const, policyId: 'refunds', reason: 'refund above limit' };
};

function orderResult(n: number, bytes = 0) {
  return {
    order_id: `A-${n}`,
    status: n % 5 === 0 ? 'shipped' : 'processing',
    items: [{ sku: `SKU-${n % 97}`, qty: 1 + (n % 3) }],
    ...(bytes > 0 ? { attachment: 'x'.repeat(bytes) } : {}),
  };
}

async function lookup(
  n: number,
  options: { input?: unknown; bytes?: number; deny?: boolean } = {},
) {
  return traceToolCall(
    { toolName: 'lookup_order', input: options.input ?? { order_id: `A-${n}` } },
    async () => {
      await sleep(1 + (n % 3));
      if (options.deny) {
        throw new PermissionDeniedError(
          'orders database: role support-agent may not read this tenant',
          {
            denialType: 'data_access',
          },
        );
      }
      return orderResult(n, options.bytes);
    },
  );
}

async function search(n: number, options: { input?: unknown; delayMs?: number } = {}) {
  return traceToolCall(
    {
      toolName: 'search_kb',
      input: options.input ?? { query: `refund policy ${n % 11}`, limit: 5 },
    },
    async () => {
      await sleep(options.delayMs ?? 1 + (n % 4));
      return {
        hits: Array.from({ length: 5 }, (_, i) => ({
          id: `kb-${(n + i) % 50}`,
          score: 0.9 - i / 10,
        })),
      };
    },
  );
}

async function refund(n: number, amount: number) {
  return traceToolCall(
    { toolName: 'issue_refund', input: { order_id: `A-${n}`, amount }, policy: refundPolicy },
    async () => {
      await sleep(1);
      return { refund_id: `R-${n}`, amount };
    },
  );
}

function run(runId: string, fn: () => Promise<void>): Promise<void> {
  return runWorkflow(
    {
      agentId: AGENT,
      agentName: 'support',
      workflowName: 'support-ticket',
      triggerPrincipal: 'user:456',
      triggerType: 'user',
      tenantId: TENANT,
      runId,
      input: { ticket: runId },
    },
    fn,
  );
}

async function normalRun(n: number): Promise<void> {
  await run(`run-${randomUUID()}`, async () => {
    await lookup(n);
    await search(n);
    await refund(n, 10 + (n % 80));
  });
}

/** The planted runs: each raises its pattern, with its own run id. */
function plantedRuns(): { pattern: Pattern; runId: string; body: () => Promise<void> }[] {
  const id = (name: string) => `run-planted-${name}-${randomUUID().slice(0, 8)}`;
  const caught = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch {
      // Refused or denied: the agent goes on, the trail has it.
    }
  };
  return [
    {
      pattern: 'call_frequency',
      runId: id('loop'),
      body: async () => {
        for (let i = 0; i < 150; i++) await lookup(7);
      },
    },
    {
      pattern: 'new_input_shape',
      runId: id('shape'),
      body: async () => {
        await search(1, {
          input: { query: 'orders', limit: 5, filters: { raw: true, fields: ['*'] } },
        });
      },
    },
    {
      pattern: 'new_input_shape',
      runId: id('sqli'),
      body: async () => {
        await lookup(2, { input: { order_id: "A-1' OR '1'='1" } });
      },
    },
    {
      pattern: 'permission_denials',
      runId: id('denied'),
      body: async () => {
        for (let i = 0; i < 5; i++) await caught(() => lookup(3 + i, { deny: true }));
      },
    },
    {
      pattern: 'output_size',
      runId: id('output'),
      body: async () => {
        await lookup(4, { bytes: 300_000 });
      },
    },
    {
      pattern: 'execution_time',
      runId: id('slow'),
      body: async () => {
        await search(5, { delayMs: 1500 });
      },
    },
    {
      pattern: 'policy',
      runId: id('refund'),
      body: async () => {
        await caught(() => refund(6, 5000));
      },
    },
  ];
}

/**
 * Runs the scenario: normal runs `concurrency` at a time; with `planted`, the planted runs
 * start once 60 % of the normal runs finished and 4 s of traffic passed (the learning period)
 * and run alongside the rest.
 */
export async function runAnomalyScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const planted: Record<Pattern, string[]> = {
    call_frequency: [],
    new_input_shape: [],
    permission_denials: [],
    output_size: [],
    execution_time: [],
    policy: [],
  };
  const started = performance.now();
  let next = 0;
  let finished = 0;
  let toolCalls = 0;
  const plantAt = Math.floor(options.normalRuns * 0.6);
  let plantedWork: Promise<unknown> = Promise.resolve();
  let plantedDone = false;
  const plant = () => {
    if (plantedDone || !options.planted) return;
    plantedDone = true;
    plantedWork = Promise.all(
      plantedRuns().map(async (p) => {
        planted[p.pattern].push(p.runId);
        options.onPlanted?.(p.pattern, p.runId);
        await run(p.runId, p.body);
      }),
    );
  };
  // The planted runs need baselines first: at least 60 % of the normal runs and 4 s of traffic
  // (the call-frequency baseline needs windows of history, whatever the machine's speed); on a
  // fast machine the normal runs go on past `normalRuns` until then.
  const learnMs = 4000;
  const worker = async () => {
    for (;;) {
      const learning = options.planted && !plantedDone && performance.now() - started < learnMs;
      if (next >= options.normalRuns && !learning) return;
      const n = next++;
      await normalRun(n);
      toolCalls += 3;
      if (++finished >= plantAt && performance.now() - started >= learnMs) plant();
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, options.normalRuns) }, worker),
  );
  plant();
  await plantedWork;
  const plantedCalls = options.planted ? 150 + 1 + 1 + 5 + 1 + 1 + 1 : 0;
  return {
    runs: next + (options.planted ? 7 : 0),
    toolCalls: toolCalls + plantedCalls,
    planted,
    elapsedS: (performance.now() - started) / 1000,
  };
}

/** Recall and false alerts of a set of alerts against the planted runs. */
export function scoreAlerts(
  alerts: { pattern: string; run_ids: string[] }[],
  planted: Record<Pattern, string[]>,
): { recall: number; missed: string[]; falseAlerts: number; byPattern: Record<string, number> } {
  const all = new Set(Object.values(planted).flat());
  let expected = 0;
  let hit = 0;
  const missed: string[] = [];
  for (const [pattern, runIds] of Object.entries(planted)) {
    for (const runId of runIds) {
      expected++;
      if (alerts.some((a) => a.pattern === pattern && a.run_ids.includes(runId))) hit++;
      else missed.push(`${pattern}:${runId}`);
    }
  }
  const byPattern: Record<string, number> = {};
  for (const a of alerts) byPattern[a.pattern] = (byPattern[a.pattern] ?? 0) + 1;
  return {
    recall: expected === 0 ? 1 : hit / expected,
    missed,
    falseAlerts: alerts.filter((a) => !a.run_ids.some((r) => all.has(r))).length,
    byPattern,
  };
}
