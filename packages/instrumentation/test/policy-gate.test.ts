import { describe, expect, it } from 'vitest';
import {
  ApprovalRequiredError,
  type PolicyHook,
  PolicyStopError,
  runWorkflow,
  setAuditHooks,
  traceToolCall,
} from '../src/index.js';
import { useOtel } from './support/otel.js';

// The process-wide gate (issue 11 §1): one policy decides every audited tool call that brings
// none of its own, and a call no policy governs is still recorded, as `decision.policy = none`.
const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const run = {
  agentId: 'ops-agent',
  triggerPrincipal: 'user:456',
  credentialRef: 'cred:k1:run',
  runId: 'run-gate-1',
};

const stopDeletes: PolicyHook = (action) =>
  action.toolName === 'db.delete'
    ? { outcome: 'stop', reason: 'no deletes', policyId: 'global-rules', policyVersion: '2' }
    : action.toolName === 'payments.refund'
      ? { outcome: 'approval_required', reason: 'money', policyId: 'global-rules' }
      : { outcome: 'allow', policyId: 'global-rules', policyVersion: '2' };

function eventsOf(spanName: string) {
  return otel.byName(spanName).events.map((e) => ({ name: e.name, attrs: e.attributes ?? {} }));
}

describe('the process-wide policy gate', () => {
  it('stops a hand-wrapped call that brings no policy: the body never runs', async () => {
    setAuditHooks({ policy: stopDeletes });
    let ran = 0;
    const err = await runWorkflow(run, () =>
      traceToolCall({ toolName: 'db.delete', input: { id: 7 } }, () => {
        ran++;
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyStopError);
    expect(ran).toBe(0);
    const span = otel.byName('execute_tool db.delete');
    expect(span.attributes['decision.outcome']).toBe('stop');
    expect(span.attributes['decision.policy']).toBe('global-rules');
    expect(span.attributes['decision.policy_version']).toBe('2');
    expect(typeof span.attributes['decision.action_key']).toBe('string');
    const pre = eventsOf('execute_tool db.delete').find((e) => e.name === 'policy.decision');
    expect(pre?.attrs['decision.stage']).toBe('pre');
    expect(pre?.attrs['decision.outcome']).toBe('stop');
  });

  it('turns approval_required into an ApprovalRequiredError with the request', async () => {
    setAuditHooks({ policy: stopDeletes });
    const err = await runWorkflow(run, () =>
      traceToolCall({ toolName: 'payments.refund', input: { amount: 5 } }, () => 'paid'),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalRequiredError);
    expect((err as ApprovalRequiredError).request.toolName).toBe('payments.refund');
    const names = eventsOf('execute_tool payments.refund').map((e) => e.name);
    expect(names).toEqual(['decision.proposed', 'policy.decision', 'approval.requested']);
  });

  it('allows with pre and post records and authorization.method = policy', async () => {
    setAuditHooks({ policy: stopDeletes });
    const out = await runWorkflow(run, () =>
      traceToolCall({ toolName: 'kb.search', input: { q: 'x' } }, () => 'found'),
    );
    expect(out).toBe('found');
    const span = otel.byName('execute_tool kb.search');
    expect(span.attributes['decision.outcome']).toBe('allow');
    expect(span.attributes['decision.policy']).toBe('global-rules');
    expect(span.attributes['authorization.method']).toBe('policy');
    const names = eventsOf('execute_tool kb.search').map((e) => e.name);
    expect(names).toEqual(['decision.proposed', 'policy.decision', 'tool.called']);
  });

  it("lets a call's own policy win over the process-wide one", async () => {
    setAuditHooks({ policy: stopDeletes });
    let ran = 0;
    await runWorkflow(run, () =>
      traceToolCall(
        {
          toolName: 'db.delete',
          input: { id: 1 },
          policy: () => ({ outcome: 'allow', policyId: 'break-glass' }),
        },
        () => {
          ran++;
        },
      ),
    );
    expect(ran).toBe(1);
    expect(otel.byName('execute_tool db.delete').attributes['decision.policy']).toBe('break-glass');
  });

  it('records an ungoverned call as allowed by decision.policy = none in its start record', async () => {
    let startAttrs: Record<string, unknown> = {};
    setAuditHooks({
      beforeToolCall(span) {
        startAttrs = { ...(span as unknown as { attributes: Record<string, unknown> }).attributes };
      },
    });
    await runWorkflow(run, () =>
      traceToolCall({ toolName: 'kb.search', input: { q: 'x' } }, () => ({ hits: 1 })),
    );
    // The pre-exec record: the decision is in the span's start attributes, which the SDK
    // writes (durably, in fail-closed mode) before the tool runs.
    expect(startAttrs).toMatchObject({
      'decision.outcome': 'allow',
      'decision.policy': 'none',
      'decision.scope': 'user',
    });
    expect(startAttrs['decision.action_key']).toMatch(/^ak:[0-9a-f]{64}$/);
    expect(startAttrs['output.hash']).toBeUndefined();
    // The post-exec record: the ended span, with the result's hash.
    const span = otel.byName('execute_tool kb.search');
    expect(span.attributes['output.hash']).toMatch(/^sha256:/);
    // Nothing authorized it: no authorization.method on an ungoverned call, and no decider,
    // so no decision events.
    expect(span.attributes['authorization.method']).toBeUndefined();
    expect(eventsOf('execute_tool kb.search')).toEqual([]);
  });

  it('records error.type in the post-exec record when an ungoverned tool throws', async () => {
    const err = await runWorkflow(run, () =>
      traceToolCall({ toolName: 'flaky', input: {} }, () => {
        throw new RangeError('boom');
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    const span = otel.byName('execute_tool flaky');
    expect(span.attributes['error.type']).toBe('RangeError');
    expect(span.attributes['decision.policy']).toBe('none');
  });

  it('refuses a policy that is not a function, naming the option', () => {
    expect(() => setAuditHooks({ policy: 'allow-all' as unknown as PolicyHook })).toThrow(
      /Configuration: policy is invalid/,
    );
  });
});

describe('side_effect.blocked', () => {
  it('is recorded when the gate stops a call that declared its side effect', async () => {
    setAuditHooks({ policy: stopDeletes });
    await runWorkflow(run, () =>
      traceToolCall(
        {
          toolName: 'db.delete',
          input: { id: 7 },
          sideEffect: { operation: 'delete', targetSystem: 'postgres:crm' },
        },
        () => undefined,
      ),
    ).catch(() => undefined);
    const blocked = eventsOf('execute_tool db.delete').find(
      (e) => e.name === 'side_effect.blocked',
    );
    expect(blocked?.attrs['side_effect.operation']).toBe('delete');
    expect(blocked?.attrs['side_effect.target_system']).toBe('postgres:crm');
    expect(blocked?.attrs['side_effect.status']).toBe('blocked');
    expect(blocked?.attrs['decision.reason']).toMatch(/stopped by policy global-rules: no deletes/);
    // The decision is the call's policy.decision event; the blocked event is not a second one.
    expect(blocked?.attrs['decision.outcome']).toBeUndefined();
    expect(blocked?.attrs['workflow.run_id']).toBe(run.runId);
    expect(typeof blocked?.attrs['input.hash']).toBe('string');
  });

  it('is recorded when the audit record is refused (fail-closed)', async () => {
    setAuditHooks({
      beforeToolCall: () => Promise.reject(new Error('disk full')),
    });
    await runWorkflow(run, () =>
      traceToolCall(
        {
          toolName: 'mail.send',
          input: {},
          sideEffect: { operation: 'send', targetSystem: 'smtp' },
        },
        () => undefined,
      ),
    ).catch(() => undefined);
    const blocked = eventsOf('execute_tool mail.send').find(
      (e) => e.name === 'side_effect.blocked',
    );
    expect(blocked?.attrs['decision.reason']).toMatch(/could not be made durable \(disk full\)/);
  });

  it('is not recorded for an allowed call', async () => {
    await runWorkflow(run, () =>
      traceToolCall(
        {
          toolName: 'mail.send',
          input: {},
          sideEffect: { operation: 'send', targetSystem: 'smtp' },
        },
        () => undefined,
      ),
    );
    const names = eventsOf('execute_tool mail.send').map((e) => e.name);
    expect(names).not.toContain('side_effect.blocked');
  });
});

describe('integration attributes', () => {
  it('adds an integration’s own names to the start attributes', async () => {
    let startAttrs: Record<string, unknown> = {};
    setAuditHooks({
      beforeToolCall(span) {
        startAttrs = { ...(span as unknown as { attributes: Record<string, unknown> }).attributes };
      },
    });
    await runWorkflow(run, () =>
      traceToolCall(
        {
          toolName: 'weather',
          input: { city: 'Oslo' },
          attributes: { 'mcp.method.name': 'tools/call', 'jsonrpc.request.id': '3' },
        },
        () => 'sunny',
      ),
    );
    expect(startAttrs['mcp.method.name']).toBe('tools/call');
    expect(startAttrs['jsonrpc.request.id']).toBe('3');
  });

  it.each([
    ['input.hash', 'sha256:forged'],
    ['workflow.run_id', 'run-other'],
    ['decision.outcome', 'allow'],
    ['gen_ai.tool.name', 'other'],
    ['credential.ref', 'cred:x'],
  ])('refuses %s: an integration cannot overwrite the evidence', async (key, value) => {
    let ran = 0;
    await expect(
      runWorkflow(run, () =>
        traceToolCall({ toolName: 't', input: {}, attributes: { [key]: value } }, () => {
          ran++;
        }),
      ),
    ).rejects.toThrow(
      new RegExp(`Configuration: attributes\\.${key.replace('.', '\\.')} is invalid`),
    );
    expect(ran).toBe(0);
  });

  it('refuses a value that is not an attribute value', async () => {
    await expect(
      traceToolCall({ toolName: 't', attributes: { 'mcp.x': { nested: 1 } as never } }, () => 1),
    ).rejects.toThrow(/Configuration: attributes\.mcp\.x is invalid, expected a string/);
  });
});
