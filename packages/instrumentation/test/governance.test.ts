import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  type ApprovalRequest,
  ApprovalRequiredError,
  credentialRef,
  hashValue,
  type PolicyHook,
  PolicyStopError,
  type ProposedAction,
  recordApproval,
  recordCredentialIssued,
  recordPolicyChange,
  recordRunEvent,
  recordSideEffect,
  runWorkflow,
  setAuditHooks,
  subjectRef,
  traceToolCall,
} from '../src/index.js';
import { useOtel } from './support/otel.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const run = {
  agentId: 'ops-agent',
  agentName: 'Ops',
  triggerPrincipal: 'user:456',
  triggerType: 'human',
  credentialRef: 'cred:k1:run',
  tenantId: 'acme',
  runId: 'run-gov-1',
};

const hashOf = (v: unknown) => (hashValue(v) as { hash: string }).hash;
const events = (spanName: string) => otel.byName(spanName).events.map((e) => e.name);
const event = (spanName: string, name: string) => {
  const e = otel.byName(spanName).events.find((x) => x.name === name);
  if (e === undefined) throw new Error(`no event ${name} on ${spanName}`);
  return e.attributes ?? {};
};

/** Refunds up to 100 are allowed, above need approval, deletes are stopped. */
const refundPolicy: PolicyHook = async (action) => {
  await Promise.resolve();
  const input = action.input as { amount?: number };
  if (action.toolName === 'db.delete') {
    return {
      outcome: 'stop',
      reason: 'deletes are not allowed for agents',
      policyId: 'no-deletes',
      policyVersion: '3',
    };
  }
  if ((input.amount ?? 0) > 100) {
    return {
      outcome: 'approval_required',
      reason: 'refund above 100',
      policyId: 'refund-limit',
      policyVersion: '7',
    };
  }
  return { outcome: 'allow', reason: 'within limit', policyId: 'refund-limit', policyVersion: '7' };
};

