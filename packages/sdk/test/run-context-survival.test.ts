import { runWorkflow, traceToolCall } from '@agent-audit/instrumentation';
import { context } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentAuditHandle, registerAgentAudit } from '../src/register-agent-audit.js';
import { readSegments, type TempStore, tempStore } from './helpers.js';

// issue 4, RELIABILITY row 26: run attribution survives the async boundaries agents use, and a
// tool span never lands under another run. Each case runs several runs at once so a leak from
// one run into another would show.

describe('run context across async boundaries', () => {
  let ts: TempStore;
  let audit: AgentAuditHandle;

  beforeAll(() => {
    ts = tempStore('aa-ctx-');
    audit = registerAgentAudit({
      storeDir: ts.storeDir,
      trustDir: ts.trustDir,
      forward: false,
      installExitHandlers: false,
    });
  });
  afterAll(async () => {
    await audit.shutdown();
    ts.cleanup();
  });

  /** Runs `body` in `n` concurrent runs; returns, per run id, the run ids of its tool spans. */
  async function attribution(
    name: string,
    n: number,
    body: (i: number) => Promise<void>,
  ): Promise<Map<string, (string | undefined)[]>> {
    const runIds = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        runWorkflow({ agentId: name, credentialRef: 'cred-ref:ctx', input: { i } }, async (run) => {
          await body(i);
          return run.runId;
        }),
      ),
    );
    await audit.forceFlush();
    const tools = readSegments(ts.storeDir).filter(
      (r) => r.type === 'span.end' && r.tags.tool?.startsWith(`${name}:`),
    );
    const byRun = new Map<string, (string | undefined)[]>();
    for (const [i, runId] of runIds.entries()) {
      byRun.set(
        runId,
        tools.filter((r) => r.tags.tool === `${name}:${i}`).map((r) => r.tags.run),
      );
    }
    return byRun;
  }

  function expectOwnRunOnly(byRun: Map<string, (string | undefined)[]>, perRun: number): void {
    for (const [runId, seen] of byRun) {
      expect(seen).toHaveLength(perRun);
      expect(new Set(seen)).toEqual(new Set([runId]));
    }
  }

  it('setTimeout and setImmediate callbacks', async () => {
    const byRun = await attribution('timers', 6, async (i) => {
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          void traceToolCall({ toolName: `timers:${i}`, input: i }, () => i).then(() =>
            setImmediate(() => {
              void traceToolCall({ toolName: `timers:${i}`, input: i }, () => i).then(() =>
                resolve(),
              );
            }),
          );
        }, Math.random() * 5),
      );
    });
    expectOwnRunOnly(byRun, 2);
  });

  it('async generators consumed with for await', async () => {
    async function* steps(i: number) {
      for (let s = 0; s < 3; s++) {
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        yield await traceToolCall({ toolName: `gen:${i}`, input: { i, s } }, () => s);
      }
    }
    const byRun = await attribution('gen', 6, async (i) => {
      for await (const _ of steps(i)) {
        await new Promise((r) => setImmediate(r));
      }
    });
    expectOwnRunOnly(byRun, 3);
  });

  it('a shared promise pool that binds each task to the context it was queued in', async () => {
    // One pool for the whole process, started outside any run: its workers' own context is no
    // run at all, so only the binding at enqueue time can attribute a task.
    const queue: Array<() => Promise<void>> = [];
    const idle: Array<() => void> = [];
    let stopped = false;
    const workers = Promise.all(
      Array.from({ length: 3 }, async () => {
        while (!stopped) {
          const task = queue.shift();
          if (task) await task();
          else await new Promise<void>((r) => idle.push(r));
        }
      }),
    );
    const submit = (fn: () => Promise<void>) =>
      new Promise<void>((resolve, reject) => {
        queue.push(context.bind(context.active(), () => fn().then(resolve, reject)));
        idle.shift()?.();
      });
    const byRun = await attribution('pool', 8, async (i) => {
      await Promise.all(
        Array.from({ length: 4 }, (_, k) =>
          submit(async () => {
            await new Promise((r) => setTimeout(r, Math.random() * 3));
            await traceToolCall({ toolName: `pool:${i}`, input: { i, k } }, () => k);
          }),
        ),
      );
    });
    stopped = true;
    for (const wake of idle.splice(0)) wake();
    await workers;
    expectOwnRunOnly(byRun, 4);
  });
});
