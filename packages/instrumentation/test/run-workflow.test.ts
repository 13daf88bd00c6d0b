import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  ATTR_AGENT_ID,
  ATTR_AUDIT_MISSING,
  ATTR_AUDIT_VIOLATION,
  ATTR_CREDENTIAL_REF,
  ATTR_ERROR_TYPE,
  ATTR_INPUT_HASH,
  ATTR_OUTPUT_HASH,
  ATTR_WORKFLOW_RUN_ID,
  getRunContext,
  hashValue,
  runWorkflow,
  setAuditHooks,
} from '../src/index.js';
import { ATTR_GEN_AI_OPERATION_NAME } from '../src/semconv.js';
import { useOtel } from './support/otel.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const base = {
  agentId: 'support-agent',
  agentName: 'Support',
  agentVersion: '1.2.0',
  model: 'scripted-1',
  workflowName: 'refund',
  workflowVersion: '3',
  triggerPrincipal: 'user:456',
  triggerType: 'human',
  credentialRef: 'cred:run-token-1',
  tenantId: 'acme',
} as const;

describe('runWorkflow', () => {
  it('starts an invoke_agent span with every run attribute and the GenAI names', async () => {
    const out = await runWorkflow({ ...base, input: { b: 2, a: 1 } }, async (run) => {
      expect(run.runId).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(trace.getActiveSpan()).toBe(run.span);
      return { ok: true };
    });
    expect(out).toEqual({ ok: true });
    const span = otel.byName('invoke_agent Support');
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.attributes).toMatchObject({
      'agent.id': 'support-agent',
      'agent.name': 'Support',
      'agent.version': '1.2.0',
      'workflow.name': 'refund',
      'workflow.version': '3',
      'trigger.principal': 'user:456',
      'trigger.type': 'human',
      'credential.ref': 'cred:run-token-1',
      'tenant.id': 'acme',
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.id': 'support-agent',
      'gen_ai.agent.name': 'Support',
      'gen_ai.agent.version': '1.2.0',
      'gen_ai.workflow.name': 'refund',
      'gen_ai.request.model': 'scripted-1',
    });
    const inputHash = hashValue({ a: 1, b: 2 });
    expect(inputHash.ok && span.attributes[ATTR_INPUT_HASH]).toBe(inputHash.ok && inputHash.hash);
    const outHash = hashValue({ ok: true });
    expect(span.attributes[ATTR_OUTPUT_HASH]).toBe(outHash.ok ? outHash.hash : 'x');
    expect(span.attributes[ATTR_AUDIT_MISSING]).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('names the span invoke_workflow {workflowName} when there is no agent name', () => {
    runWorkflow({ agentId: 'a', workflowName: 'nightly-sync' }, () => 1);
    const span = otel.byName('invoke_workflow nightly-sync');
    expect(span.attributes[ATTR_GEN_AI_OPERATION_NAME]).toBe('invoke_workflow');
  });

  it('keeps the run through timers, promises and nested async functions', async () => {
    let seen: string[] = [];
    await runWorkflow({ ...base, runId: 'run-fixed-1' }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push(getRunContext()!.runId);
      await Promise.all(
        [1, 2, 3].map(async (i) => {
          await new Promise((r) => setImmediate(r));
          seen.push(`${getRunContext()!.runId}#${i}`);
        }),
      );
      queueMicrotask(() => seen.push(getRunContext()?.runId ?? 'lost'));
      await Promise.resolve();
    });
    expect(seen.sort()).toEqual([
      'run-fixed-1',
      'run-fixed-1',
      'run-fixed-1#1',
      'run-fixed-1#2',
      'run-fixed-1#3',
    ]);
    expect(getRunContext()).toBeUndefined();
    seen = [];
  });

  it('runs concurrent runs without mixing their ids', async () => {
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runWorkflow({ agentId: `agent-${i}` }, async (run) => {
          await new Promise((r) => setTimeout(r, (i * 7) % 5));
          const ctx = getRunContext()!;
          return [run.runId, ctx.runId, ctx.agentId];
        }),
      ),
    );
    for (const [i, [handleId, ctxId, agent]] of ids.entries()) {
      expect(ctxId).toBe(handleId);
      expect(agent).toBe(`agent-${i}`);
    }
    expect(new Set(ids.map((x) => x[0])).size).toBe(20);
    for (const s of otel.spans()) {
      const i = Number(String(s.attributes[ATTR_AGENT_ID]).slice(6));
      expect(s.attributes[ATTR_WORKFLOW_RUN_ID]).toBe(ids[i]![0]);
    }
  });

  it('a nested agent continues the parent run, principal and tenant, as a child span', async () => {
    await runWorkflow({ ...base, runId: 'run-outer' }, async (outer) => {
      await runWorkflow({ agentId: 'sub-agent', agentName: 'Sub' }, async (inner) => {
        expect(inner.runId).toBe('run-outer');
        expect(getRunContext()).toMatchObject({
          agentId: 'sub-agent',
          triggerPrincipal: 'user:456',
          triggerType: 'human',
          tenantId: 'acme',
          credentialRef: 'cred:run-token-1',
        });
        expect(inner.span.spanContext().traceId).toBe(outer.span.spanContext().traceId);
      });
    });
    const sub = otel.byName('invoke_agent Sub');
    const outer = otel.byName('invoke_agent Support');
    expect(sub.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(sub.attributes[ATTR_WORKFLOW_RUN_ID]).toBe('run-outer');
  });

  it('rethrows the agent error unchanged (async) and records status and error.type', async () => {
    class PaymentDeclined extends Error {}
    const boom = new PaymentDeclined('card declined');
    await expect(
      runWorkflow(base, async () => {
        await Promise.resolve();
        throw boom;
      }),
    ).rejects.toBe(boom);
    const span = otel.byName('invoke_agent Support');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toBe('card declined');
    expect(span.attributes[ATTR_ERROR_TYPE]).toBe('PaymentDeclined');
    expect(span.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('rethrows a synchronous throw, including non-Error values, and ends the span', () => {
    expect(() =>
      runWorkflow(base, () => {
        throw 'plain string';
      }),
    ).toThrow('plain string');
    const span = otel.byName('invoke_agent Support');
    expect(span.attributes[ATTR_ERROR_TYPE]).toBe('_OTHER');
    expect(span.ended).toBe(true);
    expect(context.active()).toBe(context.active());
  });

  it('records an unhashable input as missing, never throwing into the agent', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const r = runWorkflow({ ...base, input: cyclic }, () => 'done');
    expect(r).toBe('done');
    const span = otel.byName('invoke_agent Support');
    expect(span.attributes[ATTR_INPUT_HASH]).toBeUndefined();
    expect(String(span.attributes['input.hash_error'])).toMatch(/^cycle:/);
    expect(span.attributes[ATTR_AUDIT_MISSING]).toEqual(['input.hash']);
  });

  it('refuses a credential.ref that is really a secret (not recorded, violation marked)', () => {
    const secret = `sk-${'a1B2'.repeat(12)}`;
    runWorkflow({ ...base, credentialRef: secret }, () => undefined);
    const span = otel.byName('invoke_agent Support');
    expect(span.attributes[ATTR_CREDENTIAL_REF]).toBeUndefined();
    expect(span.attributes[ATTR_AUDIT_VIOLATION]).toEqual(['credential_ref_looks_like_secret']);
    expect(JSON.stringify(span.attributes)).not.toContain(secret);
  });

  it('uses the hooks hash key (per tenant) for input.hash', () => {
    setAuditHooks({
      hashKey: (run) => ({
        id: `k-${run?.tenantId}`,
        secret: `secret-for-${run?.tenantId}-0123456789`,
      }),
    });
    runWorkflow({ ...base, tenantId: 't1', agentName: 'A', input: 'yes' }, () => 1);
    runWorkflow({ ...base, tenantId: 't2', agentName: 'B', input: 'yes' }, () => 1);
    const a = String(otel.byName('invoke_agent A').attributes[ATTR_INPUT_HASH]);
    const b = String(otel.byName('invoke_agent B').attributes[ATTR_INPUT_HASH]);
    expect(a).toMatch(/^hmac-sha256:k-t1:[0-9a-f]{64}$/);
    expect(b).toMatch(/^hmac-sha256:k-t2:[0-9a-f]{64}$/);
    expect(a.slice(-64)).not.toBe(b.slice(-64));
  });

  it('throws Configuration errors for bad options before running anything', () => {
    let ran = false;
    const body = () => {
      ran = true;
    };
    expect(() => runWorkflow({ agentId: '' }, body)).toThrow(
      /^Configuration: agentId is invalid, expected a non-empty string \(actual: empty string\)$/,
    );
    expect(() => runWorkflow({ agentId: 'a', runId: 'bad id with spaces' }, body)).toThrow(
      /^Configuration: runId is invalid/,
    );
    expect(() => runWorkflow({ agentId: 'a', tenantId: 7 as unknown as string }, body)).toThrow(
      'Configuration: tenantId is invalid, expected a non-empty string (actual: number)',
    );
    expect(ran).toBe(false);
    expect(otel.spans()).toHaveLength(0);
  });
});
