import {
  ATTR_DECISION_OUTCOME,
  ATTR_DECISION_POLICY,
  ATTR_INPUT_HASH,
  ATTR_OUTPUT_HASH,
  ATTR_WORKFLOW_RUN_ID,
  hashValue,
  PolicyStopError,
  RUN_EVENT_VALIDATION_FAILED,
  RUN_EVENT_VALIDATION_PASSED,
  runWorkflow,
  setAuditHooks,
} from '@agent-audit/instrumentation';
import {
  Agent,
  handoff,
  InputGuardrailTripwireTriggered,
  Runner,
  run,
  setTraceProcessors,
  setTracingDisabled,
  ToolCallError,
  tool,
} from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import {
  ATTR_HANDOFF_FROM_AGENT,
  ATTR_HANDOFF_REASON,
  ATTR_HANDOFF_TO_AGENT,
  AuditModelProvider,
  AuditTraceProcessor,
  auditAgent,
  EVENT_AGENT_TURN,
  RUN_EVENT_AGENT_HANDOFF,
} from '../src/index.js';

const otel = useOtel({
  afterSetup: () => {
    setTracingDisabled(false);
    setTraceProcessors([new AuditTraceProcessor()]);
  },
});

const RUN = { agentId: 'oa-agent', triggerPrincipal: 'user:1' };

function lookupTool(counter: { n: number }) {
  return tool({
    name: 'lookup_order',
    description: 'Looks up an order',
    parameters: z.object({ orderId: z.string() }),
    execute: async ({ orderId }) => {
      counter.n++;
      return { orderId, status: 'shipped' };
    },
  });
}

const attr = (s: ReadableSpan, name: string) => s.attributes[name];

