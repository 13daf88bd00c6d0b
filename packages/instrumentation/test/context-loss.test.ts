import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { getRunContext, runWorkflow, traceToolCall } from '../src/index.js';
import { useOtel } from './support/otel.js';

// Row 26: context lost across async boundaries must never be attributed to another run; an
// orphan tool span is a marked violation.
const otel = useOtel();

const agent = (runId: string) => ({ agentId: 'a', credentialRef: 'cred:x', runId });

describe('context across async boundaries', () => {
  it('setTimeout, setImmediate, process.nextTick and async generators keep the run', async () => {
    const seen: string[] = [];
    async function* pages() {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1));
        yield getRunContext()?.runId;
      }
    }
    await runWorkflow(agent('run-keep'), async () => {
      await new Promise<void>((r) =>
        setTimeout(() => {
          seen.push(getRunContext()?.runId ?? 'lost');
          r();
        }, 1),
      );
      await new Promise<void>((r) =>
        setImmediate(() => {
          seen.push(getRunContext()?.runId ?? 'lost');
          r();
        }),
      );
      await new Promise<void>((r) =>
        process.nextTick(() => {
          seen.push(getRunContext()?.runId ?? 'lost');
          r();
        }),
      );
      for await (const id of pages()) seen.push(id ?? 'lost');
    });
    expect(seen).toEqual(Array(6).fill('run-keep'));
  });

  it('an EventEmitter fired from another run attributes to the emitting run, never mixes', async () => {
    const bus = new EventEmitter();
    const calls: Promise<unknown>[] = [];
    // Listener registered inside run A; ALS gives listeners the emitter's context.
    await runWorkflow(agent('run-A'), async () => {
      bus.on('job', (n: number) => {
        calls.push(
          traceToolCall({ toolName: `job-${n}`, input: { n } }, () => getRunContext()?.runId),
        );
      });
    });
    await runWorkflow(agent('run-B'), async () => {
      bus.emit('job', 1);
    });
    bus.emit('job', 2);
    const results = await Promise.all(calls);
    expect(results).toEqual(['run-B', undefined]);
    expect(otel.byName('execute_tool job-1').attributes['workflow.run_id']).toBe('run-B');
    const orphan = otel.byName('execute_tool job-2');
    expect(orphan.attributes['workflow.run_id']).toBeUndefined();
    expect(orphan.attributes['audit.violation']).toEqual(['no_run_context']);
  });

  it('work scheduled from outside any run is an orphan, not a guess', async () => {
    let later: Promise<unknown> | undefined;
    setTimeout(() => {
      later = traceToolCall({ toolName: 'late', input: {} }, () => 1);
    }, 5);
    await runWorkflow(agent('run-C'), () => new Promise((r) => setTimeout(r, 20)));
    await later;
    const late = otel.byName('execute_tool late');
    expect(late.attributes['audit.violation']).toEqual(['no_run_context']);
  });
});
