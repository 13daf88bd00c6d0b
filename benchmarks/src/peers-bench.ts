/**
 * The audited tool call as users run it, next to what they would otherwise use (issue 10).
 *
 * Arms interleaved round by round (rotating order), each round N calls one after the other with
 * the latency of every call recorded; agent-audit's arms and the bare span in this process, each
 * peer in its own:
 *
 * - `bare`: a bare OpenTelemetry tool span, the denominator of tool_call_overhead_ratio
 *   (sdk-bench.ts): same attributes, SHA-256 of the input, BatchSpanProcessor → discarding
 *   exporter.
 * - `full`: `traceToolCall` inside a `runWorkflow` open for the whole round (an agent's loop of
 *   tool calls in one run), under `registerAgentAudit` with its defaults: the WORM store on
 *   (group-committed, fdatasync'd) and the forwarder on, shipping to an OTLP/HTTP sink in a child
 *   process that answers 200 to everything. 1 KB input. The run's own two records are amortized
 *   over the round's calls.
 * - `run_per_call`: the same registration, one `runWorkflow` + `traceToolCall` per call (a run of
 *   a single tool call: the run's span, events and records paid on every call).
 * - the peers, each in a process of its own (peer-arm.ts: loading one SDK must not change what
 *   another costs), each with its default raw-content capture and a discarding exporter, wrapping
 *   the same tool with the same input:
 *   - `openinference`: `traceTool` of @arizeai/openinference-core (NodeTracerProvider,
 *     BatchSpanProcessor);
 *   - `openllmetry`: `withTool` of @traceloop/node-server-sdk after `initialize({ exporter })`
 *     (its NodeSDK, its span processor; no API key, prompt sync off: nothing leaves the host);
 *   - `langfuse`: `startActiveObservation(…, { asType: 'tool' })` of @langfuse/tracing with input
 *     and output set on the observation, through @langfuse/otel's LangfuseSpanProcessor.
 *
 * Figures (medians of per-round ratios, so drift on a shared machine hits every arm alike):
 * - tool_call_full_ratio = mean `full` / mean `bare` per call;
 * - tool_call_vs_peers_ratio = p50 `full` / p50 of the fastest peer that round (…_p99 the same
 *   at p99, against the lowest peer p99); tool_call_run_per_call_vs_peers_ratio = p50
 *   `run_per_call` / p50 of the fastest peer;
 * - per arm µs (mean, p50, p99 over all calls of all rounds) and CPU µs per call (process CPU
 *   from the round's first call until its work has settled: store durable and forwarder caught
 *   up for ours, batch processor flushed for the others). The tool resolves at once, so a round
 *   never yields to the event loop: the store's commits and the forwarder run when the round
 *   settles, and their work shows in the CPU figure, not in the latencies.
 *
 * Agent-audit's arms own the global tracer provider while they run; a peer process sets itself up
 * as its documentation says (its own global provider and context manager). The rounds are driven
 * from here, one arm at a time, so no two arms ever run at once.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { writeKeyPair } from '@agent-audit/store';
import { context, trace } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  TracerProvider as SdkTracerProvider,
} from '@opentelemetry/sdk-trace';
import { type Arm, type ArmRound, measureRound } from './bench-arm.js';
import { DiscardingExporter, median, oneKbInput, startBareToolSpan } from './bench-support.js';
import { quantile } from './workload.js';

type Figures = Record<string, number | string>;

const CALLS_PER_ROUND = Number(process.env.PEERS_BENCH_CALLS ?? 1_000);
const ROUNDS = Number(process.env.PEERS_BENCH_ROUNDS ?? 11);
const WARMUP_ROUNDS = 2;
const PEERS = ['openinference', 'openllmetry', 'langfuse'] as const;
type Peer = (typeof PEERS)[number];

/** An arm measured in this process, or in a peer's process through IPC. */
interface MeasuredArm {
  name: string;
  measure(calls: number): Promise<ArmRound>;
}

interface PeerProcess extends MeasuredArm {
  child: ChildProcess;
}

