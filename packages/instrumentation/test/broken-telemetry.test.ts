import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getRunContext,
  PolicyStopError,
  runWorkflow,
  setAuditHooks,
  traceLlmCall,
  traceToolCall,
} from '../src/index.js';
import { setupOtel, type TestOtel } from './support/otel.js';

// "Telemetry errors never break the tool call": here the tracer itself throws on every span.
let otel: TestOtel;
const broken: TracerProvider = {
  getTracer(): Tracer {
    const fail = () => {
      throw new Error('tracer exploded');
    };
    return { startSpan: fail, startActiveSpan: fail } as unknown as Tracer;
  },
};

beforeAll(() => {
  otel = setupOtel();
  trace.disable();
  trace.setGlobalTracerProvider(broken);
});
afterAll(() => {
  trace.disable();
  trace.setGlobalTracerProvider(otel.provider);
  setAuditHooks(undefined);
});

describe('a tracer that throws', () => {
  it('the workflow and its tools still run, with the run context kept', async () => {
    const out = await runWorkflow(
      { agentId: 'a', runId: 'run-broken', credentialRef: 'cred:x' },
      async (run) => {
        expect(run.runId).toBe('run-broken');
        expect(getRunContext()?.runId).toBe('run-broken');
        const tool = await traceToolCall(
          { toolName: 't', input: { a: 1 } },
          () => getRunContext()?.runId,
        );
        const llm = await traceLlmCall({ model: 'm' }, (call) => {
          call.setResponse({ inputTokens: 1 });
          return 'llm-ok';
        });
        return [tool, llm];
      },
    );
    expect(out).toEqual(['run-broken', 'llm-ok']);
  });

  it('the agent and tool errors still propagate unchanged', async () => {
    const boom = new Error('tool failed');
    await expect(
      runWorkflow({ agentId: 'a' }, () =>
        traceToolCall({ toolName: 't', input: 1 }, () => {
          throw boom;
        }),
      ),
    ).rejects.toBe(boom);
  });

  it('a policy is still honoured (governance does not depend on telemetry)', async () => {
    let ran = false;
    await expect(
      runWorkflow({ agentId: 'a' }, () =>
        traceToolCall(
          { toolName: 't', input: 1, policy: () => ({ outcome: 'stop', reason: 'no' }) },
          () => {
            ran = true;
          },
        ),
      ),
    ).rejects.toBeInstanceOf(PolicyStopError);
    expect(ran).toBe(false);
  });
});
