/**
 * OTLP figures for `pnpm bench` (issue 4, "Nothing lost on the way to Jaeger"). Everything runs
 * through the real registration (`registerAgentAudit`), WORM store and forwarder, against the
 * real Jaeger binary (in-memory storage) on loopback, in this one process run:
 *
 * - otlp_spans_per_s: spans of a workload (RUNS runs × TOOL_CALLS tool calls, CONCURRENCY at a
 *   time) divided by the time from the first tool call until Jaeger's query API returns every
 *   one of them. The forwarder ships while the load runs, as it would in production.
 * - otlp_vs_store_ratio: that rate over the store's durable rate for the same workload with
 *   forwarding off (spans / time until every span is fdatasync'd in the store). Goal ≥ 0.3.
 *   Rounds alternate the two arms; the figure is the median of the per-round ratios.
 * - tool_call_p99_ratio_slow_collector: p99 tool-call latency while the forwarder is stuck on a
 *   black-hole collector (accepts, reads, never answers) over p99 while it feeds the real Jaeger.
 *   Phases alternate and the median of per-round ratios is reported. Goal ≤ 1.1. A third arm
 *   with forwarding off gives the context: a healthy forwarder shares the event loop with the
 *   tool calls (reading, re-serializing, HTTP), a stuck one does nothing, so the ratio can be
 *   below 1; black hole vs forwarding off is reported too and should be about 1.
 *
 * Bounded: Jaeger and the black hole are started once and everything (processes, sockets,
 * temp directories) is removed in `finally`, whatever fails.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { writeKeyPair } from '@agent-audit/store';
import { type JaegerProcess, startJaegerProcess } from './jaeger-process.js';
import { quantile, runWorkload, type WorkloadOptions } from './workload.js';

type Figures = Record<string, number>;

const THROUGHPUT_ROUNDS = 5;
const THROUGHPUT_LOAD = { runs: 150, toolCalls: 20, concurrency: 16 } as const;
const LATENCY_ROUNDS = 9;
const LATENCY_LOAD = { runs: 100, toolCalls: 20, concurrency: 8 } as const;
// A round whose confirmation takes longer than this is a failure, not a slow figure.
const CONFIRM_TIMEOUT_MS = 60_000;

function log(message: string): void {
  process.stderr.write(`  otlp: ${message}\n`);
}

const median = (xs: number[]) => quantile(xs, 0.5);

interface BlackHole {
  url: string;
  requests(): number;
  close(): Promise<void>;
}

/** Accepts OTLP requests, reads them, never answers: a hung collector. */
async function startBlackHole(): Promise<BlackHole> {
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    held.push(res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    requests: () => requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Spans Jaeger's query API returns for `service` (the bench's own service name per arm). */
async function jaegerSpanCount(queryUrl: string, service: string, traces: number): Promise<number> {
  const params = new URLSearchParams({ service, limit: String(traces + 10) });
  const res = await fetch(`${queryUrl}/api/traces?${params}`, {
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json()) as { data?: Array<{ spans?: Array<{ spanID: string }> }> | null };
  if (!res.ok)
    throw new Error(`Jaeger query answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  const ids = new Set<string>();
  for (const trace of body.data ?? []) for (const span of trace.spans ?? []) ids.add(span.spanID);
  return ids.size;
}

interface Arm {
  storeDir: string;
  trustDir: string;
  service: string;
  endpoint?: string;
  forward: boolean;
}

function arm(root: string, name: string, forward: boolean, endpoint?: string): Arm {
  const trustDir = join(root, `${name}-trust`);
  // A key made here spares the store's first-use key generation and its warning on stderr.
  writeKeyPair(trustDir);
  return {
    storeDir: join(root, `${name}-store`),
    trustDir,
    // One service per arm, so Jaeger's search counts exactly this arm's spans.
    service: `otlp-bench-${name}-${randomUUID().slice(0, 8)}`,
    forward,
    ...(endpoint !== undefined ? { endpoint } : {}),
  };
}

function register(a: Arm): AgentAuditHandle {
  return registerAgentAudit({
    serviceName: a.service,
    storeDir: a.storeDir,
    trustDir: a.trustDir,
    forward: a.forward,
    ...(a.endpoint !== undefined ? { otlpEndpoint: a.endpoint } : {}),
    installExitHandlers: false,
  });
}

async function unregister(audit: AgentAuditHandle): Promise<void> {
  // Stop first: shutdown's drain waits for a request in flight, which a black hole never answers.
  await audit.forwarder?.stop();
  await audit.shutdown();
}

const workload = (load: {
  runs: number;
  toolCalls: number;
  concurrency: number;
}): WorkloadOptions => ({
  ...load,
  principal: 'user:bench',
  agentId: 'otlp-bench-agent',
});

/** Spans/s until every span is durable in the store (forwarding off). */
async function storeRound(a: Arm): Promise<number> {
  const audit = register(a);
  try {
    const before = audit.processor.getStats().endRecords;
    const result = await runWorkload(workload(THROUGHPUT_LOAD));
    await audit.processor.forceFlush();
    const spans = audit.processor.getStats().endRecords - before;
    return spans / ((performance.now() - result.startedAt) / 1000);
  } finally {
    await unregister(audit);
  }
}

/**
 * Spans/s until Jaeger's query API returns every span of the round. Each round registers under
 * its own service name (same store), so the confirming query counts exactly that round's spans.
 */
async function otlpRound(a: Arm, queryUrl: string): Promise<number> {
  const audit = register({ ...a, service: `${a.service}-${randomUUID().slice(0, 8)}` });
  try {
    const before = audit.processor.getStats().endRecords;
    const result = await runWorkload(workload(THROUGHPUT_LOAD));
    await audit.processor.forceFlush();
    const spans = audit.processor.getStats().endRecords - before;
    const durableAt = performance.now();
    const deadline = Date.now() + CONFIRM_TIMEOUT_MS;
    // The forwarder acknowledges what Jaeger has stored (no batch processor in its config); the
    // query then confirms it, and its answer is the end of the measurement.
    const drained = await audit.forwarder!.drain({ timeoutMillis: CONFIRM_TIMEOUT_MS });
    if (!drained.ok) throw new Error(`forwarding to Jaeger did not finish: ${drained.reason}`);
    const drainedAt = performance.now();
    for (;;) {
      const found = await jaegerSpanCount(queryUrl, audit.config.serviceName, result.runs);
      if (found >= spans) break;
      if (Date.now() > deadline) {
        throw new Error(`Jaeger holds ${found} of ${spans} spans after ${CONFIRM_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const confirmedAt = performance.now();
    const ms = (t: number) => `${Math.round(t)} ms`;
    log(
      `  ${spans} spans: load durable after ${ms(durableAt - result.startedAt)}, forwarder done +${ms(drainedAt - durableAt)}, query confirmed +${ms(confirmedAt - drainedAt)}`,
    );
    return spans / ((confirmedAt - result.startedAt) / 1000);
  } finally {
    await unregister(audit);
  }
}

/**
 * p99 tool-call latency (ms) of one phase against the arm's endpoint, measured in the steady
 * state the phase stands for: `settle` first lets a fresh registration's forwarder reach it
 * (caught up with a healthy Jaeger; its request swallowed by the black hole), so the figure is
 * not the forwarder's start-up read of the backlog, which every phase would otherwise pay.
 */
async function latencyPhase(
  a: Arm,
  settle: (audit: AgentAuditHandle) => Promise<void> = async () => undefined,
): Promise<number> {
  const audit = register(a);
  try {
    await settle(audit);
    const result = await runWorkload(workload(LATENCY_LOAD));
    await audit.processor.forceFlush();
    return quantile(result.toolCallMs, 0.99);
  } finally {
    await unregister(audit);
  }
}

async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function runOtlpBench(): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), 'agent-audit-bench-otlp-'));
  // Also when the bench is ended by a signal or an exception (finally does not run then).
  const removeRoot = () => rmSync(root, { recursive: true, force: true });
  process.on('exit', removeRoot);
  let jaeger: JaegerProcess | undefined;
  let blackHole: BlackHole | undefined;
  try {
    jaeger = await startJaegerProcess();
    blackHole = await startBlackHole();
    log(`Jaeger at ${jaeger.otlpTracesUrl}, black hole at ${blackHole.url}`);

    // Throughput: store-only vs forwarding to Jaeger, alternating which goes first.
    const storeArm = arm(root, 'store-only', false);
    const otlpArm = arm(root, 'jaeger', true, jaeger.otlpTracesUrl);
    // Warm-up (JIT, first segment, first connection), not counted.
    await storeRound(storeArm);
    await otlpRound(otlpArm, jaeger.queryUrl);
    const storeRates: number[] = [];
    const otlpRates: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
      let storeRate: number;
      let otlpRate: number;
      if (r % 2 === 0) {
        storeRate = await storeRound(storeArm);
        otlpRate = await otlpRound(otlpArm, jaeger.queryUrl);
      } else {
        otlpRate = await otlpRound(otlpArm, jaeger.queryUrl);
        storeRate = await storeRound(storeArm);
      }
      storeRates.push(storeRate);
      otlpRates.push(otlpRate);
      ratios.push(otlpRate / storeRate);
      log(
        `round ${r + 1}: store ${storeRate.toFixed(0)} spans/s, Jaeger-confirmed ${otlpRate.toFixed(0)} spans/s`,
      );
    }

    // Tool-call latency: healthy (real Jaeger) vs black hole, plus forwarding off for context
    // (what the tool path costs with no forwarder at all). The order rotates every round, so no
    // arm always runs on a warmer or colder heap.
    const arms = {
      healthy: arm(root, 'healthy', true, jaeger.otlpTracesUrl),
      blackHole: arm(root, 'black-hole', true, blackHole.url),
      off: arm(root, 'no-forward', false),
    };
    const settle = {
      healthy: async (audit: AgentAuditHandle) => {
        await audit.forwarder!.drain({ timeoutMillis: 10_000 });
      },
      blackHole: async (audit: AgentAuditHandle) => {
        const status = await audit.forwarder!.status();
        if (!status.pendingRecords) return;
        const seen = blackHole!.requests();
        await until(() => blackHole!.requests() > seen, 10_000);
      },
      off: async () => undefined,
    };
    const order = ['healthy', 'blackHole', 'off'] as const;
    for (const name of order) await latencyPhase(arms[name], settle[name]);
    const p99s = { healthy: [] as number[], blackHole: [] as number[], off: [] as number[] };
    const p99Ratios: number[] = [];
    const p99RatiosVsOff: number[] = [];
    for (let r = 0; r < LATENCY_ROUNDS; r++) {
      const got: Partial<Record<(typeof order)[number], number>> = {};
      for (let k = 0; k < order.length; k++) {
        const name = order[(r + k) % order.length]!;
        got[name] = await latencyPhase(arms[name], settle[name]);
        p99s[name].push(got[name]);
      }
      p99Ratios.push(got.blackHole! / got.healthy!);
      p99RatiosVsOff.push(got.blackHole! / got.off!);
      log(
        `round ${r + 1}: tool-call p99 healthy ${got.healthy!.toFixed(2)} ms, black hole ${got.blackHole!.toFixed(2)} ms, forwarding off ${got.off!.toFixed(2)} ms`,
      );
    }
    if (blackHole.requests() === 0) {
      throw new Error(
        'the black-hole collector never received a request: the slow-collector arm measured nothing',
      );
    }

    return {
      otlp_spans_per_s: Number(median(otlpRates).toFixed(1)),
      otlp_store_durable_spans_per_s: Number(median(storeRates).toFixed(1)),
      otlp_vs_store_ratio: Number(median(ratios).toFixed(3)),
      tool_call_p99_ratio_slow_collector: Number(median(p99Ratios).toFixed(3)),
      tool_call_p99_healthy_jaeger_ms: Number(median(p99s.healthy).toFixed(3)),
      tool_call_p99_black_hole_ms: Number(median(p99s.blackHole).toFixed(3)),
      tool_call_p99_forward_off_ms: Number(median(p99s.off).toFixed(3)),
      tool_call_p99_ratio_black_hole_vs_forward_off: Number(median(p99RatiosVsOff).toFixed(3)),
    };
  } finally {
    await blackHole?.close();
    await jaeger?.dispose();
    process.removeListener('exit', removeRoot);
    removeRoot();
  }
}
