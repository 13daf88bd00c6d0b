import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_ERROR_TYPE,
  ATTR_INPUT_HASH,
  ATTR_OUTPUT_HASH,
  AuditRefusedError,
  hashValue,
  MissingRunContextError,
  runWorkflow,
  setAuditHooks,
  traceToolCall,
} from '../src/index.js';
import { ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, ATTR_GEN_AI_TOOL_CALL_RESULT } from '../src/semconv.js';
import { useOtel } from './support/otel.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const run = {
  agentId: 'support-agent',
  agentName: 'Support',
  model: 'scripted-1',
  triggerPrincipal: 'user:456',
  credentialRef: 'cred:run-token',
  tenantId: 'acme',
  runId: 'run-tool-1',
};

const hashOf = (v: unknown) => {
  const h = hashValue(v);
  if (!h.ok) throw new Error(h.error);
  return h.hash;
};

describe('traceToolCall', () => {
  it('makes a child execute_tool span with run, tool, hash and GenAI attributes', async () => {
    const result = await runWorkflow(run, () =>
      traceToolCall(
        {
          toolName: 'db.write',
          toolVersion: '2.0',
          callId: 'call_abc',
          input: { table: 'refunds', amount: 42 },
          reason: 'customer asked for a refund',
        },
        async (call) => {
          expect(trace.getActiveSpan()).toBe(call.span);
          expect(call.callId).toBe('call_abc');
          return { rows: 1 };
        },
      ),
    );
    expect(result).toEqual({ rows: 1 });
    const tool = otel.byName('execute_tool db.write');
    const parent = otel.byName('invoke_agent Support');
    expect(tool.kind).toBe(SpanKind.INTERNAL);
    expect(tool.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(tool.attributes).toMatchObject({
      'agent.id': 'support-agent',
      'workflow.run_id': 'run-tool-1',
      'trigger.principal': 'user:456',
      'tenant.id': 'acme',
      'credential.ref': 'cred:run-token',
      'tool.name': 'db.write',
      'tool.version': '2.0',
      'tool.reason': 'customer asked for a refund',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'db.write',
      'gen_ai.tool.call.id': 'call_abc',
      'gen_ai.tool.type': 'function',
    });
    expect(tool.attributes[ATTR_INPUT_HASH]).toBe(hashOf({ amount: 42, table: 'refunds' }));
    expect(tool.attributes[ATTR_OUTPUT_HASH]).toBe(hashOf({ rows: 1 }));
    expect(tool.attributes[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]).toBeUndefined();
    expect(tool.attributes[ATTR_GEN_AI_TOOL_CALL_RESULT]).toBeUndefined();
    expect(tool.attributes[ATTR_AUDIT_MISSING]).toBeUndefined();
    expect(tool.attributes[ATTR_AUDIT_VIOLATION]).toBeUndefined();
    // GenAI agent/model names describe the invoke_agent span only; on a tool span a
    // gen_ai.request.model would make it read as a model call.
    for (const k of ['gen_ai.agent.id', 'gen_ai.agent.name', 'gen_ai.request.model']) {
      expect(tool.attributes[k]).toBeUndefined();
    }
  });

  it('has input.hash already at span start (for the pre-exec record)', async () => {
    let startAttrs: Record<string, unknown> = {};
    setAuditHooks({
      beforeToolCall(span) {
        startAttrs = { ...(span as unknown as { attributes: Record<string, unknown> }).attributes };
      },
    });
    await runWorkflow(run, () => traceToolCall({ toolName: 'search', input: { q: 'x' } }, () => 1));
    expect(startAttrs[ATTR_INPUT_HASH]).toBe(hashOf({ q: 'x' }));
    expect(startAttrs['workflow.run_id']).toBe('run-tool-1');
  });

  it("uses the call's own credentialRef over the run's, and generates a call id", async () => {
    await runWorkflow(run, () =>
      traceToolCall(
        { toolName: 'email.send', input: {}, credentialRef: 'cred:smtp-7' },
        () => 'sent',
      ),
    );
    const tool = otel.byName('execute_tool email.send');
    expect(tool.attributes[ATTR_CREDENTIAL_REF]).toBe('cred:smtp-7');
    expect(String(tool.attributes['gen_ai.tool.call.id'])).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('records raw arguments and result only when captureContent is on', async () => {
    await runWorkflow(run, () =>
      traceToolCall({ toolName: 'a', input: { b: 1, a: [1, 2] }, captureContent: true }, () => ({
        z: 1,
      })),
    );
    setAuditHooks({ captureContent: true });
    await runWorkflow(run, () => traceToolCall({ toolName: 'b', input: { q: 1 } }, () => 'r'));
    setAuditHooks({ captureContent: true });
    await runWorkflow(run, () =>
      traceToolCall({ toolName: 'c', input: { q: 1 }, captureContent: false }, () => 'r'),
    );
    expect(otel.byName('execute_tool a').attributes).toMatchObject({
      [ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]: '{"a":[1,2],"b":1}',
      [ATTR_GEN_AI_TOOL_CALL_RESULT]: '{"z":1}',
    });
    expect(otel.byName('execute_tool b').attributes[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]).toBe(
      '{"q":1}',
    );
    expect(
      otel.byName('execute_tool c').attributes[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS],
    ).toBeUndefined();
  });

  it('propagates the tool error unchanged and marks the span', async () => {
    const boom = new RangeError('quota exceeded');
    await expect(
      runWorkflow(run, () =>
        traceToolCall({ toolName: 'search', input: { q: 1 } }, () => {
          throw boom;
        }),
      ),
    ).rejects.toBe(boom);
    const tool = otel.byName('execute_tool search');
    expect(tool.status.code).toBe(SpanStatusCode.ERROR);
    expect(tool.attributes[ATTR_ERROR_TYPE]).toBe('RangeError');
    expect(tool.attributes[ATTR_OUTPUT_HASH]).toBeUndefined();
    expect(otel.byName('invoke_agent Support').attributes[ATTR_ERROR_TYPE]).toBe('RangeError');
  });

  it('outside a run: runs the tool but marks audit.violation (non-strict)', async () => {
    const r = await traceToolCall({ toolName: 'orphan', input: { a: 1 } }, () => 'ran');
    expect(r).toBe('ran');
    const tool = otel.byName('execute_tool orphan');
    expect(tool.attributes[ATTR_AUDIT_VIOLATION]).toEqual(['no_run_context']);
    expect(tool.attributes[ATTR_AUDIT_MISSING]).toEqual(
      expect.arrayContaining(['workflow.run_id', 'agent.id', 'credential.ref']),
    );
  });

  it('outside a run in strict mode: refuses before the tool runs', async () => {
    setAuditHooks({ strict: true });
    let ran = false;
    const p = traceToolCall({ toolName: 'orphan', input: {} }, () => {
      ran = true;
    });
    await expect(p).rejects.toBeInstanceOf(MissingRunContextError);
    await expect(p).rejects.toMatchObject({ code: 'no_run_context', toolName: 'orphan' });
    expect(ran).toBe(false);
    const tool = otel.byName('execute_tool orphan');
    expect(tool.attributes[ATTR_AUDIT_VIOLATION]).toEqual(['no_run_context']);
    expect(tool.attributes[ATTR_ERROR_TYPE]).toBe('MissingRunContextError');
    expect(tool.ended).toBe(true);
  });

  it('awaits beforeToolCall before the tool, and refuses when it rejects', async () => {
    const order: string[] = [];
    setAuditHooks({
      async beforeToolCall() {
        await new Promise((r) => setTimeout(r, 5));
        order.push('durable');
      },
    });
    await runWorkflow(run, () =>
      traceToolCall({ toolName: 't', input: 1 }, () => order.push('tool')),
    );
    expect(order).toEqual(['durable', 'tool']);

    const diskFull = new Error('ENOSPC');
    setAuditHooks({ beforeToolCall: () => Promise.reject(diskFull) });
    let ran = false;
    const p = runWorkflow({ ...run, agentName: 'B' }, () =>
      traceToolCall({ toolName: 'u', input: 1 }, () => {
        ran = true;
      }),
    );
    await expect(p).rejects.toBeInstanceOf(AuditRefusedError);
    await expect(p).rejects.toMatchObject({ code: 'audit_not_durable', cause: diskFull });
    expect(ran).toBe(false);
  });

  it('never lets a telemetry failure reach the tool', async () => {
    // A hash-key resolver that throws and an unhashable input and result.
    setAuditHooks({
      hashKey: () => {
        throw new Error('kms down');
      },
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    const out = await runWorkflow(run, () =>
      traceToolCall({ toolName: 't', input: cyclic }, () => ({ n: 10n ** 30n, f: () => 1 })),
    );
    expect(out.n).toBe(10n ** 30n);
    const tool = otel.byName('execute_tool t');
    expect(tool.attributes[ATTR_INPUT_HASH]).toBeUndefined();
    expect(String(tool.attributes['input.hash_error'])).toMatch(/^cycle/);
    expect(tool.attributes[ATTR_AUDIT_MISSING]).toEqual(['input.hash']);
    expect(tool.attributes[ATTR_OUTPUT_HASH]).toBe(
      hashOf({ n: '1000000000000000000000000000000' }),
    );
  });

  it('keeps parentage right for tools called concurrently from nested async code', async () => {
    await runWorkflow(run, async () => {
      await Promise.all(
        ['a', 'b', 'c'].map((name, i) =>
          traceToolCall({ toolName: name, input: { i } }, async () => {
            await new Promise((r) => setTimeout(r, 3 - i));
            return traceToolCall({ toolName: `${name}.inner`, input: { i } }, () => i);
          }),
        ),
      );
    });
    for (const name of ['a', 'b', 'c']) {
      const outer = otel.byName(`execute_tool ${name}`);
      const inner = otel.byName(`execute_tool ${name}.inner`);
      expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
      expect(inner.attributes['workflow.run_id']).toBe('run-tool-1');
    }
    expect(context.active()).toBe(context.active());
  });

  it('rejects with a Configuration error for a bad toolName, without running the tool', async () => {
    let ran = false;
    await expect(
      traceToolCall({ toolName: '' }, () => {
        ran = true;
      }),
    ).rejects.toThrow(/^Configuration: toolName is invalid/);
    expect(ran).toBe(false);
  });
});