describe('policy decisions', () => {
  it('allow: the decision is in the start attributes and pre/post events', async () => {
    let startAttrs: Record<string, unknown> = {};
    setAuditHooks({
      beforeToolCall(span) {
        startAttrs = { ...(span as unknown as { attributes: Record<string, unknown> }).attributes };
      },
    });
    const out = await runWorkflow(run, () =>
      traceToolCall({ toolName: 'refund', input: { amount: 40 }, policy: refundPolicy }, () => ({
        id: 'r-1',
      })),
    );
    expect(out).toEqual({ id: 'r-1' });
    expect(startAttrs).toMatchObject({
      'decision.outcome': 'allow',
      'decision.reason': 'within limit',
      'decision.policy': 'refund-limit',
      'decision.policy_version': '7',
      'decision.scope': 'user',
      'authorization.method': 'policy',
    });
    expect(String(startAttrs['decision.action_key'])).toMatch(/^ak:[0-9a-f]{64}$/);
    expect(events('execute_tool refund')).toEqual([
      'decision.proposed',
      'policy.decision',
      'tool.called',
    ]);
    expect(event('execute_tool refund', 'policy.decision')).toMatchObject({
      'decision.stage': 'pre',
      'decision.outcome': 'allow',
      'input.hash': hashOf({ amount: 40 }),
      'actor.type': 'system',
      'actor.id': 'refund-limit',
      'workflow.run_id': 'run-gov-1',
    });
    expect(event('execute_tool refund', 'tool.called')).toMatchObject({
      'decision.stage': 'post',
      'output.hash': hashOf({ id: 'r-1' }),
    });
  });

  it('the action key is stable for the same action and subject, and differs otherwise', async () => {
    const keys: string[] = [];
    const spy: PolicyHook = (a: ProposedAction) => {
      keys.push(a.actionKey);
      return { outcome: 'allow' };
    };
    await runWorkflow(run, async () => {
      await traceToolCall({ toolName: 't', input: { a: 1, b: 2 }, policy: spy }, () => 1);
      await traceToolCall({ toolName: 't', input: { b: 2, a: 1 }, policy: spy }, () => 1);
      await traceToolCall({ toolName: 't', input: { a: 2, b: 2 }, policy: spy }, () => 1);
      await traceToolCall(
        { toolName: 't', input: { a: 1, b: 2 }, policy: spy, scope: 'global' },
        () => 1,
      );
    });
    await runWorkflow({ ...run, triggerPrincipal: 'user:789' }, () =>
      traceToolCall({ toolName: 't', input: { a: 1, b: 2 }, policy: spy }, () => 1),
    );
    expect(keys[0]).toBe(keys[1]);
    expect(new Set(keys).size).toBe(4);
  });

  it('stop: refuses with PolicyStopError before the tool runs, recorded with reason', async () => {
    let ran = false;
    const p = runWorkflow(run, () =>
      traceToolCall(
        { toolName: 'db.delete', input: { table: 'users' }, policy: refundPolicy },
        () => {
          ran = true;
        },
      ),
    );
    await expect(p).rejects.toBeInstanceOf(PolicyStopError);
    await expect(p).rejects.toMatchObject({
      code: 'policy_stop',
      decision: { outcome: 'stop', policyId: 'no-deletes' },
    });
    expect(ran).toBe(false);
    const span = otel.byName('execute_tool db.delete');
    expect(span.attributes).toMatchObject({
      'decision.outcome': 'stop',
      'decision.reason': 'deletes are not allowed for agents',
      'decision.policy': 'no-deletes',
      'error.type': 'PolicyStopError',
    });
    expect(span.attributes['authorization.method']).toBeUndefined();
    expect(events('execute_tool db.delete')).toEqual(['decision.proposed', 'policy.decision']);
  });

  it('a throwing policy hook propagates its own error and the tool does not run', async () => {
    const broken = new TypeError('policy store down');
    let ran = false;
    await expect(
      runWorkflow(run, () =>
        traceToolCall(
          {
            toolName: 't',
            input: 1,
            policy: () => {
              throw broken;
            },
          },
          () => {
            ran = true;
          },
        ),
      ),
    ).rejects.toBe(broken);
    expect(ran).toBe(false);
    expect(otel.byName('execute_tool t').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('an invalid decision object is a Configuration error', async () => {
    await expect(
      runWorkflow(run, () =>
        traceToolCall(
          { toolName: 't', input: 1, policy: () => ({ outcome: 'maybe' }) as never },
          () => 1,
        ),
      ),
    ).rejects.toThrow(
      /^Configuration: policy decision is invalid, expected outcome allow\|stop\|approval_required/,
    );
  });
});

describe('approval chain: approval_required → approved → allow → result', () => {
  it('records the whole chain across three steps, with an edit by a named human', async () => {
    const proposed = { amount: 250, to: 'acct-9' };
    const edited = { amount: 200, to: 'acct-9' };
    const result = await runWorkflow(run, async () => {
      let request: ApprovalRequest | undefined;
      try {
        await traceToolCall(
          { toolName: 'refund', input: proposed, policy: refundPolicy },
          () => 'should not run',
        );
      } catch (err) {
        expect(err).toBeInstanceOf(ApprovalRequiredError);
        request = (err as ApprovalRequiredError).request;
      }
      expect(request).toMatchObject({
        toolName: 'refund',
        runId: 'run-gov-1',
        inputHash: hashOf(proposed),
        input: proposed,
        decision: { outcome: 'approval_required', policyId: 'refund-limit' },
      });
      const receipt = recordApproval(request!, {
        approver: 'user:jane',
        decision: 'approved',
        approvedInput: edited,
        note: 'capped at 200',
      });
      expect(receipt).toMatchObject({
        approvalId: request!.approvalId,
        approver: 'user:jane',
        decision: 'approved',
        inputHash: hashOf(edited),
        proposedHash: hashOf(proposed),
        shownHash: hashOf(proposed),
        edits: ['amount'],
      });
      return traceToolCall(
        {
          toolName: 'refund',
          input: receipt.approvedInput,
          policy: refundPolicy,
          approval: receipt,
        },
        () => ({ refunded: 200 }),
      );
    });
    expect(result).toEqual({ refunded: 200 });

    const [first, third] = otel.spans().filter((s) => s.name === 'execute_tool refund');
    const approval = otel.byName('approval refund');
    const approvalId = String(first!.attributes['approval.id']);
    expect(approvalId).toMatch(/^apr_/);
    // Step 1: approval_required, the tool did not run.
    expect(first!.attributes['decision.outcome']).toBe('approval_required');
    expect(first!.attributes['error.type']).toBe('ApprovalRequiredError');
    expect(first!.events.map((e) => e.name)).toEqual([
      'decision.proposed',
      'policy.decision',
      'approval.requested',
    ]);
    // Step 2: the human decision, its own span.
    expect(approval.attributes).toMatchObject({
      'approval.id': approvalId,
      'approval.approver': 'user:jane',
      'approval.decision': 'approved',
      'approval.input_hash': hashOf(edited),
      'approval.proposed_hash': hashOf(proposed),
      'approval.edits': ['amount'],
      'approval.note': 'capped at 200',
      'actor.type': 'human',
      'actor.id': 'user:jane',
      'workflow.run_id': 'run-gov-1',
    });
    expect(approval.events.map((e) => e.name)).toEqual(['approval.granted']);
    // Step 3: allow by human approval, then the result.
    expect(third!.attributes).toMatchObject({
      'decision.outcome': 'allow',
      'authorization.method': 'human_approval',
      'approval.id': approvalId,
      'approval.approver': 'user:jane',
      'input.hash': hashOf(edited),
      'output.hash': hashOf({ refunded: 200 }),
    });
    expect(String(third!.attributes['decision.reason'])).toContain('approved by user:jane');
    expect(third!.events.map((e) => e.name)).toEqual([
      'decision.proposed',
      'policy.decision',
      'tool.called',
    ]);
    // Order in time: requested, approved, allowed.
    const t = (s: { startTime: [number, number] }) => s.startTime[0] * 1e9 + s.startTime[1];
    expect(t(first!)).toBeLessThanOrEqual(t(approval));
    expect(t(approval)).toBeLessThanOrEqual(t(third!));
  });

  it('changed arguments invalidate the approval', async () => {
    await runWorkflow(run, async () => {
      const request = await traceToolCall(
        { toolName: 'refund', input: { amount: 500 }, policy: refundPolicy },
        () => 0,
      )
        .then(() => undefined)
        .catch((e: ApprovalRequiredError) => e.request);
      const receipt = recordApproval(request!, { approver: 'user:jane', decision: 'approved' });
      let ran = false;
      const p = traceToolCall(
        { toolName: 'refund', input: { amount: 5000 }, policy: refundPolicy, approval: receipt },
        () => {
          ran = true;
        },
      );
      await expect(p).rejects.toBeInstanceOf(ApprovalRequiredError);
      expect(ran).toBe(false);
      // And an approval for one tool cannot be used for another.
      await expect(
        traceToolCall(
          { toolName: 'payout', input: { amount: 500 }, policy: refundPolicy, approval: receipt },
          () => 1,
        ),
      ).rejects.toBeInstanceOf(ApprovalRequiredError);
    });
    const spans = otel.spans().filter((s) => s.name === 'execute_tool refund');
    const invalid = spans[1]!.events.find((e) => e.name === 'approval.invalid');
    expect(invalid?.attributes?.['decision.reason']).toMatch(/input\.hash mismatch/);
  });

  it('a receipt the agent assembled or altered itself is not an approval', async () => {
    await runWorkflow(run, async () => {
      const request = await traceToolCall(
        { toolName: 'refund', input: { amount: 300 }, policy: refundPolicy },
        () => 0,
      )
        .then(() => undefined)
        .catch((e: ApprovalRequiredError) => e.request);
      const genuine = recordApproval(request!, { approver: 'user:jane', decision: 'rejected' });
      const forged = { ...genuine, decision: 'approved' as const };
      let ran = false;
      await expect(
        traceToolCall(
          { toolName: 'refund', input: { amount: 300 }, policy: refundPolicy, approval: forged },
          () => {
            ran = true;
          },
        ),
      ).rejects.toBeInstanceOf(ApprovalRequiredError);
      expect(ran).toBe(false);
    });
    const refunds = otel.spans().filter((s) => s.name === 'execute_tool refund');
    const invalid = refunds[1]!.events.find((e) => e.name === 'approval.invalid');
    expect(invalid?.attributes?.['decision.reason']).toMatch(/not issued by recordApproval/);
  });

  it('with a hash key, a receipt survives serialization (approval in another process) but not alteration', async () => {
    setAuditHooks({ hashKey: { id: 'acme-1', secret: 'q'.repeat(32) } });
    await runWorkflow(run, async () => {
      const request = await traceToolCall(
        { toolName: 'refund', input: { amount: 300 }, policy: refundPolicy },
        () => 0,
      )
        .then(() => undefined)
        .catch((e: ApprovalRequiredError) => e.request);
      const receipt = recordApproval(request!, { approver: 'user:jane', decision: 'approved' });
      expect(receipt.proof).toMatch(/^hmac-sha256:acme-1:[0-9a-f]{64}$/);
      const shipped = JSON.parse(JSON.stringify(receipt));
      const ok = await traceToolCall(
        { toolName: 'refund', input: { amount: 300 }, policy: refundPolicy, approval: shipped },
        () => 'refunded',
      );
      expect(ok).toBe('refunded');
      const altered = { ...shipped, approver: 'user:mallory' };
      await expect(
        traceToolCall(
          { toolName: 'refund', input: { amount: 300 }, policy: refundPolicy, approval: altered },
          () => 1,
        ),
      ).rejects.toBeInstanceOf(ApprovalRequiredError);
    });
    const refunds = otel.spans().filter((s) => s.name === 'execute_tool refund');
    expect(refunds[1]!.attributes['authorization.method']).toBe('human_approval');
    const invalid = refunds[2]!.events.find((e) => e.name === 'approval.invalid');
    expect(invalid?.attributes?.['decision.reason']).toMatch(/does not verify/);
    expect(JSON.stringify(otel.spans().map((s) => s.attributes))).not.toContain('q'.repeat(32));
  });

  it('a rejection stops the call', async () => {
    await runWorkflow(run, async () => {
      const request = await traceToolCall(
        { toolName: 'refund', input: { amount: 900 }, policy: refundPolicy },
        () => 0,
      )
        .then(() => undefined)
        .catch((e: ApprovalRequiredError) => e.request);
      const receipt = recordApproval(request!, {
        approver: 'user:bob',
        decision: 'rejected',
        note: 'no',
      });
      await expect(
        traceToolCall(
          { toolName: 'refund', input: { amount: 900 }, policy: refundPolicy, approval: receipt },
          () => 1,
        ),
      ).rejects.toMatchObject({
        code: 'policy_stop',
        decision: { reason: expect.stringContaining('rejected by user:bob') },
      });
    });
    expect(otel.byName('approval refund').events.map((e) => e.name)).toEqual(['approval.rejected']);
  });
});

describe('receipts and lifecycle', () => {
  it('side-effect receipt inside a tool call links the proposed input hash and action key', async () => {
    let receipt: ReturnType<typeof recordSideEffect> | undefined;
    await runWorkflow(run, () =>
      traceToolCall(
        { toolName: 'db.write', input: { row: 1 }, policy: () => ({ outcome: 'allow' }) },
        () => {
          receipt = recordSideEffect({
            targetSystem: 'postgres:billing',
            operation: 'insert',
            objectId: 'refunds/8812',
            idempotencyKey: 'idem-1',
            result: { rowCount: 1 },
          });
          return 'ok';
        },
      ),
    );
    const tool = otel.byName('execute_tool db.write');
    expect(receipt).toMatchObject({
      proposedInputHash: hashOf({ row: 1 }),
      actionKey: tool.attributes['decision.action_key'],
      resultHash: hashOf({ rowCount: 1 }),
      status: 'applied',
    });
    expect(event('execute_tool db.write', 'side_effect.applied')).toMatchObject({
      'side_effect.target_system': 'postgres:billing',
      'side_effect.operation': 'insert',
      'side_effect.object_id': 'refunds/8812',
      'side_effect.idempotency_key': 'idem-1',
      'side_effect.result_hash': hashOf({ rowCount: 1 }),
      'input.hash': hashOf({ row: 1 }),
      'target.type': 'postgres:billing',
      'target.id': 'refunds/8812',
      'workflow.run_id': 'run-gov-1',
    });
  });

  it('a side effect outside any span gets a span of its own', () => {
    recordSideEffect({ targetSystem: 'smtp', operation: 'send', status: 'blocked' });
    const span = otel.byName('side_effect send smtp');
    expect(span.events.map((e) => e.name)).toEqual(['side_effect.blocked']);
  });

  it('credentialRef is keyed, stable and non-reversible; credential.issued maps it to the run', () => {
    const token = `ghp_${'A1b2C3d4'.repeat(5)}`;
    const key = { id: 'cred-key-1', secret: 'k'.repeat(32) };
    const ref = credentialRef(token, { key });
    expect(ref).toMatch(/^cred:cred-key-1:[0-9a-f]{32}$/);
    expect(credentialRef(token, { key })).toBe(ref);
    expect(credentialRef(token, { key: { id: 'cred-key-1', secret: 'j'.repeat(32) } })).not.toBe(
      ref,
    );
    expect(ref).not.toContain(token.slice(4, 12));
    expect(() => credentialRef(token)).toThrow(/^Configuration: key is invalid/);
    setAuditHooks({ hashKey: key });
    expect(credentialRef(token)).toBe(ref);
    // A per-tenant resolver is asked with the active run.
    setAuditHooks({
      hashKey: (r) => (r?.tenantId === 'acme' ? key : { id: 'other', secret: 'o'.repeat(32) }),
    });
    expect(runWorkflow(run, () => credentialRef(token))).toBe(ref);
    expect(credentialRef(token)).toMatch(/^cred:other:/);
    setAuditHooks({ hashKey: key });
    otel.reset();

    const expires = new Date(Date.UTC(2026, 10, 26));
    runWorkflow(run, () =>
      recordCredentialIssued({
        ref,
        scopes: ['repo:read'],
        expiresAt: expires,
        issuer: 'github-app',
      }),
    );
    expect(event('invoke_agent Ops', 'credential.issued')).toMatchObject({
      'credential.ref': ref,
      'credential.scopes': ['repo:read'],
      'credential.expires_at': '2026-11-26T00:00:00.000Z',
      'credential.issuer': 'github-app',
      'workflow.run_id': 'run-gov-1',
      'agent.id': 'ops-agent',
      'trigger.principal': 'user:456',
    });
    expect(() => recordCredentialIssued({ ref: token })).toThrow(/looks like a secret/);
    expect(JSON.stringify(otel.spans().map((s) => [s.attributes, s.events]))).not.toContain(token);
  });

  it('run bookends: run.created and run.completed / run.failed / run.timed_out', async () => {
    runWorkflow(run, () => 1);
    expect(events('invoke_agent Ops')).toEqual(['run.created', 'run.completed']);
    expect(event('invoke_agent Ops', 'run.created')).toMatchObject({
      'actor.type': 'human',
      'actor.id': 'user:456',
      'target.type': 'run',
      'target.id': 'run-gov-1',
    });
    otel.reset();
    await expect(runWorkflow(run, async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(events('invoke_agent Ops')).toEqual(['run.created', 'exception', 'run.failed']);
    otel.reset();
    class TimeoutError extends Error {}
    await expect(
      runWorkflow(run, async () => Promise.reject(new TimeoutError('slow'))),
    ).rejects.toThrow('slow');
    expect(events('invoke_agent Ops')).toContain('run.timed_out');
  });

  it('recordRunEvent records actor, target and a payload hash (never the payload)', () => {
    runWorkflow(run, () => {
      recordRunEvent('retrieval.completed', {
        actorType: 'system',
        actorId: 'vector-db',
        targetType: 'index',
        targetId: 'kb-1',
        payload: { docs: ['a', 'b'], secretSauce: 'raw-doc-text' },
      });
    });
    const e = event('invoke_agent Ops', 'retrieval.completed');
    expect(e).toMatchObject({
      'actor.type': 'system',
      'actor.id': 'vector-db',
      'target.id': 'kb-1',
      'payload.hash': hashOf({ docs: ['a', 'b'], secretSauce: 'raw-doc-text' }),
      'workflow.run_id': 'run-gov-1',
    });
    expect(JSON.stringify(e)).not.toContain('raw-doc-text');
  });

  it('operator policy changes are recorded with their actor', () => {
    recordPolicyChange({
      actor: 'user:ops-anna',
      policyId: 'refund-limit',
      policyVersion: '8',
      change: { limit: 150 },
    });
    const span = otel.byName('policy.changed refund-limit');
    expect(span.attributes).toMatchObject({
      'actor.type': 'human',
      'actor.id': 'user:ops-anna',
      'decision.policy': 'refund-limit',
      'decision.policy_version': '8',
      'payload.hash': hashOf({ limit: 150 }),
    });
  });

  it('compliance fields are recorded on runs and tool calls (data subjects as keyed references)', async () => {
    const subjectKey = { id: 'subj-1', secret: 's'.repeat(32) };
    setAuditHooks({ subjectKey });
    await runWorkflow(
      { ...run, compliance: { dataClassification: 'confidential', retentionPolicy: 'audit-7y' } },
      () =>
        traceToolCall(
          {
            toolName: 'crm.update',
            input: {},
            compliance: { dataSubjects: ['customer:981'], authorizationMethod: 'just_in_time' },
          },
          () => 1,
        ),
    );
    expect(otel.byName('invoke_agent Ops').attributes).toMatchObject({
      'data.classification': 'confidential',
      'retention.policy': 'audit-7y',
    });
    expect(otel.byName('execute_tool crm.update').attributes).toMatchObject({
      'data.subjects': [subjectRef('customer:981', subjectKey)],
      'authorization.method': 'just_in_time',
    });
  });
});
