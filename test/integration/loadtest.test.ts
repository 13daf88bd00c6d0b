import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, REPO_ROOT, startJaeger } from '../support/jaeger.js';
import { flattenSpans } from '../support/jaeger-query.js';
import { storedSpanEnds } from './fixtures/store-spans.js';

// issue 4: `pnpm loadtest` (the built benchmarks/dist/loadtest.js, as `pnpm --silent loadtest`
// runs it) against the real Jaeger, and the walkthrough of benchmarks/README.md: Jaeger killed
// during the load, restarted, `--drain-only`, and every stored span id in Jaeger.

const LOADTEST = join(REPO_ROOT, 'benchmarks/dist/loadtest.js');
const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function loadtest(args: string[]): Run {
  return node(LOADTEST, args);
}

function node(script: string, args: string[]): Run {
  const env: NodeJS.ProcessEnv = {};
  // Only the flags configure it: nothing from the test process's OTel environment.
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OTEL_|AGENT_AUDIT_)/.test(k)) env[k] = v;
  }
  const child = spawn(process.execPath, [script, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The last stdout line, parsed: the loadtest's contract. */
function lastJsonLine(run: Run): Record<string, unknown> {
  const lines = run.stdout().trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

async function jaegerSpanIds(jaeger: JaegerInstance, service: string): Promise<Set<string>> {
  const traces = await jaeger.findTraces({ service, limit: 100_000 });
  return new Set(flattenSpans(traces).map((s) => s.spanId));
}

function diff(expected: Set<string>, seen: Set<string>) {
  return {
    missing: [...expected].filter((id) => !seen.has(id)).length,
    extra: [...seen].filter((id) => !expected.has(id)).length,
  };
}

describe('pnpm loadtest against a real Jaeger', () => {
  let jaeger: JaegerInstance;
  let root: string;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'memory' });
    root = mkdtempSync(join(tmpdir(), 'aa-loadtest-'));
  });
  afterAll(async () => {
    await jaeger?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('prints the JSON summary and Jaeger ends with every stored span id', async () => {
    const service = `loadtest-${randomUUID().slice(0, 8)}`;
    const store = join(root, 'store');
    const run = loadtest([
      '--runs',
      '12',
      '--tool-calls',
      '5',
      '--concurrency',
      '4',
      '--principal',
      'user:456',
      '--store',
      store,
      '--endpoint',
      jaeger.otlpTracesUrl,
      '--service',
      service,
    ]);
    const exit = await run.exited;
    expect(exit.code, run.stderr()).toBe(0);
    const summary = lastJsonLine(run);
    expect(summary).toMatchObject({
      runs: 12,
      tool_calls: 60,
      // 12 workflow spans and 60 tool spans.
      spans: 72,
      failed_records: 0,
      principal: 'user:456',
      drain_ok: true,
      forwarded: 72,
      pending_records: 0,
      store,
      endpoint: jaeger.otlpTracesUrl,
    });
    for (const key of ['spans_per_s', 'tool_call_p50_ms', 'tool_call_p99_ms', 'elapsed_s']) {
      expect(summary[key], key).toBeTypeOf('number');
      expect(summary[key] as number, key).toBeGreaterThan(0);
    }
    expect(summary.tool_call_p99_ms as number).toBeGreaterThanOrEqual(
      summary.tool_call_p50_ms as number,
    );

    const stored = storedSpanEnds(store);
    expect(stored.size).toBe(72);
    // An OTLP 200 from this Jaeger means stored, so the query sees it all at once.
    expect(diff(stored, await jaegerSpanIds(jaeger, service))).toEqual({ missing: 0, extra: 0 });
  });

  it('refuses bad arguments with exit 2 and names the flag', async () => {
    const run = loadtest([
      '--runs',
      '0',
      '--tool-calls',
      '5',
      '--concurrency',
      '4',
      '--principal',
      'p',
    ]);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toMatch(/--runs is invalid, expected a positive integer \(actual: "0"\)/);
    expect(run.stdout()).toBe('');
    const missing = loadtest(['--runs', '3', '--tool-calls', '5', '--concurrency', '4']);
    expect((await missing.exited).code).toBe(2);
    expect(missing.stderr()).toMatch(/--principal is required/);
  });
});

describe('walkthrough: Jaeger killed during the loadtest, restarted, drained', () => {
  let jaeger: JaegerInstance;
  let root: string;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'badger' });
    root = mkdtempSync(join(tmpdir(), 'aa-loadtest-walk-'));
  });
  afterAll(async () => {
    await jaeger?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the drain puts every stored span in Jaeger', { timeout: 180_000 }, async () => {
    const service = `loadtest-walk-${randomUUID().slice(0, 8)}`;
    const store = join(root, 'store');
    // Long enough (≈ 11k spans) that the kill lands mid-load on any machine.
    const run = loadtest([
      '--runs',
      '1000',
      '--tool-calls',
      '10',
      '--concurrency',
      '8',
      '--principal',
      'user:456',
      '--store',
      store,
      '--endpoint',
      jaeger.otlpTracesUrl,
      '--service',
      service,
      '--drain-timeout-s',
      '1',
    ]);
    // The first progress line: the load and the forwarder are running.
    const deadline = Date.now() + 60_000;
    while (!/\d+\/1000 runs/.test(run.stderr())) {
      if (Date.now() > deadline) throw new Error(`no progress from the loadtest:\n${run.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await jaeger.kill();
    const exit = await run.exited;
    expect(exit.code, run.stderr()).toBe(0);
    const summary = lastJsonLine(run);
    // Jaeger was down when the load ended: not everything could be forwarded.
    expect(summary.drain_ok, JSON.stringify(summary)).toBe(false);
    expect(summary.pending_records as number).toBeGreaterThan(0);
    expect(summary.spans).toBe(11_000);

    await jaeger.restart();
    // The README's step 5: `agent-audit forward --drain`, then the loadtest's own check.
    const forward = node(CLI, [
      '--store',
      store,
      '--json',
      'forward',
      '--drain',
      '--endpoint',
      jaeger.otlpTracesUrl,
      '--timeout',
      '60s',
    ]);
    expect((await forward.exited).code, forward.stdout() + forward.stderr()).toBe(0);
    const verify = loadtest([
      '--drain-only',
      '--store',
      store,
      '--endpoint',
      jaeger.otlpTracesUrl,
      '--verify-jaeger',
      jaeger.queryUrl,
    ]);
    expect((await verify.exited).code, verify.stderr()).toBe(0);
    expect(lastJsonLine(verify)).toMatchObject({
      drain_ok: true,
      pending_records: 0,
      dead_letter_spans: 0,
      stored_spans: 11_000,
      jaeger_missing_spans: 0,
    });

    // Independently of the loadtest's own check: the span ids Jaeger's search returns for the
    // service equal the span ids in the store (nothing lost, nothing foreign).
    const stored = storedSpanEnds(store);
    expect(stored.size).toBe(11_000);
    expect(diff(stored, await jaegerSpanIds(jaeger, service))).toEqual({ missing: 0, extra: 0 });
  });
});
