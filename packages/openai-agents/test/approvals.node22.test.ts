import {
  ATTR_APPROVAL_APPROVER,
  ATTR_APPROVAL_DECISION,
  ATTR_APPROVAL_ID,
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_INPUT_HASH,
  hashValue,
  runWorkflow,
} from '@agent-audit/instrumentation';
import { Agent, RunState, run, setTraceProcessors, setTracingDisabled, tool } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import {
  AuditTraceProcessor,
  approveToolCall,
  auditAgent,
  NEEDS_APPROVAL_POLICY,
  recordInterruptions,
  rejectToolCall,
} from '../src/index.js';

const otel = useOtel({
  afterSetup: () => {
    setTracingDisabled(false);
    setTraceProcessors([new AuditTraceProcessor()]);
  },
});

const RUN = { agentId: 'oa-approvals', triggerPrincipal: 'user:1' };
const ARGS = { orderId: 'R9', amount: 40 };
const argsHash = () => {
  const h = hashValue(ARGS);
  if (!h.ok) throw new Error('hash');
  return h.hash;
};
const attr = (s: ReadableSpan, name: string) => s.attributes[name];

function setup() {
  const body = { n: 0 };
  const refund = tool({
    name: 'refund',
    description: 'Refunds an order',
    parameters: z.object({ orderId: z.string(), amount: z.number() }),
    needsApproval: true,
    execute: async ({ orderId }) => {
      body.n++;
      return `refunded ${orderId}`;
    },
  });
  const model = new ScriptedModel([
    [functionCall('refund', ARGS, { callId: 'call_r1' })],
    [assistantMessage('done')],
  ]);
  const agent = auditAgent(new Agent({ name: 'Refunds', model, tools: [refund] }));
  return { body, model, agent };
}

