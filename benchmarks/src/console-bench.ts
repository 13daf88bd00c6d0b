import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedStore } from './console-store.js';

/**
 * `node benchmarks/dist/run.js console`: the audit console over a store of a million spans
 * (100,000 runs × 10 spans, 1,000 principals, 120 days), built once through the store's writer
 * and cached under the temp dir (`console-bench-<version>`; bump the version when the
 * generator changes). The console runs as its own process, as users start it; figures are
 * HTTP round trips to its JSON API on loopback:
 * - console_runs_query_ms: one principal + last 90 days (a different principal each time, so no
 *   answer comes from the console's cache), p50/p99;
 * - console_runs_landing_ms: the unfiltered first page (every run summarised), first time;
 * - console_run_api_ms: one run's timeline, six answers and integrity (`/api/runs/<id>`), p50;
 * - console_start_ms: from spawn until the console answers its first search (index built or
 *   caught up, checked against the segments).
 */
const VERSION = 'v1';
const END_MS = Date.UTC(2026, 10, 30);
const CLI = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

function quantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

async function timed(url: string): Promise<{ ms: number; body: unknown }> {
  const t = performance.now();
  const answer = await fetch(url);
  const body = await answer.json();
  const ms = performance.now() - t;
  if (!answer.ok)
    throw new Error(`bench console: ${url} answered ${answer.status}: ${JSON.stringify(body)}`);
  return { ms, body };
}

export async function runConsoleBench(): Promise<Record<string, number | string>> {
  const root = process.env.AGENT_AUDIT_BENCH_CACHE ?? tmpdir();
  const built = performance.now();
  const store = await cachedStore(root, VERSION, {
    runs: 100_000,
    toolsPerRun: 9,
    principals: 1000,
    days: 120,
    endMs: END_MS,
  });
  const buildS = (performance.now() - built) / 1000;
  process.stderr.write(
    `  store: ${store.spans} spans, ${store.records} records at ${store.dir} (${store.cached ? 'cached' : `built in ${buildS.toFixed(0)} s`})\n`,
  );
  const started = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      'console',
      '--store',
      store.dir,
      '--port',
      '0',
      '--index-dir',
      join(store.dir, '..', 'console-index'),
    ],
    {
      env: { ...process.env, AGENT_AUDIT_TRUST_DIR: store.trustDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /at (http:\/\/\S+?)\/?\n/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) =>
        reject(new Error(`bench console: the console exited (${code}) before listening`)),
      );
    });
    const since = new Date(END_MS - 90 * 86_400_000).toISOString();
    const first = await timed(`${base}/api/runs?principal=user:0&since=${since}`);
    const startMs = performance.now() - started;
    const queries: number[] = [];
    let runs = 0;
    let sample = '';
    for (let i = 1; i <= 60; i++) {
      const { ms, body } = await timed(`${base}/api/runs?principal=user:${i * 7}&since=${since}`);
      queries.push(ms);
      const page = body as { total: number; runs: Array<{ run_id: string }> };
      runs += page.total;
      sample ||= page.runs[0]?.run_id ?? '';
    }
    queries.sort((a, b) => a - b);
    const landing = await timed(`${base}/api/runs`);
    const runApi: number[] = [];
    for (let i = 0; i < 20; i++)
      runApi.push((await timed(`${base}/api/runs/${encodeURIComponent(sample)}`)).ms);
    runApi.sort((a, b) => a - b);
    return {
      console_store_spans: store.spans,
      console_start_ms: Math.round(startMs),
      console_first_query_ms: Math.round(first.ms),
      console_runs_query_ms: Math.round(quantile(queries, 0.5) * 10) / 10,
      console_runs_query_p99_ms: Math.round(quantile(queries, 0.99) * 10) / 10,
      console_runs_query_avg_runs: Math.round(runs / queries.length),
      console_runs_landing_ms: Math.round(landing.ms),
      console_run_api_ms: Math.round(quantile(runApi, 0.5) * 10) / 10,
    };
  } finally {
    child.kill('SIGTERM');
  }
}
