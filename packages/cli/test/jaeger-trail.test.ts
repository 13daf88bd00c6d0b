import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../src/cli-error.js';
import { fetchJaegerTrail } from '../src/jaeger-trail.js';
import { runTimeline } from '../src/run-timeline.js';
import { orderTimeline } from '../src/trail-span.js';
import { type JaegerProcess, startJaeger } from './support/jaeger-process.js';
import { demoRun, spanEndPayload } from './support/otlp-fixtures.js';
import { runCli } from './support/run-cli.js';

// The real Jaeger v2 binary, fed the same OTLP/JSON payloads the store holds: trail --jaeger
// must reconstruct the same timeline from Jaeger's query API as trail does from the store.
describe('fetchJaegerTrail against a real Jaeger', () => {
  let jaeger: JaegerProcess;
  const tmp = mkdtempSync(join(tmpdir(), 'cli-jaeger-report-'));
  const runId = `run-jaeger-${process.pid}`;
  const t0 = Date.now() - 60_000;
  const { ended } = demoRun(runId, t0);

  beforeAll(async () => {
    jaeger = await startJaeger();
    for (const spec of ended) {
      const response = await fetch(jaeger.otlpTracesUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(spanEndPayload(spec)),
      });
      expect(response.status).toBe(200);
    }
  });

  afterAll(async () => {
    await jaeger?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('finds every span of the run across both services, same fields as the store', async () => {
    let spans = await fetchJaegerTrail({
      baseUrl: jaeger.queryUrl,
      runId,
      lookbackMs: 86_400_000,
      now: new Date(),
    });
    for (let i = 0; spans.length < ended.length && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      spans = await fetchJaegerTrail({
        baseUrl: jaeger.queryUrl,
        runId,
        lookbackMs: 86_400_000,
        now: new Date(),
      });
    }
    const fromJaeger = orderTimeline(spans);
    const fromStore = runTimeline(
      ended.map((spec, i) => ({ seq: i + 1, type: 'span.end', payload: spanEndPayload(spec) })),
    );
    const pick = (s: (typeof fromStore)[number]) => ({
      span_id: s.span_id,
      parent_span_id: s.parent_span_id,
      depth: s.depth,
      name: s.name,
      kind: s.kind,
      service: s.service,
      pid: s.pid,
      agent_id: s.agent_id,
      tool: s.tool,
      decision: s.decision,
      credential_ref: s.credential_ref,
      input_hash: s.input_hash,
      output_hash: s.output_hash,
      status: s.status,
      start: s.start,
      duration_ms: s.duration_ms,
    });
    expect(fromJaeger.map(pick)).toEqual(fromStore.map(pick));
    expect(new Set(fromJaeger.map((s) => s.service))).toEqual(
      new Set(['orchestrator', 'sub-agent']),
    );
    const email = fromJaeger.find((s) => s.tool === 'send_email')!;
    expect(email.events.map((e) => e.name)).toEqual(['policy.decision', 'approval.requested']);
  });

  it('the bin prints the same --json shape from Jaeger, and exits 4 for an unknown run', async () => {
    const r = await runCli([
      'trail',
      runId,
      '--jaeger',
      jaeger.queryUrl,
      '--json',
      '--lookback',
      '1d',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ run_id: runId, source: 'jaeger' });
    expect(out.spans).toHaveLength(ended.length);
    expect(out.spans[0]).toMatchObject({ depth: 0, service: 'orchestrator', pid: 4242, seq: null });
    const human = await runCli(['trail', runId, '--jaeger', jaeger.queryUrl, '--wide']);
    expect(human.stdout).toMatch(/from the Jaeger/);
    expect(human.stdout).toMatch(/sub-agent\[5151\].*research-agent.*fetch_doc/);
    const missing = await runCli(['trail', 'no-such-run', '--jaeger', jaeger.queryUrl]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/no run with workflow\.run_id=no-such-run in Jaeger/);
  });

  it('explain and report read the run from Jaeger too', async () => {
    const x = await runCli(['explain', runId, '--jaeger', jaeger.queryUrl, '--json']);
    expect(x.code).toBe(0);
    const explanation = JSON.parse(x.stdout);
    expect(explanation.trigger.principal).toBe('user:456');
    expect(explanation.approvals.map((a: { decision: string }) => a.decision)).toEqual([
      'requested',
      'approved',
      'applied',
    ]);
    expect(explanation.side_effects[0].object_id).toBe('ticket/991');
    const file = join(tmp, 'jaeger-report.html');
    const r = await runCli(['report', runId, '--jaeger', jaeger.queryUrl, '--html', file]);
    expect(r.code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('from Jaeger.');
    expect(html).toContain('sub-agent[5151]');
  });

  it('the bin exits 3 naming the URL when Jaeger is down', async () => {
    const r = await runCli(['trail', runId, '--jaeger', 'http://127.0.0.1:9', '--json']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cannot reach Jaeger at http:\/\/127\.0\.0\.1:9/);
  });

  it('returns nothing for an unknown run id', async () => {
    const spans = await fetchJaegerTrail({
      baseUrl: jaeger.queryUrl,
      runId: 'no-such-run',
      lookbackMs: 86_400_000,
      now: new Date(),
    });
    expect(spans).toEqual([]);
  });

  it('names the URL and the fix when Jaeger is not reachable', async () => {
    const attempt = fetchJaegerTrail({
      baseUrl: 'http://127.0.0.1:9',
      runId,
      lookbackMs: 1000,
      now: new Date(),
    });
    await expect(attempt).rejects.toThrow(CliError);
    await expect(attempt).rejects.toThrow(
      /cannot reach Jaeger at http:\/\/127\.0\.0\.1:9.*--jaeger/,
    );
  });
});
