import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContinuousLoad, until } from '../support/continuous-load.js';
import {
  type CollectorInstance,
  type JaegerInstance,
  startCollector,
  startJaeger,
} from '../support/jaeger.js';
import { flattenSpans } from '../support/jaeger-query.js';
import { buildTraceRequest, postTraces, randomTraceId } from '../support/otlp-json.js';
import { storedSpanEnds } from './fixtures/store-spans.js';

// The shipped collector-config.yaml, run for real by the Jaeger v2 binary (an OpenTelemetry
// Collector distribution) in front of a second Jaeger as the backend: agent → collector → Jaeger.

function spansFor(service: string, runId: string, count: number, traceId = randomTraceId()) {
  return buildTraceRequest({
    serviceName: service,
    spans: Array.from({ length: count }, (_, i) => ({
      name: `execute_tool tool-${i}`,
      traceId,
      attributes: {
        'workflow.run_id': runId,
        'agent.id': 'agent-collector-test',
        'trigger.principal': 'user:alice',
        'credential.ref': 'vault:kv/agents/search',
        'tool.name': `tool-${i}`,
      },
    })),
  });
}

/**
 * What a forwarder does: retry the same batch until the collector answers 200. Connection errors
 * (collector restarting) and non-200 answers are both "not delivered yet".
 */
