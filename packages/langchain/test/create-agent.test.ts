import { type PolicyHook, runWorkflow, setAuditHooks } from '@agent-audit/instrumentation';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { createAgent } from 'langchain';
import { describe, expect, it } from 'vitest';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import { auditMiddleware } from '../src/index.js';
import { attr, hashOf, makeTools, named, parentId, RUN } from './support/fixtures.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const stopDeletes: PolicyHook = (action) =>
  action.toolName === 'delete_account'
    ? { outcome: 'stop', reason: 'agents may not delete accounts', policyId: 'no-deletes' }
    : { outcome: 'allow', policyId: 'no-deletes' };

describe('createAgent with auditMiddleware (real langchain, fake model)', () => {
  it('one model message with two tool calls: two audited calls with the model ids, hashes and the run', async () => {
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([
        { name: 'get_weather', args: { city: 'Paris' }, id: 'call_weather_1' },
        { name: 'get_time', args: { city: 'Paris' }, id: 'call_time_1' },
      ])
      .respond(new AIMessage('Sunny, noon.'));
    const agent = createAgent({
      model,
      tools: [t.weather, t.time],
      middleware: [auditMiddleware()],
    });

    const result = await runWorkflow(RUN, () =>
      agent.invoke({ messages: [new HumanMessage('Weather and time in Paris?')] }),
    );
    expect(result.messages.at(-1)?.content).toBe('Sunny, noon.');
    expect(t.calls.weather).toBe(1);
    expect(t.calls.time).toBe(1);

    const spans = otel.spans();
    const run = otel.byName('invoke_agent Support');
    const runId = attr(run, 'workflow.run_id');
    const weather = otel.byName('execute_tool get_weather');
    const time = otel.byName('execute_tool get_time');
    expect(attr(weather, 'gen_ai.tool.call.id')).toBe('call_weather_1');
    expect(attr(time, 'gen_ai.tool.call.id')).toBe('call_time_1');
    for (const s of [weather, time]) {
      expect(attr(s, 'workflow.run_id')).toBe(runId);
      expect(attr(s, 'agent.id')).toBe('support-agent');
      expect(attr(s, 'credential.ref')).toBe('cred:k1:run');
      expect(attr(s, 'input.hash')).toBe(hashOf({ city: 'Paris' }));
      expect(parentId(s)).toBe(run.spanContext().spanId);
      expect(s.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    }
    expect(attr(weather, 'output.hash')).toBe(
      hashOf({ content: 'Sunny in Paris', status: 'success' }),
    );
    expect(attr(time, 'output.hash')).toBe(
      hashOf({ content: '12:00 in Paris', status: 'success' }),
    );

    const chats = named(spans, 'chat FakeBuiltModel');
    expect(chats).toHaveLength(2);
    // Start order (seconds, then nanoseconds); two calls in the same millisecond keep the order
    // they ended in, and the model call that asked for tools ended first.
    const at = (s: (typeof chats)[number]) => s.startTime[0] * 1e9 + s.startTime[1];
    const [first, second] = chats
      .map((s, i) => ({ s, i }))
      .sort((a, b) => at(a.s) - at(b.s) || a.i - b.i)
      .map((x) => x.s);
    expect(attr(first!, 'llm.requested_tool_call_ids')).toEqual(['call_weather_1', 'call_time_1']);
    expect(attr(first!, 'llm.requested_tools')).toEqual(['get_weather', 'get_time']);
    expect(attr(first!, 'gen_ai.response.finish_reasons')).toEqual(['tool_calls']);
    expect(attr(first!, 'prompt.hash')).toBe(
      hashOf([{ role: 'human', content: 'Weather and time in Paris?' }]),
    );
    expect(attr(second!, 'gen_ai.response.finish_reasons')).toEqual(['stop']);
    for (const c of chats) {
      expect(attr(c, 'workflow.run_id')).toBe(runId);
      expect(parentId(c)).toBe(run.spanContext().spanId);
    }
  });

  it('a streamed run records the same calls', async () => {
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([{ name: 'get_weather', args: { city: 'Oslo' }, id: 'call_s1' }])
      .respond(new AIMessage('Cold.'));
    const agent = createAgent({ model, tools: [t.weather], middleware: [auditMiddleware()] });
    const chunks: unknown[] = [];
    await runWorkflow(RUN, async () => {
      const stream = await agent.stream(
        { messages: [new HumanMessage('Oslo?')] },
        { streamMode: 'updates' },
      );
      for await (const chunk of stream) chunks.push(chunk);
    });
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(t.calls.weather).toBe(1);
    const s = otel.byName('execute_tool get_weather');
    expect(attr(s, 'gen_ai.tool.call.id')).toBe('call_s1');
    expect(attr(s, 'output.hash')).toBe(hashOf({ content: 'Sunny in Oslo', status: 'success' }));
    expect(named(otel.spans(), 'chat FakeBuiltModel')).toHaveLength(2);
  });

  it('a stopped call never runs; the model gets an error tool message and the other call runs', async () => {
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([
        { name: 'delete_account', args: { userId: 'u-9' }, id: 'call_del' },
        { name: 'get_weather', args: { city: 'Rome' }, id: 'call_ok' },
      ])
      .respond(new AIMessage('I could not delete it.'));
    const agent = createAgent({
      model,
      tools: [t.deleteAccount, t.weather],
      middleware: [auditMiddleware({ policy: stopDeletes })],
    });
    await runWorkflow(RUN, () => agent.invoke({ messages: [new HumanMessage('delete u-9')] }));

    expect(t.calls.deleteAccount).toBe(0);
    expect(t.calls.weather).toBe(1);
    const seen = model.calls[1]?.messages ?? [];
    const refused = seen.find((m) => ToolMessage.isInstance(m) && m.tool_call_id === 'call_del');
    expect(ToolMessage.isInstance(refused) && refused.status).toBe('error');
    expect(String(refused?.content)).toContain('agents may not delete accounts');

    const del = otel.byName('execute_tool delete_account');
    expect(attr(del, 'decision.outcome')).toBe('stop');
    expect(attr(del, 'gen_ai.tool.call.id')).toBe('call_del');
    expect(attr(del, 'output.hash')).toBeUndefined();
    expect(attr(otel.byName('execute_tool get_weather'), 'decision.outcome')).toBe('allow');
  });

  it("approval_required with approvals: 'refuse' never runs the tool", async () => {
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([{ name: 'send_email', args: { to: 'a@b.c', body: 'hi' }, id: 'call_m' }])
      .respond(new AIMessage('Needs approval.'));
    const agent = createAgent({
      model,
      tools: [t.sendEmail],
      middleware: [
        auditMiddleware({
          approvals: 'refuse',
          policy: () => ({ outcome: 'approval_required', reason: 'outbound email' }),
        }),
      ],
    });
    await runWorkflow(RUN, () => agent.invoke({ messages: [new HumanMessage('mail')] }));
    expect(t.calls.sendEmail).toHaveLength(0);
    const msg = model.calls[1]?.messages.find((m) => ToolMessage.isInstance(m));
    expect(ToolMessage.isInstance(msg) && msg.status).toBe('error');
    expect(attr(otel.byName('execute_tool send_email'), 'decision.outcome')).toBe(
      'approval_required',
    );
  });

  it('a refusal from a second copy of the instrumentation package is still a refusal', async () => {
    // A bundled agent may load its own copy: its ToolCallRefusedError is another class, with
    // the same code and toolName. Simulated by a policy hook throwing such an error.
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([{ name: 'delete_account', args: { userId: 'u-5' }, id: 'call_copy' }])
      .respond(new AIMessage('ok'));
    const foreign = Object.assign(new Error('stopped by the other copy'), {
      code: 'policy_stop',
      toolName: 'delete_account',
    });
    const agent = createAgent({
      model,
      tools: [t.deleteAccount],
      middleware: [
        auditMiddleware({
          policy: () => {
            throw foreign;
          },
        }),
      ],
    });
    await runWorkflow(RUN, () => agent.invoke({ messages: [new HumanMessage('go')] }));
    expect(t.calls.deleteAccount).toBe(0);
    const msg = model.calls[1]?.messages.find((m) => ToolMessage.isInstance(m));
    expect(ToolMessage.isInstance(msg) && msg.status).toBe('error');
    expect(String(msg?.content)).toContain('stopped by the other copy');
  });

  it('rejects bad options with a Configuration error', () => {
    expect(() => auditMiddleware({ approvals: 'pause' as never })).toThrow(
      /^Configuration: approvals is invalid, expected interrupt\|refuse \(actual: pause\)/,
    );
  });
});
