import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRunContext, runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { openStoreReader } from '@agent-audit/store/query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JaegerInstance, startJaeger } from '../support/jaeger.js';
import { flattenSpans } from '../support/jaeger-query.js';

// issue 4, RELIABILITY row 25: 50 concurrent workflows × 20 tool calls with random awaits
// interleave freely; each run id finds that run's spans and only them, parents right, in the
// store and in Jaeger.

const RUNS = 50;
const TOOL_CALLS = 20;

const pause = () =>
  new Promise<void>((resolve) => {
    const r = Math.random();
    if (r < 0.3) setImmediate(resolve);
    else if (r < 0.6) setTimeout(resolve, Math.floor(Math.random() * 5));
    else queueMicrotask(resolve);
  });

describe('50 concurrent workflows × 20 tool calls', () => {
  let jaeger: JaegerInstance;
  let root: string;
  let audit: AgentAuditHandle;
  const service = `concurrency-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    jaeger = await startJaeger({ storage: 'memory' });
    root = mkdtempSync(join(tmpdir(), 'aa-sdk-conc-'));
    audit = registerAgentAudit({
      serviceName: service,
      storeDir: join(root, 'store'),
      trustDir: join(root, 'trust'),
      otlpEndpoint: jaeger.otlpTracesUrl,
      installExitHandlers: false,
    });
  });
  afterAll(async () => {
    await audit?.shutdown();
    await jaeger?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('keeps every run to itself, in the store and in Jaeger', async () => {
    const seenInTools: string[][] = [];
    const runIds = await Promise.all(
      Array.from({ length: RUNS }, (_, i) =>
        runWorkflow(
          {
            agentId: `agent-${i % 5}`,
            triggerPrincipal: `user:${i}`,
            credentialRef: `cred-ref:${i}`,
            input: { run: i },
          },
          async (run) => {
            await pause();
            const seen: string[] = [];
            for (let t = 0; t < TOOL_CALLS; t++) {
              await pause();
              seen.push(
                await traceToolCall({ toolName: `tool_${t % 4}`, input: { i, t } }, async () => {
                  await pause();
                  return getRunContext()?.runId ?? 'none';
                }),
              );
            }
            seenInTools[i] = seen;
            return run.runId;
          },
        ),
      ),
    );
    expect(new Set(runIds).size).toBe(RUNS);
    for (const [i, runId] of runIds.entries())
      expect(new Set(seenInTools[i])).toEqual(new Set([runId]));
    await audit.forceFlush();

    // The store: a run-id query returns exactly that run's spans, sequence strictly increasing.
    const reader = openStoreReader(audit.store.dir);
    try {
      for (const [i, runId] of runIds.entries()) {
        const records = reader.runRecords(runId);
        const seqs = records.map((r) => r.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        expect(new Set(seqs).size).toBe(seqs.length);
        const ends = records.filter((r) => r.type === 'span.end');
        expect(ends).toHaveLength(TOOL_CALLS + 1);
        const root = ends.find((r) => r.tags.tool === undefined)!;
        for (const r of ends) {
          expect(r.tags.principal).toBe(`user:${i}`);
          if (r !== root) expect(r.tags.parent).toBe(root.tags.span);
        }
      }
    } finally {
      reader.close();
    }

    // Jaeger: the same, found by run id the way an investigator searches.
    for (const [i, runId] of runIds.entries()) {
      const spans = await jaeger.waitForSpans(
        { service, tags: { 'workflow.run_id': runId } },
        (found) => found.length >= TOOL_CALLS + 1,
      );
      expect(spans).toHaveLength(TOOL_CALLS + 1);
      const root = spans.find((s) => s.operationName.startsWith('invoke_'))!;
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([root.traceId]));
      for (const s of spans) {
        expect(s.tags['workflow.run_id']).toBe(runId);
        expect(s.tags['credential.ref']).toBe(`cred-ref:${i}`);
        if (s !== root) expect(s.parentSpanId).toBe(root.spanId);
      }
      // The whole trace holds nothing from another run.
      const trace = await jaeger.getTrace(root.traceId);
      expect(flattenSpans([trace!])).toHaveLength(TOOL_CALLS + 1);
    }
  });
});