describe('needsApproval interruptions as approval records', () => {
  it('approved: request, approval bound to input.hash, then the call runs with human_approval', async () => {
    const { body, agent } = setup();
    const out = await runWorkflow({ ...RUN, runId: 'run-oa-approve' }, async () => {
      const first = await run(agent, 'refund R9');
      expect(first.interruptions).toHaveLength(1);
      expect(body.n).toBe(0);
      const requests = await recordInterruptions(first);
      expect(requests).toHaveLength(1);
      expect(requests[0]!.inputHash).toBe(argsHash());
      const receipt = await approveToolCall(first.state, first.interruptions[0]!, {
        approver: 'user:jane',
      });
      expect(receipt?.decision).toBe('approved');
      expect(receipt?.inputHash).toBe(argsHash());
      return run(agent, first.state);
    });
    expect(out.finalOutput).toBe('done');
    expect(body.n).toBe(1);

    const calls = otel.named('execute_tool refund');
    expect(calls).toHaveLength(2);
    const [asked, ran] = calls as [ReadableSpan, ReadableSpan];
    expect(attr(asked, ATTR_DECISION_OUTCOME)).toBe('approval_required');
    expect(attr(asked, ATTR_DECISION_POLICY)).toBe(NEEDS_APPROVAL_POLICY);
    expect(attr(asked, 'gen_ai.tool.call.id')).toBe('call_r1');
    const approval = otel.named('approval refund')[0]!;
    expect(attr(approval, ATTR_APPROVAL_APPROVER)).toBe('user:jane');
    expect(attr(approval, ATTR_APPROVAL_DECISION)).toBe('approved');
    expect(attr(approval, ATTR_INPUT_HASH)).toBe(argsHash());
    expect(attr(ran, ATTR_DECISION_OUTCOME)).toBe('allow');
    expect(attr(ran, 'authorization.method')).toBe('human_approval');
    expect(attr(ran, ATTR_APPROVAL_ID)).toBe(attr(approval, ATTR_APPROVAL_ID));
    expect(attr(ran, ATTR_INPUT_HASH)).toBe(argsHash());
    expect(attr(ran, 'output.hash')).toMatch(/^sha256:/);
  });

  it('rejected after a serialized RunState round trip: the body never runs, stop recorded', async () => {
    const { body, model, agent } = setup();
    const out = await runWorkflow({ ...RUN, runId: 'run-oa-reject' }, async () => {
      const first = await run(agent, 'refund R9');
      await recordInterruptions(first);
      const restored = await RunState.fromString(agent, first.state.toString());
      const item = restored.getInterruptions()[0]!;
      const receipt = await rejectToolCall(restored, item, {
        approver: 'user:jane',
        message: 'refund denied by jane',
      });
      expect(receipt?.decision).toBe('rejected');
      return run(agent, restored);
    });
    expect(out.finalOutput).toBe('done');
    expect(body.n).toBe(0);
    expect(JSON.stringify(model.lastCall?.request.input)).toContain('refund denied by jane');
    const approval = otel.named('approval refund')[0]!;
    expect(attr(approval, ATTR_APPROVAL_DECISION)).toBe('rejected');
    expect(attr(approval, ATTR_INPUT_HASH)).toBe(argsHash());
    const calls = otel.named('execute_tool refund');
    expect(calls.map((s) => attr(s, ATTR_DECISION_OUTCOME))).toEqual(['approval_required', 'stop']);
    expect(attr(calls[1]!, ATTR_APPROVAL_ID)).toBe(attr(approval, ATTR_APPROVAL_ID));
    expect(String(attr(calls[1]!, 'decision.reason'))).toContain('rejected by user:jane');
  });

  it('approved after a serialized RunState round trip, without recordInterruptions first', async () => {
    const { body, agent } = setup();
    await runWorkflow({ ...RUN, runId: 'run-oa-approve-restored' }, async () => {
      const first = await run(agent, 'refund R9');
      const restored = await RunState.fromString(agent, first.state.toString());
      await approveToolCall(restored, restored.getInterruptions()[0]!, { approver: 'user:kim' });
      return run(agent, restored);
    });
    expect(body.n).toBe(1);
    const calls = otel.named('execute_tool refund');
    expect(calls.map((s) => attr(s, ATTR_DECISION_OUTCOME))).toEqual([
      'approval_required',
      'allow',
    ]);
    expect(attr(otel.named('approval refund')[0]!, ATTR_APPROVAL_APPROVER)).toBe('user:kim');
  });

  it('state.approve() used directly: the call runs, the trail says the approver is unknown', async () => {
    const { body, agent } = setup();
    await runWorkflow({ ...RUN, runId: 'run-oa-approve-direct' }, async () => {
      const first = await run(agent, 'refund R9');
      first.state.approve(first.interruptions[0]!);
      return run(agent, first.state);
    });
    expect(body.n).toBe(1);
    const granted = otel
      .spans()
      .flatMap((s) => s.events)
      .filter((e) => e.name === 'approval.granted');
    expect(granted).toHaveLength(1);
    expect(granted[0]!.attributes?.['actor.id']).toBe('unknown');
  });

  it('attack: a receipt replayed into another run is refused; the body never runs', async () => {
    const { body, agent } = setup();
    // The human approves inside run A; the paused state is resumed inside run B.
    const saved = await runWorkflow({ ...RUN, runId: 'run-oa-replay-a' }, async () => {
      const first = await run(agent, 'refund R9');
      const restored = await RunState.fromString(agent, first.state.toString());
      await approveToolCall(restored, restored.getInterruptions()[0]!, { approver: 'user:jane' });
      return restored.toString();
    });
    await runWorkflow({ ...RUN, runId: 'run-oa-replay-b' }, async () =>
      run(agent, await RunState.fromString(agent, saved)),
    );
    expect(body.n).toBe(0);
    const calls = otel.named('execute_tool refund');
    const last = calls[calls.length - 1]!;
    expect(attr(last, 'workflow.run_id')).toBe('run-oa-replay-b');
    expect(attr(last, ATTR_DECISION_OUTCOME)).toBe('approval_required');
    const invalid = last.events.find((e) => e.name === 'approval.invalid');
    expect(invalid?.attributes?.['decision.reason']).toBe('approval is for another run');
  });
});