describe('auditAgent with the real @openai/agents run loop', () => {
  it('records two tool calls of one model message, each with its call id and hashes', async () => {
    const counter = { n: 0 };
    const model = new ScriptedModel([
      [
        functionCall('lookup_order', { orderId: 'A1' }, { callId: 'call_1' }),
        functionCall('lookup_order', { orderId: 'B2' }, { callId: 'call_2' }),
      ],
      [assistantMessage('both shipped')],
    ]);
    const agent = auditAgent(new Agent({ name: 'Support', model, tools: [lookupTool(counter)] }));
    const { runId, out } = await runWorkflow({ ...RUN, runId: 'run-oa-two' }, async (h) => ({
      runId: h.runId,
      out: await run(agent, 'where are my orders?'),
    }));
    expect(out.finalOutput).toBe('both shipped');
    expect(counter.n).toBe(2);
    const tools = otel.named('execute_tool lookup_order');
    expect(tools.map((s) => attr(s, 'gen_ai.tool.call.id')).sort()).toEqual(['call_1', 'call_2']);
    for (const s of tools) {
      const id = attr(s, 'gen_ai.tool.call.id');
      const input = id === 'call_1' ? { orderId: 'A1' } : { orderId: 'B2' };
      const h = hashValue(input);
      expect(h.ok && attr(s, ATTR_INPUT_HASH)).toBe(h.ok && h.hash);
      expect(attr(s, ATTR_OUTPUT_HASH)).toMatch(/^sha256:/);
      expect(attr(s, ATTR_WORKFLOW_RUN_ID)).toBe(runId);
      expect(attr(s, ATTR_DECISION_OUTCOME)).toBe('allow');
      expect(attr(s, ATTR_DECISION_POLICY)).toBe('none');
    }
    // The tool spans sit under the SDK's agent span, which sits under the run.
    const agentSpan = otel.named('agent Support')[0]!;
    expect(agentSpan).toBeDefined();
    for (const s of tools) expect(isUnder(s, agentSpan)).toBe(true);
    // Each turn of the agent is an event on its span; the SDK's task span adds no record.
    expect(
      agentSpan.events
        .filter((e) => e.name === EVENT_AGENT_TURN)
        .map((e) => e.attributes?.['openai_agents.turn']),
    ).toEqual([1, 2]);
    expect(otel.named('task ')).toHaveLength(0);
    // Each model call is an LLM call record with the tool calls it requested.
    const chats = otel.named('chat ScriptedModel');
    expect(chats).toHaveLength(2);
    expect(attr(chats[0]!, 'llm.requested_tool_call_ids')).toEqual(['call_1', 'call_2']);
    expect(attr(chats[0]!, 'gen_ai.response.finish_reasons')).toEqual(['tool_calls']);
    expect(attr(chats[1]!, 'gen_ai.response.finish_reasons')).toEqual(['stop']);
    expect(attr(chats[0]!, 'prompt.hash')).toMatch(/^sha256:/);
    for (const c of chats) expect(isUnder(c, agentSpan)).toBe(true);
  });

  it('records a handoff (from, to, the model reason) and the target agent tool call under it', async () => {
    const counter = { n: 0 };
    const billingModel = new ScriptedModel([
      [functionCall('lookup_order', { orderId: 'C3' }, { callId: 'call_b1' })],
      [assistantMessage('refund issued')],
    ]);
    const billing = new Agent({
      name: 'Billing',
      model: billingModel,
      tools: [lookupTool(counter)],
    });
    const toBilling = handoff(billing, {
      inputType: z.object({ reason: z.string() }),
      onHandoff: () => undefined,
    });
    const triageModel = new ScriptedModel([
      [
        functionCall(
          toBilling.toolName,
          { reason: 'customer asks for a refund' },
          { callId: 'call_h1' },
        ),
      ],
    ]);
    const triage = auditAgent(
      new Agent({ name: 'Triage', model: triageModel, handoffs: [toBilling] }),
    );
    const out = await runWorkflow({ ...RUN, runId: 'run-oa-handoff' }, () =>
      run(triage, 'refund please'),
    );
    expect(out.finalOutput).toBe('refund issued');
    expect(counter.n).toBe(1);
    const h = otel.named('handoff ')[0]!;
    expect(h.name).toBe('handoff Triage -> Billing');
    expect(attr(h, ATTR_HANDOFF_FROM_AGENT)).toBe('Triage');
    expect(attr(h, ATTR_HANDOFF_TO_AGENT)).toBe('Billing');
    expect(attr(h, ATTR_HANDOFF_REASON)).toBe('customer asks for a refund');
    expect(attr(h, ATTR_WORKFLOW_RUN_ID)).toBe('run-oa-handoff');
    const ev = h.events.find((e) => e.name === RUN_EVENT_AGENT_HANDOFF)!;
    expect(ev.attributes?.['actor.id']).toBe('Triage');
    expect(ev.attributes?.['target.id']).toBe('Billing');
    const t = otel.named('execute_tool lookup_order')[0]!;
    expect(attr(t, 'gen_ai.tool.call.id')).toBe('call_b1');
    expect(isUnder(t, otel.named('agent Billing')[0]!)).toBe(true);
  });

  it('audits the tools of an agent used as a tool, under the outer tool call', async () => {
    const counter = { n: 0 };
    const researcher = new Agent({
      name: 'Researcher',
      model: new ScriptedModel([
        [functionCall('lookup_order', { orderId: 'D4' }, { callId: 'call_inner' })],
        [assistantMessage('D4 is shipped')],
      ]),
      tools: [lookupTool(counter)],
    });
    const main = auditAgent(
      new Agent({
        name: 'Main',
        model: new ScriptedModel([
          [functionCall('ask_researcher', { input: 'status of D4?' }, { callId: 'call_outer' })],
          [assistantMessage('it is shipped')],
        ]),
        tools: [
          researcher.asTool({ toolName: 'ask_researcher', toolDescription: 'Asks the researcher' }),
        ],
      }),
    );
    const out = await runWorkflow({ ...RUN, runId: 'run-oa-astool' }, () => run(main, 'D4?'));
    expect(out.finalOutput).toBe('it is shipped');
    expect(counter.n).toBe(1);
    const outer = otel.named('execute_tool ask_researcher')[0]!;
    const inner = otel.named('execute_tool lookup_order')[0]!;
    expect(attr(outer, 'gen_ai.tool.call.id')).toBe('call_outer');
    expect(attr(inner, 'gen_ai.tool.call.id')).toBe('call_inner');
    expect(isUnder(inner, outer)).toBe(true);
    expect(attr(inner, ATTR_WORKFLOW_RUN_ID)).toBe('run-oa-astool');
  });

  it('audits a streamed run the same way', async () => {
    const counter = { n: 0 };
    const agent = auditAgent(
      new Agent({
        name: 'Streamer',
        model: new ScriptedModel([
          [functionCall('lookup_order', { orderId: 'E5' }, { callId: 'call_s1' })],
          [assistantMessage('streamed answer')],
        ]),
        tools: [lookupTool(counter)],
      }),
    );
    const final = await runWorkflow({ ...RUN, runId: 'run-oa-stream' }, async () => {
      const stream = await run(agent, 'E5?', { stream: true });
      for await (const _ of stream) {
        // drain
      }
      await stream.completed;
      return stream.finalOutput;
    });
    expect(final).toBe('streamed answer');
    expect(counter.n).toBe(1);
    const t = otel.named('execute_tool lookup_order')[0]!;
    expect(attr(t, 'gen_ai.tool.call.id')).toBe('call_s1');
    expect(attr(t, ATTR_WORKFLOW_RUN_ID)).toBe('run-oa-stream');
    const chats = otel.named('chat ScriptedModel');
    expect(chats).toHaveLength(2);
    expect(attr(chats[0]!, 'llm.requested_tool_call_ids')).toEqual(['call_s1']);
  });

  it('a policy stop refuses the call: the body never runs, the refusal reaches the tool errorFunction', async () => {
    const counter = { n: 0 };
    const seen: unknown[] = [];
    const guarded = tool({
      name: 'lookup_order',
      description: 'Looks up an order',
      parameters: z.object({ orderId: z.string() }),
      errorFunction: (_ctx, err) => {
        seen.push(err);
        return `refused: ${(err as Error).message}`;
      },
      execute: async () => {
        counter.n++;
        return 'found';
      },
    });
    const model = new ScriptedModel([
      [functionCall('lookup_order', { orderId: 'F6' }, { callId: 'call_p1' })],
      [assistantMessage('could not look it up')],
    ]);
    const agent = auditAgent(new Agent({ name: 'Guarded', model, tools: [guarded] }), {
      policy: () => ({ outcome: 'stop', policyId: 'orders-frozen', reason: 'orders are frozen' }),
      sideEffects: { lookup_order: { operation: 'read', targetSystem: 'orders-db' } },
    });
    const out = await runWorkflow({ ...RUN, runId: 'run-oa-stop' }, () => run(agent, 'F6?'));
    expect(out.finalOutput).toBe('could not look it up');
    expect(counter.n).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(PolicyStopError);
    const t = otel.named('execute_tool lookup_order')[0]!;
    expect(attr(t, ATTR_DECISION_OUTCOME)).toBe('stop');
    expect(attr(t, ATTR_DECISION_POLICY)).toBe('orders-frozen');
    expect(t.events.map((e) => e.name)).toContain('side_effect.blocked');
    const sent = JSON.stringify(model.lastCall?.request.input);
    expect(sent).toContain('refused: Tool call \\"lookup_order\\" stopped by policy orders-frozen');
    expect(sent).toContain('call_p1');
  });

  it('a refused call with the default errorFunction: the model gets the SDK error output', async () => {
    const counter = { n: 0 };
    const model = new ScriptedModel([
      [functionCall('lookup_order', { orderId: 'G7' }, { callId: 'call_p2' })],
      [assistantMessage('ok')],
    ]);
    const agent = auditAgent(new Agent({ name: 'Guarded2', model, tools: [lookupTool(counter)] }), {
      policy: () => ({ outcome: 'stop', reason: 'no' }),
    });
    await runWorkflow({ ...RUN, runId: 'run-oa-stop2' }, () => run(agent, 'G7?'));
    expect(counter.n).toBe(0);
    expect(JSON.stringify(model.lastCall?.request.input)).toContain(
      'An error occurred while running the tool',
    );
  });

  it('the process-wide policy (setAuditHooks) gates an audited tool that brings no policy', async () => {
    const counter = { n: 0 };
    setAuditHooks({ policy: () => ({ outcome: 'stop', policyId: 'global-freeze' }) });
    try {
      const agent = auditAgent(
        new Agent({
          name: 'Global',
          model: new ScriptedModel([
            [functionCall('lookup_order', { orderId: 'H8' }, { callId: 'call_g' })],
            [assistantMessage('ok')],
          ]),
          tools: [lookupTool(counter)],
        }),
      );
      await runWorkflow({ ...RUN, runId: 'run-oa-global' }, () => run(agent, 'H8?'));
    } finally {
      setAuditHooks(undefined);
    }
    expect(counter.n).toBe(0);
    const t = otel.named('execute_tool lookup_order')[0]!;
    expect(attr(t, ATTR_DECISION_OUTCOME)).toBe('stop');
    expect(attr(t, ATTR_DECISION_POLICY)).toBe('global-freeze');
  });

  it('a tool with errorFunction null: a refusal fails the run (the SDK idiom) and the body never runs', async () => {
    let n = 0;
    const strictTool = tool({
      name: 'wire_money',
      description: 'Wires money',
      parameters: z.object({ amount: z.number() }),
      errorFunction: null,
      execute: async () => {
        n++;
        return 'sent';
      },
    });
    const agent = auditAgent(
      new Agent({
        name: 'Payer',
        model: new ScriptedModel([
          [functionCall('wire_money', { amount: 5 }, { callId: 'call_w' })],
        ]),
        tools: [strictTool],
      }),
      { policy: () => ({ outcome: 'stop', reason: 'no wires' }) },
    );
    const err = await runWorkflow({ ...RUN, runId: 'run-oa-stop-null' }, () =>
      run(agent, 'pay'),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolCallError);
    expect(String((err as Error).message)).toContain('stopped by policy');
    expect(n).toBe(0);
  });

  it('a tool body error turned into output by the SDK is still recorded as a failed call', async () => {
    const failing = tool({
      name: 'flaky',
      description: 'Fails',
      parameters: z.object({}),
      execute: async () => {
        throw new Error('backend down');
      },
    });
    const model = new ScriptedModel([
      [functionCall('flaky', {}, { callId: 'call_f' })],
      [assistantMessage('sorry')],
    ]);
    const agent = auditAgent(new Agent({ name: 'Flaky', model, tools: [failing] }));
    await runWorkflow({ ...RUN, runId: 'run-oa-fail' }, () => run(agent, 'go'));
    const t = otel.named('execute_tool flaky')[0]!;
    expect(t.status.code).toBe(SpanStatusCode.ERROR);
    expect(attr(t, ATTR_OUTPUT_HASH)).toBeUndefined();
    expect(JSON.stringify(model.lastCall?.request.input)).toContain(
      'An error occurred while running the tool',
    );
  });

  it('arguments that are not JSON: the SDK never invokes the tool; recorded as a failed validation', async () => {
    let n = 0;
    const t0 = tool({
      name: 'echo',
      description: 'Echo',
      parameters: z.object({ x: z.string() }),
      execute: async ({ x }) => {
        n++;
        return x;
      },
    });
    const model = new ScriptedModel([
      [functionCall('echo', '{not json', { callId: 'call_bad' })],
      [assistantMessage('retry later')],
    ]);
    const agent = auditAgent(new Agent({ name: 'Echo', model, tools: [t0] }));
    await runWorkflow({ ...RUN, runId: 'run-oa-badjson' }, () => run(agent, 'go'));
    expect(n).toBe(0);
    expect(otel.named('execute_tool echo')).toHaveLength(0);
    const events = otel
      .spans()
      .flatMap((s) => s.events)
      .filter((e) => e.name === RUN_EVENT_VALIDATION_FAILED);
    expect(events).toHaveLength(1);
    expect(events[0]!.attributes?.['target.id']).toBe('tool-arguments:echo');
    expect(events[0]!.attributes?.[ATTR_WORKFLOW_RUN_ID]).toBe('run-oa-badjson');
  });

  it('records guardrail results as validation records', async () => {
    const agent = auditAgent(
      new Agent({
        name: 'Checked',
        model: new ScriptedModel([[assistantMessage('fine')]]),
        inputGuardrails: [
          {
            name: 'no_secrets',
            execute: async () => ({ outputInfo: {}, tripwireTriggered: false }),
          },
        ],
      }),
    );
    await runWorkflow({ ...RUN, runId: 'run-oa-guard' }, () => run(agent, 'hello'));
    const g = otel.named('guardrail no_secrets')[0]!;
    expect(attr(g, 'guardrail.triggered')).toBe(false);
    const ev = g.events.find((e) => e.name === RUN_EVENT_VALIDATION_PASSED)!;
    expect(ev.attributes?.[ATTR_WORKFLOW_RUN_ID]).toBe('run-oa-guard');
    expect(ev.attributes?.['target.id']).toBe('guardrail:no_secrets');
  });

  it('with the SDK tracing off, concurrent runs keep their own records (no-op spans are never keys)', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const slow = tool({
      name: 'slow',
      description: 'Waits',
      parameters: z.object({}),
      execute: async () => {
        entered();
        await gate;
        return 'slow done';
      },
    });
    const agentA = auditAgent(
      new Agent({
        name: 'A',
        model: new ScriptedModel([
          [functionCall('slow', {}, { callId: 'call_a' })],
          [assistantMessage('a done')],
        ]),
        tools: [slow],
      }),
    );
    const agentB = auditAgent(
      new Agent({
        name: 'B',
        model: new ScriptedModel([
          [functionCall('lookup_order', { orderId: 'Z1' }, { callId: 'call_b' })],
          [assistantMessage('b done')],
        ]),
        tools: [lookupTool({ n: 0 })],
      }),
    );
    setTracingDisabled(true);
    try {
      const a = runWorkflow({ ...RUN, runId: 'run-oa-conc-a' }, () => run(agentA, 'a'));
      await inside;
      await runWorkflow({ ...RUN, runId: 'run-oa-conc-b' }, () => run(agentB, 'b'));
      release();
      await a;
    } finally {
      setTracingDisabled(false);
    }
    const runOf = (s: ReadableSpan) => attr(s, ATTR_WORKFLOW_RUN_ID);
    const byId = new Map(otel.spans().map((s) => [s.spanContext().spanId, s]));
    const chats = otel.named('chat ScriptedModel');
    expect(chats).toHaveLength(4);
    for (const c of chats) {
      // Each model call sits directly under its own run's span.
      const parent = byId.get(c.parentSpanContext?.spanId ?? '');
      expect(parent?.name).toBe('invoke_agent');
      expect(runOf(parent!)).toBe(runOf(c));
    }
    expect(chats.map(runOf).sort()).toEqual([
      'run-oa-conc-a',
      'run-oa-conc-a',
      'run-oa-conc-b',
      'run-oa-conc-b',
    ]);
    expect(runOf(otel.named('execute_tool slow')[0]!)).toBe('run-oa-conc-a');
    expect(runOf(otel.named('execute_tool lookup_order')[0]!)).toBe('run-oa-conc-b');
  });

  it('a handoff given as a plain agent is converted and audited: the target tools too', async () => {
    const counter = { n: 0 };
    const target = new Agent({
      name: 'Orders',
      model: new ScriptedModel([
        [functionCall('lookup_order', { orderId: 'P1' }, { callId: 'call_p' })],
        [assistantMessage('orders done')],
      ]),
      tools: [lookupTool(counter)],
    });
    const front = auditAgent(
      new Agent({
        name: 'Front',
        model: new ScriptedModel([[functionCall('transfer_to_Orders', {}, { callId: 'call_t' })]]),
        handoffs: [target],
      }),
    );
    const out = await runWorkflow({ ...RUN, runId: 'run-oa-plain-handoff' }, () =>
      run(front, 'go'),
    );
    expect(out.finalOutput).toBe('orders done');
    expect(counter.n).toBe(1);
    const h = otel.named('handoff ')[0]!;
    expect(h.name).toBe('handoff Front -> Orders');
    expect(attr(h, ATTR_HANDOFF_REASON)).toBeUndefined();
    expect(attr(otel.named('execute_tool lookup_order')[0]!, 'gen_ai.tool.call.id')).toBe('call_p');
  });

  it('a triggered guardrail is a failed validation and the run stops with the SDK error', async () => {
    const agent = auditAgent(
      new Agent({
        name: 'Tripped',
        model: new ScriptedModel([[assistantMessage('never')]]),
        inputGuardrails: [
          {
            name: 'no_card_numbers',
            execute: async () => ({ outputInfo: {}, tripwireTriggered: true }),
          },
        ],
      }),
    );
    const err = await runWorkflow({ ...RUN, runId: 'run-oa-trip' }, () =>
      run(agent, '4111111111111111'),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputGuardrailTripwireTriggered);
    const g = otel.named('guardrail no_card_numbers')[0]!;
    expect(attr(g, 'guardrail.triggered')).toBe(true);
    const ev = g.events.find((e) => e.name === RUN_EVENT_VALIDATION_FAILED)!;
    expect(ev.attributes?.['target.id']).toBe('guardrail:no_card_numbers');
    expect(ev.attributes?.[ATTR_WORKFLOW_RUN_ID]).toBe('run-oa-trip');
  });

  it('AuditModelProvider records the model calls of agents that name their model', async () => {
    const counter = { n: 0 };
    const scripted = new ScriptedModel([
      [functionCall('lookup_order', { orderId: 'Q1' }, { callId: 'call_q' })],
      [assistantMessage('named model done')],
    ]);
    const provider = { getModel: async () => scripted };
    const runner = new Runner({ modelProvider: new AuditModelProvider(provider) });
    const agent = auditAgent(
      new Agent({ name: 'Named', model: 'scripted-named-1', tools: [lookupTool(counter)] }),
    );
    const out = await runWorkflow({ ...RUN, runId: 'run-oa-provider' }, () =>
      runner.run(agent, 'Q1?'),
    );
    expect(out.finalOutput).toBe('named model done');
    const chats = otel.named('chat scripted-named-1');
    expect(chats).toHaveLength(2);
    expect(attr(chats[0]!, 'llm.requested_tool_call_ids')).toEqual(['call_q']);
    expect(attr(chats[0]!, ATTR_WORKFLOW_RUN_ID)).toBe('run-oa-provider');
  });
});

function isUnder(child: ReadableSpan, ancestor: ReadableSpan): boolean {
  const byId = new Map(otel.spans().map((s) => [s.spanContext().spanId, s]));
  let cur: ReadableSpan | undefined = child;
  while (cur !== undefined) {
    const pid = cur.parentSpanContext?.spanId;
    if (pid === undefined) return false;
    if (pid === ancestor.spanContext().spanId) return true;
    cur = byId.get(pid);
  }
  return false;
}
