/**
 * `node benchmarks/dist/run.js anomalies`: the watcher's four figures (issue 14 §4).
 *
 * - `anomaly_recall`: the labelled scenario (anomaly-scenario.ts) through the real SDK and
 *   store, then the watcher: planted (pattern, run) pairs alerted with their run id / planted.
 * - `anomaly_false_alerts_per_10k_runs`: normal-only traffic, every alert is false; per 10,000
 *   runs.
 * - `anomaly_detect_p99_s`: the watcher following the store live (in the same process, poll
 *   100 ms) while planted policy stops arrive among normal traffic: alert raised (durable in
 *   the alert store) − the moment the refused call returned to the agent, p99. The call
 *   returns before its record is durable, so this is an upper bound of durable → alert.
 * - `watch_vs_store_ratio`: records/s the watcher processes / records/s the store writes: the
 *   first 40,000 records of the normal-only store appended to a fresh store as fast as it takes
 *   them (batches of 64, 16 in flight — the store's own ceiling, above what the SDK feeds), then
 *   a fresh watcher over that store; three rounds, median of the per-round ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { registerAgentAudit } from '@agent-audit/sdk';
import {
  type AppendEntry,
  AuditStore,
  type EntryType,
  openSegmentReader,
} from '@agent-audit/store';
import { Watcher, watchConfigFrom } from '@agent-audit/watch';
import { scenarioStores, scenarioWatcher } from './anomaly-loadtest.js';
import { runAnomalyScenario, scoreAlerts } from './anomaly-scenario.js';
import { quantile } from './workload.js';

type Figures = Record<string, number | string>;

const log = (m: string) => process.stderr.write(`  anomalies: ${m}\n`);
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

async function scenario(base: string, runs: number, planted: boolean) {
  const dirs = scenarioStores(base);
  const audit = registerAgentAudit({
    serviceName: 'anomaly-bench',
    storeDir: dirs.store,
    trustDir: dirs.trust,
    forward: false,
    installExitHandlers: false,
  });
  const result = await runAnomalyScenario({ normalRuns: runs, planted, concurrency: 8 });
  await audit.forceFlush();
  await audit.shutdown();
  const watcher = scenarioWatcher(dirs);
  const started = performance.now();
  const watched = await watcher.runOnce();
  const watchS = (performance.now() - started) / 1000;
  await watcher.close();
  return { dirs, result, watched, watchS, score: scoreAlerts(watched.alerts, result.planted) };
}

async function liveLatency(base: string, seconds: number): Promise<number[]> {
  const dirs = scenarioStores(base);
  const audit = registerAgentAudit({
    serviceName: 'anomaly-bench-live',
    storeDir: dirs.store,
    trustDir: dirs.trust,
    forward: false,
    installExitHandlers: false,
  });
  const returned = new Map<string, number>();
  const latencies: number[] = [];
  const live = new Watcher(
    watchConfigFrom(
      {
        stores: [{ dir: dirs.store, trust_dir: dirs.trust }],
        alerts: { dir: join(base, 'live-alerts'), trust_dir: join(base, 'live-alerts-trust') },
        state_dir: join(base, 'live-state'),
        poll_ms: 100,
        sinks: [],
      },
      undefined,
    ),
    {
      writeErr: () => {},
      onAlert: (alert) => {
        const t = returned.get(alert.run_ids[0] ?? '');
        if (alert.pattern === 'policy' && t !== undefined) latencies.push(performance.now() - t);
      },
    },
  );
  const following = live.run();
  const until = performance.now() + seconds * 1000;
  const traffic = (async () => {
    while (performance.now() < until)
      await runAnomalyScenario({ normalRuns: 100, planted: false, concurrency: 4 });
  })();
  let n = 0;
  while (performance.now() < until) {
    const runId = `run-live-stop-${n++}`;
    await runWorkflow(
      { agentId: 'support-agent', runId, tenantId: 'acme', triggerPrincipal: 'user:456' },
      async () => {
        try {
          await traceToolCall(
            {
              toolName: 'issue_refund',
              input: { order_id: 'A-1', amount: 5000 },
              policy: () => ({ outcome: 'stop', reason: 'refund above limit' }),
            },
            async () => ({}),
          );
        } catch {
          returned.set(runId, performance.now());
        }
      },
    );
    await new Promise((r) => setTimeout(r, 100));
  }
  await traffic;
  await audit.forceFlush();
  await audit.shutdown();
  const deadline = performance.now() + 10_000;
  while (latencies.length < returned.size && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  live.stop();
  await following;
  await live.close();
  log(`live: ${latencies.length}/${returned.size} planted stops alerted`);
  if (latencies.length < returned.size)
    throw new Error(
      `live: only ${latencies.length} of ${returned.size} planted stops were alerted within 10 s`,
    );
  return latencies;
}

/** The caller-appendable records of a store (spans and events), for re-appending. */
function entriesOf(source: string, max: number): AppendEntry[] {
  const reader = openSegmentReader(source);
  const entries: AppendEntry[] = [];
  for (let seq = 1; entries.length < max; ) {
    const batch = reader.recordsFrom(seq, 5000);
    if (batch.length === 0) break;
    for (const r of batch) {
      if (r.type === 'span.start' || r.type === 'span.end' || r.type === 'event') {
        entries.push({ type: r.type as EntryType, tags: r.tags, payload: r.payload });
      }
    }
    seq = batch[batch.length - 1]!.seq + 1;
  }
  reader.close();
  return entries.slice(0, max);
}