async function deliver(url: string, body: unknown, deadlineMs: number): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      const res = await postTraces(url, JSON.stringify(body), 15_000);
      if (res.status === 200) return attempts;
    } catch {
      // Refused or reset while the collector restarts: retry.
    }
    if (Date.now() > deadline) throw new Error(`not delivered after ${attempts} attempts`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('collector-config.yaml run by the Jaeger binary as collector', () => {
  let backend: JaegerInstance | undefined;
  let collector: CollectorInstance | undefined;

  beforeAll(async () => {
    backend = await startJaeger({ storage: 'memory' });
    // The shipped defaults (30 s retry window), so a slow restart of the backend on a busy
    // machine still falls inside it.
    collector = await startCollector({ env: { JAEGER_OTLP_ENDPOINT: backend.otlpGrpcEndpoint } });
    console.log(
      `backend ready in ${backend.lastStartupMs} ms, collector ready in ${collector.lastStartupMs} ms`,
    );
  });
  afterAll(async () => {
    await collector?.dispose();
    await backend?.dispose();
  });

  it('delivers an OTLP/HTTP JSON span to Jaeger, found by workflow.run_id with attributes intact', async () => {
    const service = `collector-${randomUUID().slice(0, 8)}`;
    const runId = randomUUID();
    const { body, spans } = spansFor(service, runId, 1);
    const t0 = Date.now();
    const res = await postTraces(collector!.otlpTracesUrl, body);
    expect(res.status).toBe(200);
    // The collector answers only once Jaeger has the span (wait_for_result), so it is
    // searchable at once; no waiting needed.
    const found = await backend!.findTraces({ service, tags: { 'workflow.run_id': runId } });
    console.log(`agent → collector → Jaeger → query: ${Date.now() - t0} ms`);
    const span = found[0]?.spans[0];
    expect(span?.spanID).toBe(spans[0]!.spanId);
    const tags = Object.fromEntries(span!.tags.map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      'workflow.run_id': runId,
      'agent.id': 'agent-collector-test',
      'trigger.principal': 'user:alice',
      'credential.ref': 'vault:kv/agents/search',
    });
  });

  it('gets a request larger than a gRPC message (4 MiB) to Jaeger whole', async () => {
    // The exporter splits by bytes; unsplit, Jaeger's receiver refuses it and the collector
    // answers 429, which a forwarder would retry forever.
    const service = `collector-big-${randomUUID().slice(0, 8)}`;
    const runId = randomUUID();
    const { body, spans } = buildTraceRequest({
      serviceName: service,
      spans: Array.from({ length: 1500 }, (_, i) => ({
        name: `execute_tool tool-${i}`,
        attributes: { 'workflow.run_id': runId, 'gen_ai.tool.call.arguments': 'x'.repeat(4000) },
      })),
    });
    const text = JSON.stringify(body);
    expect(text.length).toBeGreaterThan(5 * 1024 * 1024);
    const res = await postTraces(collector!.otlpTracesUrl, text, 60_000);
    expect(res.status, res.text).toBe(200);
    const found = await backend!.findTraces({
      service,
      tags: { 'workflow.run_id': runId },
      limit: 2000,
    });
    const ids = new Set(found.flatMap((t) => t.spans.map((s) => s.spanID)));
    expect(ids).toEqual(new Set(spans.map((s) => s.spanId)));
  });

  it('holds the answer while Jaeger is down and delivers when it is back', async () => {
    const service = `collector-outage-${randomUUID().slice(0, 8)}`;
    const runId = randomUUID();
    const { body, spans } = spansFor(service, runId, 3);
    await backend!.stop();
    let answered = false;
    const pending = postTraces(collector!.otlpTracesUrl, body, 30_000).finally(() => {
      answered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Not acknowledged while the backend is down: a 200 now would be a lie.
    expect(answered).toBe(false);
    await backend!.restart();
    const res = await pending;
    expect(res.status).toBe(200);
    const found = await backend!.findTraces({ service, tags: { 'workflow.run_id': runId } });
    expect(found.flatMap((t) => t.spans.map((s) => s.spanID)).sort()).toEqual(
      spans.map((s) => s.spanId).sort(),
    );
  });

  it('answers a retryable error, never 200, when Jaeger stays down past the retry window', async () => {
    // A second collector with a short window, so giving up happens within the test's time.
    const impatient = await startCollector({
      env: { JAEGER_OTLP_ENDPOINT: backend!.otlpGrpcEndpoint, COLLECTOR_RETRY_MAX_ELAPSED: '2s' },
    });
    const { body } = spansFor(`collector-down-${randomUUID().slice(0, 8)}`, randomUUID(), 1);
    await backend!.stop();
    try {
      const res = await postTraces(impatient.otlpTracesUrl, body, 30_000);
      console.log(
        `collector answer with Jaeger down: HTTP ${res.status} ${res.text.slice(0, 200)}`,
      );
      // 503 (or 429) tells an OTLP client to keep the batch and retry; 400 would tell it to drop.
      expect([429, 502, 503, 504]).toContain(res.status);
    } finally {
      await impatient.dispose();
      await backend!.restart();
    }
  });

  it('loses nothing when the collector is killed and restarted mid-load', async () => {
    const service = `collector-restart-${randomUUID().slice(0, 8)}`;
    const runId = randomUUID();
    const batches = Array.from({ length: 40 }, () => spansFor(service, runId, 25));
    const expected = batches.flatMap((b) => b.spans.map((s) => s.spanId)).sort();

    let sent = 0;
    let extraAttempts = 0;
    const load = (async () => {
      for (const batch of batches) {
        extraAttempts += (await deliver(collector!.otlpTracesUrl, batch.body, 60_000)) - 1;
        sent += 1;
      }
    })();
    while (sent < 10) await new Promise((resolve) => setTimeout(resolve, 10));
    await collector!.kill();
    await collector!.restart();
    await load;
    console.log(`collector restart mid-load: ${extraAttempts} re-sent batch attempt(s)`);

    const found = await backend!.waitForSpans(
      { service, tags: { 'workflow.run_id': runId }, limit: 1000 },
      (s) => s.length >= expected.length,
      { timeoutMs: 30_000 },
    );
    expect(found.map((s) => s.spanId).sort()).toEqual(expected);
  });
});

describe('agent → collector → Jaeger through the real registration, store and forwarder', () => {
  let backend: JaegerInstance | undefined;
  let collector: CollectorInstance | undefined;
  let audit: AgentAuditHandle | undefined;
  let root: string | undefined;

  beforeAll(async () => {
    backend = await startJaeger({ storage: 'memory' });
    collector = await startCollector({ env: { JAEGER_OTLP_ENDPOINT: backend.otlpGrpcEndpoint } });
    root = mkdtempSync(join(tmpdir(), 'aa-collector-sdk-'));
  });
  afterAll(async () => {
    await audit?.shutdown();
    await collector?.dispose();
    await backend?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('collector killed and restarted mid-load: after a drain Jaeger holds exactly the stored spans', async () => {
    const service = `collector-sdk-${randomUUID().slice(0, 8)}`;
    const storeDir = join(root!, 'store');
    audit = registerAgentAudit({
      serviceName: service,
      storeDir,
      trustDir: join(root!, 'trust'),
      otlpEndpoint: collector!.otlpTracesUrl,
      installExitHandlers: false,
    });
    const load = startContinuousLoad({
      agentId: 'collector-agent',
      credentialRef: 'cred-ref:collector',
      workers: 6,
    });
    const toolSpans = load.toolSpans;
    try {
      await until(() => toolSpans() >= 100, '100 tool spans before the kill');
      await collector!.kill();
      const atKill = toolSpans();
      await until(
        async () =>
          (await audit!.forwarder!.status()).consecutiveFailures > 0 && toolSpans() >= atKill + 100,
        'a failed forward and 100 more tool spans while the collector is down',
      );
      await collector!.restart();
      const atRestart = toolSpans();
      await until(() => toolSpans() >= atRestart + 100, '100 tool spans after the restart');
    } finally {
      await load.stop();
    }
    await audit.processor.forceFlush();
    const result = await audit.forwarder!.drain({ timeoutMillis: 90_000 });
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, deadLetterSpans: 0 });

    // The collector answers only once Jaeger has the spans, so after the drain they are there.
    const stored = storedSpanEnds(storeDir);
    expect(stored.size).toBeGreaterThanOrEqual(toolSpans());
    const inJaeger = new Set(
      flattenSpans(await backend!.findTraces({ service, limit: 100_000 })).map((s) => s.spanId),
    );
    const missing = [...stored].filter((id) => !inJaeger.has(id));
    const extra = [...inJaeger].filter((id) => !stored.has(id));
    expect({ missing: missing.length, extra: extra.length }).toEqual({ missing: 0, extra: 0 });
    console.log(
      `collector restart under SDK load: ${stored.size} stored spans, all in Jaeger after the drain`,
    );
  });
});

/** `name{labels} value` lines of a Prometheus text exposition, parsed. */
function scrape(
  text: string,
): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

describe('collector-config.yaml metrics pipeline: SDK metrics → collector → Prometheus exporter', () => {
  let collector: CollectorInstance | undefined;
  let audit: AgentAuditHandle | undefined;
  let root: string | undefined;

  beforeAll(async () => {
    // No Jaeger: this pipeline is metrics only (its traces exporter points nowhere and is unused).
    collector = await startCollector({ env: { JAEGER_OTLP_ENDPOINT: '127.0.0.1:9' } });
    root = mkdtempSync(join(tmpdir(), 'aa-collector-metrics-'));
  });
  afterAll(async () => {
    await audit?.shutdown();
    await collector?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('tool invocations, durations, denials by type, violations, store lag and forwarder backlog arrive', async () => {
    const service = `metrics-${randomUUID().slice(0, 8)}`;
    audit = registerAgentAudit({
      serviceName: service,
      storeDir: join(root!, 'store'),
      trustDir: join(root!, 'trust'),
      // A forwarder that cannot deliver: its backlog is the stored records.
      otlpEndpoint: 'http://127.0.0.1:9/v1/traces',
      installExitHandlers: false,
      metrics: { endpoint: `${collector!.otlpHttpUrl}/v1/metrics`, exportIntervalMillis: 500 },
    });
    const run = { agentId: 'metrics-agent', credentialRef: 'cred-ref:metrics' };
    await runWorkflow(run, async () => {
      for (let i = 0; i < 3; i++) {
        await traceToolCall({ toolName: 'crm.lookup', input: { id: i } }, () => ({ ok: true }));
      }
      await traceToolCall({ toolName: 'files.read', input: { path: 'x' } }, () => {
        throw Object.assign(new Error('EACCES: permission denied'), {
          code: 'EACCES',
          syscall: 'open',
        });
      }).catch(() => undefined);
      await traceToolCall(
        {
          toolName: 'account.close',
          input: { id: 'acc-1' },
          policy: () => ({ outcome: 'stop', policyId: 'no-closures' }),
        },
        () => undefined,
      ).catch(() => undefined);
    });
    // Outside any run: a no_run_context violation.
    await traceToolCall({ toolName: 'orphan.tool', input: {} }, () => 1);
    await audit.forceFlush();

    let samples: ReturnType<typeof scrape> = [];
    const find = (prefix: string, labels: Record<string, string>) =>
      samples.filter(
        (s) =>
          s.name.startsWith(prefix) && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      );
    await until(async () => {
      const res = await fetch(collector!.agentMetricsUrl);
      samples = scrape(await res.text());
      return (
        find('agent_audit_tool_invocations', { tool_name: 'orphan.tool' }).length > 0 &&
        find('agent_audit_forwarder_backlog', {}).some((s) => s.value > 0)
      );
    }, 'the agent metrics at the collector’s Prometheus exporter');

    const own = { agent_id: 'metrics-agent', service_name: service };
    const invocations = (labels: Record<string, string>) =>
      find('agent_audit_tool_invocations', { ...own, ...labels }).reduce((n, s) => n + s.value, 0);
    expect(invocations({ tool_name: 'crm.lookup', decision_outcome: 'allow', status: 'ok' })).toBe(
      3,
    );
    expect(invocations({ tool_name: 'files.read', status: 'error' })).toBe(1);
    expect(
      invocations({ tool_name: 'account.close', decision_outcome: 'stop', status: 'refused' }),
    ).toBe(1);
    const durationCount = find('agent_audit_tool_duration', {
      ...own,
      tool_name: 'crm.lookup',
    }).filter((s) => s.name.endsWith('_count'));
    expect(durationCount.map((s) => s.value)).toEqual([3]);
    // Sub-millisecond tools land in the sub-millisecond buckets (the boundaries start at 50 µs).
    expect(
      find('agent_audit_tool_duration', { ...own, tool_name: 'crm.lookup' }).some(
        (s) => s.name.endsWith('_bucket') && s.labels.le === '0.0001',
      ),
    ).toBe(true);
    const denials = (type: string) =>
      find('agent_audit_permission_denials', { ...own, permission_denial_type: type }).reduce(
        (n, s) => n + s.value,
        0,
      );
    expect(denials('filesystem')).toBe(1);
    expect(denials('policy')).toBe(1);
    expect(
      find('agent_audit_audit_violations', { audit_violation: 'no_run_context' }).reduce(
        (n, s) => n + s.value,
        0,
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(find('agent_audit_store_append_lag', { service_name: service }).length).toBeGreaterThan(
      0,
    );
    expect(
      Math.max(
        ...find('agent_audit_forwarder_backlog', { service_name: service }).map((s) => s.value),
      ),
    ).toBeGreaterThan(0);
  });
});