/** Forks `peer-arm.js <name>` and waits until its SDK is set up. */
async function startPeer(name: Peer): Promise<PeerProcess> {
  const script = fileURLToPath(new URL('./peer-arm.js', import.meta.url));
  const child = fork(script, [name], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let pending: { resolve: (r: ArmRound) => void; reject: (e: Error) => void } | undefined;
  const failed = (why: string) => {
    const error = new Error(`peers bench: the ${name} process ${why}`);
    pending?.reject(error);
    pending = undefined;
    return error;
  };
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: true; round?: ArmRound; error?: string }) => {
      if (m.ready) resolve();
      else if (m.error) reject(failed(`failed: ${m.error}`));
      else if (m.round && pending) {
        pending.resolve(m.round);
        pending = undefined;
      }
    });
    child.once('exit', (code, signal) => reject(failed(`exited (${signal ?? code})`)));
    child.once('error', (error) => reject(failed(`could not start: ${error.message}`)));
  });
  return {
    name,
    child,
    measure: (calls) =>
      new Promise<ArmRound>((resolve, reject) => {
        pending = { resolve, reject };
        child.send({ calls });
      }),
  };
}

/** An OTLP/HTTP endpoint in its own process that reads every request and answers 200. */
async function startSink(): Promise<{ url: string; child: ChildProcess }> {
  const script = `
    const server = require('node:http').createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`OTLP sink exited (${code}) before listening`)));
  });
  return { url: `http://127.0.0.1:${port}/v1/traces`, child };
}

const mean = (xs: ArrayLike<number>) => {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i]!;
  return sum / xs.length;
};
const concat = (rounds: ArmRound[]) => Float64Array.from(rounds.flatMap((r) => r.ns));
const us = (ns: number) => Number((ns / 1000).toFixed(2));
const ratio = (x: number) => Number(x.toFixed(3));

