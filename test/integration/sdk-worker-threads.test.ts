import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { injectRunContext, runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { openStoreReader } from '@agent-audit/store/query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/jaeger.js';

// issue 4, RELIABILITY row 26 (worker_threads): async context does not cross into a worker, so
// the run is handed over explicitly (W3C carrier in workerData); the worker's spans land in the
// same trace and the same run, never in none or another.

const WORKER = join(REPO_ROOT, 'test/integration/fixtures/sdk-worker.mjs');

describe('run attribution across worker_threads', () => {
  let root: string;
  let audit: AgentAuditHandle;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'aa-sdk-worker-'));
    audit = registerAgentAudit({
      serviceName: 'main-thread',
      storeDir: join(root, 'main-store'),
      trustDir: join(root, 'main-trust'),
      forward: false,
      installExitHandlers: false,
    });
  });
  afterAll(async () => {
    await audit?.shutdown();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('continues the same run and trace in two concurrent workers', async () => {
    const results = await Promise.all(
      [1, 2].map((n) =>
        runWorkflow(
          {
            agentId: 'main-agent',
            triggerPrincipal: `user:${n}`,
            credentialRef: 'cred-ref:main',
            input: { n },
          },
          (run) =>
            traceToolCall({ toolName: 'offload', input: { n } }, async ({ span }) => {
              const worker = new Worker(WORKER, {
                workerData: {
                  carrier: injectRunContext({}),
                  storeDir: join(root, `worker-store-${n}`),
                  trustDir: join(root, `worker-trust-${n}`),
                  task: { n },
                  shutdown: n === 1,
                },
              });
              const [message] = (await once(worker, 'message')) as [{ runId: string }];
              await once(worker, 'exit');
              return {
                n,
                runId: run.runId,
                workerRunId: message.runId,
                traceId: span.spanContext().traceId,
                offloadSpanId: span.spanContext().spanId,
              };
            }),
        ),
      ),
    );
    for (const r of results) {
      expect(r.workerRunId).toBe(r.runId);
      const reader = openStoreReader(join(root, `worker-store-${r.n}`));
      try {
        const ends = reader.recordsFrom(0, 1000).filter((rec) => rec.type === 'span.end');
        expect(ends).toHaveLength(4);
        for (const rec of ends) {
          expect(rec.tags.run).toBe(r.runId);
          expect(rec.tags.trace).toBe(r.traceId);
          expect(rec.tags.principal).toBe(`user:${r.n}`);
        }
        const workerRoot = ends.find((rec) => rec.tags.tool === undefined)!;
        expect(workerRoot.tags.parent).toBe(r.offloadSpanId);
      } finally {
        reader.close();
      }
    }
    expect(results[0]!.runId).not.toBe(results[1]!.runId);
  });
});
