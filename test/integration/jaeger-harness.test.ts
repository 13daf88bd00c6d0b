import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, startJaeger } from '../support/jaeger.js';
import {
  buildTraceRequest,
  postTraces,
  randomSpanId,
  randomTraceId,
} from '../support/otlp-json.js';

// The harness itself, against the real Jaeger binary: what goes in over OTLP/HTTP comes out of
// the query API the way the UI searches for it (service + tag), and Badger keeps it across a
// restart and a kill.

function runSpans(service: string, runId: string) {
  const traceId = randomTraceId();
  const rootId = randomSpanId();
  return buildTraceRequest({
    serviceName: service,
    spans: [
      {
        name: 'invoke_agent orchestrator',
        traceId,
        spanId: rootId,
        attributes: { 'workflow.run_id': runId, 'agent.id': 'agent-1' },
      },
      {
        name: 'execute_tool search',
        traceId,
        parentSpanId: rootId,
        attributes: {
          'workflow.run_id': runId,
          'tool.name': 'search',
          'gen_ai.tool.call.id': 'c1',
        },
      },
    ],
  });
}

describe('Jaeger harness (memory storage)', () => {
  let jaeger: JaegerInstance | undefined;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'memory' });
    console.log(`jaeger (memory) ready in ${jaeger.lastStartupMs} ms at ${jaeger.queryUrl}`);
  });
  afterAll(async () => {
    await jaeger?.dispose();
  });

  it('finds a span posted as OTLP/JSON by its workflow.run_id tag', async () => {
    const j = jaeger!;
    const service = `harness-${randomUUID().slice(0, 8)}`;
    const runId = randomUUID();
    const { body, spans } = runSpans(service, runId);
    // A second run in the same service must not come back for the first run's id.
    const other = runSpans(service, randomUUID());

    expect((await postTraces(j.otlpTracesUrl, body)).status).toBe(200);
    expect((await postTraces(j.otlpTracesUrl, other.body)).status).toBe(200);

    const found = await j.waitForSpans(
      { service, tags: { 'workflow.run_id': runId } },
      (s) => s.length >= 2,
      { timeoutMs: 20_000 },
    );
    expect(found.map((s) => s.spanId).sort()).toEqual(spans.map((s) => s.spanId).sort());
    expect(new Set(found.map((s) => s.traceId))).toEqual(new Set([spans[0]!.traceId]));
    for (const span of found) {
      expect(span.tags['workflow.run_id']).toBe(runId);
      expect(span.serviceName).toBe(service);
    }
    const tool = found.find((s) => s.operationName === 'execute_tool search');
    expect(tool?.parentSpanId).toBe(spans[0]!.spanId);

    expect(await j.getServices()).toContain(service);
    const trace = await j.getTrace(spans[0]!.traceId);
    expect(trace?.spans).toHaveLength(2);
    expect(await j.getTrace(randomTraceId())).toBeUndefined();
  });

  it('fails a wait with what it saw instead of hanging', async () => {
    const j = jaeger!;
    await expect(
      j.waitForSpans({ service: 'no-such-service' }, (s) => s.length > 0, {
        timeoutMs: 500,
        intervalMs: 100,
      }),
    ).rejects.toThrow(/condition not met within 500 ms.*last saw 0 span/s);
  });

  it('loses memory storage on restart (so the badger test below proves something)', async () => {
    const j = jaeger!;
    const service = `harness-mem-${randomUUID().slice(0, 8)}`;
    const runId = randomUUID();
    expect((await postTraces(j.otlpTracesUrl, runSpans(service, runId).body)).status).toBe(200);
    await j.waitForSpans({ service, tags: { 'workflow.run_id': runId } }, (s) => s.length === 2);
    const pidBefore = j.pid;
    await j.restart();
    expect(j.pid).not.toBe(pidBefore);
    expect(await j.findTraces({ service, tags: { 'workflow.run_id': runId } })).toEqual([]);
  });
});

describe('Jaeger harness (badger storage)', () => {
  let jaeger: JaegerInstance | undefined;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'badger' });
    console.log(`jaeger (badger) ready in ${jaeger.lastStartupMs} ms, data in ${jaeger.dataDir}`);
  });
  afterAll(async () => {
    const dataDir = jaeger?.dataDir;
    await jaeger?.dispose();
    if (dataDir) expect(existsSync(dataDir)).toBe(false);
  });

  it('keeps spans across a graceful restart and across SIGKILL', async () => {
    const j = jaeger!;
    const service = `harness-badger-${randomUUID().slice(0, 8)}`;
    const first = randomUUID();
    const firstReq = runSpans(service, first);
    expect((await postTraces(j.otlpTracesUrl, firstReq.body)).status).toBe(200);
    await j.waitForSpans({ service, tags: { 'workflow.run_id': first } }, (s) => s.length === 2);

    await j.restart();
    console.log(`jaeger (badger) restart ready in ${j.lastStartupMs} ms`);
    const afterRestart = await j.findTraces({ service, tags: { 'workflow.run_id': first } });
    expect(afterRestart.flatMap((t) => t.spans.map((s) => s.spanID)).sort()).toEqual(
      firstReq.spans.map((s) => s.spanId).sort(),
    );

    // A 200 from Jaeger's OTLP receiver means stored (no batch processor in the config), so a
    // span acknowledged right before a SIGKILL is still there afterwards.
    const second = randomUUID();
    const secondReq = runSpans(service, second);
    expect((await postTraces(j.otlpTracesUrl, secondReq.body)).status).toBe(200);
    await j.kill();
    expect(j.running).toBe(false);
    await expect(j.getServices()).rejects.toThrow();
    await j.restart();
    const found = await j.findTraces({ service, tags: { 'workflow.run_id': second } });
    expect(found.flatMap((t) => t.spans.map((s) => s.spanID)).sort()).toEqual(
      secondReq.spans.map((s) => s.spanId).sort(),
    );
    expect(await j.findTraces({ service, tags: { 'workflow.run_id': first } })).toHaveLength(1);
  });
});