export async function runPeersBench(): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), 'aa-bench-peers-'));
  const sink = await startSink();
  let audit: AgentAuditHandle | undefined;
  const providers: Array<{ shutdown(): Promise<void> }> = [];
  const peers: PeerProcess[] = [];
  try {
    // The peers first: their processes start (and load their SDKs) before anything is measured.
    // A peer that cannot start (not installed, fails offline) is reported and left out; the
    // ratios compare against the peers that ran.
    const unavailable: Figures = {};
    for (const name of PEERS) {
      try {
        peers.push(await startPeer(name));
      } catch (error) {
        // The first line names the cause (a stack follows it).
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
        process.stderr.write(`  peers: ${name} left out: ${message}\n`);
        unavailable[`peer_${name}_unavailable`] = message;
      }
    }
    if (peers.length === 0) throw new Error('peers bench: no peer SDK could be started');
    const running = peers.map((p) => p.name as Peer);

    const trustDir = join(root, 'trust');
    writeKeyPair(trustDir);
    audit = registerAgentAudit({
      serviceName: 'peers-bench',
      storeDir: join(root, 'store'),
      trustDir,
      otlpEndpoint: sink.url,
      installExitHandlers: false,
    });
    const handle = audit;

    const bareProvider = new SdkTracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new BatchSpanProcessor({ exporter: new DiscardingExporter() })],
    });
    providers.push(bareProvider);

    const input = oneKbInput();
    const tool = async (_input: Record<string, unknown>) => ({ ok: true });
    const runOptions = {
      agentId: 'bench-agent',
      agentName: 'bench',
      triggerPrincipal: 'user:bench',
      credentialRef: 'cred-bench',
      input: { task: 'bench' },
    };
    const bareTracer = bareProvider.getTracer('bench-bare');

    const auditSettle = async () => {
      await handle.provider.forceFlush();
      await handle.forwarder?.drain({ timeoutMillis: 30_000, retry: false });
    };
    const local: Arm[] = [
      {
        name: 'bare',
        provider: bareProvider,
        round: async (n, ns) => {
          const runSpan = bareTracer.startSpan('invoke_agent bench');
          await context.with(trace.setSpan(context.active(), runSpan), async () => {
            for (let i = 0; i < n; i++) {
              const t0 = process.hrtime.bigint();
              const span = startBareToolSpan(bareTracer, input);
              await context.with(trace.setSpan(context.active(), span), () => tool(input));
              span.end();
              ns[i] = Number(process.hrtime.bigint() - t0);
            }
          });
          runSpan.end();
        },
        settle: () => bareProvider.forceFlush(),
      },
      {
        name: 'full',
        provider: handle.provider,
        round: (n, ns) =>
          runWorkflow(runOptions, async () => {
            for (let i = 0; i < n; i++) {
              const t0 = process.hrtime.bigint();
              await traceToolCall({ toolName: 'search', input }, () => tool(input));
              ns[i] = Number(process.hrtime.bigint() - t0);
            }
          }),
        settle: auditSettle,
      },
      {
        name: 'run_per_call',
        provider: handle.provider,
        call: () =>
          runWorkflow(runOptions, () =>
            traceToolCall({ toolName: 'search', input }, () => tool(input)),
          ),
        settle: auditSettle,
      },
    ];
    const arms: MeasuredArm[] = [
      ...local.map((arm) => ({ name: arm.name, measure: (n: number) => measureRound(arm, n) })),
      ...peers,
    ];

    for (let r = 0; r < WARMUP_ROUNDS; r++) {
      for (const arm of arms) await arm.measure(CALLS_PER_ROUND);
    }
    const results = new Map<string, ArmRound[]>(arms.map((a) => [a.name, []]));
    const fullRatios: number[] = [];
    const vsPeersP50: number[] = [];
    const vsPeersP99: number[] = [];
    const perCallVsPeersP50: number[] = [];
    const fastestCount = new Map<Peer, number>(running.map((p) => [p, 0]));
    for (let r = 0; r < ROUNDS; r++) {
      const round = new Map<string, ArmRound>();
      // Rotate the order, so no arm always runs on a warmer or colder heap.
      for (let k = 0; k < arms.length; k++) {
        const arm = arms[(r + k) % arms.length]!;
        const result = await arm.measure(CALLS_PER_ROUND);
        round.set(arm.name, result);
        results.get(arm.name)!.push(result);
      }
      const at = (name: string, q: number) => quantile(round.get(name)!.ns, q);
      fullRatios.push(mean(round.get('full')!.ns) / mean(round.get('bare')!.ns));
      const fastest = running.reduce((a, b) => (at(b, 0.5) < at(a, 0.5) ? b : a));
      fastestCount.set(fastest, fastestCount.get(fastest)! + 1);
      const fastestP99 = Math.min(...running.map((p) => at(p, 0.99)));
      vsPeersP50.push(at('full', 0.5) / at(fastest, 0.5));
      vsPeersP99.push(at('full', 0.99) / fastestP99);
      perCallVsPeersP50.push(at('run_per_call', 0.5) / at(fastest, 0.5));
      process.stderr.write(
        `  peers: round ${r + 1}/${ROUNDS} p50 µs ${arms
          .map((a) => `${a.name} ${us(at(a.name, 0.5))}`)
          .join(', ')}\n`,
      );
    }

    const figures: Figures = {
      ...unavailable,
      tool_call_full_ratio: ratio(median(fullRatios)),
      tool_call_vs_peers_ratio: ratio(median(vsPeersP50)),
      tool_call_vs_peers_ratio_p99: ratio(median(vsPeersP99)),
      tool_call_run_per_call_vs_peers_ratio: ratio(median(perCallVsPeersP50)),
      tool_call_fastest_peer: [...fastestCount].reduce((a, b) => (b[1] > a[1] ? b : a))[0],
    };
    for (const arm of arms) {
      const rounds = results.get(arm.name)!;
      const all = concat(rounds);
      const prefix =
        arm.name === 'bare' || arm.name === 'full' || arm.name === 'run_per_call'
          ? `tool_call_${arm.name}`
          : `peer_${arm.name}`;
      figures[`${prefix}_mean_us`] = us(mean(all));
      figures[`${prefix}_p50_us`] = us(quantile(all, 0.5));
      figures[`${prefix}_p99_us`] = us(quantile(all, 0.99));
      figures[`${prefix}_cpu_us`] = Number(median(rounds.map((x) => x.cpuUs)).toFixed(1));
    }
    return figures;
  } finally {
    if (audit) {
      await audit.forwarder?.stop();
      await audit.shutdown();
    }
    for (const p of providers) await p.shutdown().catch(() => undefined);
    for (const peer of peers) peer.child.kill();
    trace.disable();
    sink.child.stdin?.end();
    sink.child.kill();
    rmSync(root, { recursive: true, force: true });
  }
}