/** Seconds to append `entries` to a fresh store as fast as it takes them. */
async function storeSeconds(
  entries: AppendEntry[],
  dir: string,
  trustDir: string,
): Promise<number> {
  const store = AuditStore.open({ dir, trustDir });
  const started = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < entries.length; i += 64) {
    pending.push(store.appendBatch(entries.slice(i, i + 64)));
    if (pending.length >= 16) await pending.shift();
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return seconds;
}

/**
 * Store writes vs watcher reads of the same records, three rounds (a fresh store, then a fresh
 * watcher over it, each round), the median of the per-round ratios: the machine is shared.
 */
async function watchVsStore(source: string, base: string) {
  const entries = entriesOf(source, 40_000);
  const rounds: { store: number; watch: number }[] = [];
  for (let round = 0; round < 3; round++) {
    const dirs = scenarioStores(join(base, `round-${round}`));
    const storeS = await storeSeconds(entries, dirs.store, dirs.trust);
    const watcher = scenarioWatcher(dirs, 100);
    const started = performance.now();
    const watched = await watcher.runOnce();
    const watchS = (performance.now() - started) / 1000;
    await watcher.close();
    rounds.push({ store: entries.length / storeS, watch: watched.records / watchS });
    log(
      `round ${round}: store ${Math.round(entries.length / storeS)} records/s, watcher ${Math.round(watched.records / watchS)} records/s`,
    );
    rmSync(join(base, `round-${round}`), { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    ratio: median(rounds.map((r) => r.watch / r.store)),
    store: median(rounds.map((r) => r.store)),
    watch: median(rounds.map((r) => r.watch)),
    records: entries.length,
  };
}

export async function runAnomaliesBench(): Promise<Figures> {
  const root = mkdtempSync(join(tmpdir(), 'agent-audit-anomaly-bench-'));
  try {
    const a = await scenario(join(root, 'anomalies'), 1500, true);
    log(
      `recall ${a.score.recall} (${a.watched.alerts.length} alerts, missed ${a.score.missed.join(', ') || 'none'})`,
    );
    const normalRuns = 10_000;
    const n = await scenario(join(root, 'normal'), normalRuns, false);
    log(
      `normal-only: ${n.result.runs} runs, ${n.watched.alerts.length} alerts ${JSON.stringify(n.score.byPattern)}`,
    );
    const latencies = await liveLatency(join(root, 'live'), 20);
    const rate = await watchVsStore(n.dirs.store, join(root, 'rate'));
    return {
      anomaly_recall: a.score.recall,
      anomaly_missed: a.score.missed.join(' ') || 'none',
      anomaly_false_alerts_per_10k_runs: round(
        (n.watched.alerts.length / n.result.runs) * 10_000,
        2,
      ),
      anomaly_normal_runs: n.result.runs,
      anomaly_detect_p50_s: round(quantile(latencies, 0.5) / 1000),
      anomaly_detect_p99_s: round(quantile(latencies, 0.99) / 1000),
      anomaly_detect_samples: latencies.length,
      watch_records_per_s: Math.round(rate.watch),
      store_records_per_s: Math.round(rate.store),
      watch_vs_store_ratio: round(rate.ratio, 2),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
