import { type PolicyHook, runWorkflow, setAuditHooks } from '@agent-audit/instrumentation';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { FakeLLM } from '@langchain/core/utils/testing';
import { createAgent } from 'langchain';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import { AgentAuditCallbackHandler, auditMiddleware } from '../src/index.js';
import { attr, hashOf, makeTools, named, parentId, RUN } from './support/fixtures.js';
import { toolNodeGraph } from './support/graph.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const stopDeletes: PolicyHook = (action) =>
  action.toolName === 'delete_account'
    ? { outcome: 'stop', reason: 'agents may not delete accounts', policyId: 'no-deletes' }
    : { outcome: 'allow', policyId: 'no-deletes' };

describe('AgentAuditCallbackHandler on a StateGraph with LangGraph ToolNode', () => {
  it('records the two tool calls of one model message and both model calls under the run', async () => {
    const t = makeTools();
    const { graph } = toolNodeGraph(
      [t.weather, t.time],
      [
        { name: 'get_weather', args: { city: 'Lima' }, id: 'tc_w' },
        { name: 'get_time', args: { city: 'Lima' }, id: 'tc_t' },
      ],
    );
    const handler = new AgentAuditCallbackHandler();
    await runWorkflow(RUN, () =>
      graph.invoke({ messages: [new HumanMessage('Lima?')] }, { callbacks: [handler] }),
    );
    expect(t.calls.weather).toBe(1);
    expect(t.calls.time).toBe(1);
    const run = otel.byName('invoke_agent Support');
    const weather = otel.byName('execute_tool get_weather');
    const time = otel.byName('execute_tool get_time');
    expect(attr(weather, 'gen_ai.tool.call.id')).toBe('tc_w');
    expect(attr(time, 'gen_ai.tool.call.id')).toBe('tc_t');
    for (const s of [weather, time]) {
      expect(attr(s, 'input.hash')).toBe(hashOf({ city: 'Lima' }));
      expect(attr(s, 'workflow.run_id')).toBe(attr(run, 'workflow.run_id'));
      expect(attr(s, 'credential.ref')).toBe('cred:k1:run');
      expect(parentId(s)).toBe(run.spanContext().spanId);
    }
    expect(attr(weather, 'output.hash')).toBe(
      hashOf({ content: 'Sunny in Lima', status: 'success' }),
    );
    const chats = named(otel.spans(), 'chat FakeBuiltModel');
    expect(chats).toHaveLength(2);
    const asked = chats.find((c) => attr(c, 'llm.requested_tool_call_ids') !== undefined);
    const idsOf = (c: (typeof chats)[number]) => attr(c, 'llm.requested_tool_call_ids');
    expect(chats.map(idsOf)).toContainEqual(['tc_w', 'tc_t']);
    expect(attr(asked!, 'prompt.hash')).toBeDefined();
    for (const c of chats) expect(parentId(c)).toBe(run.spanContext().spanId);
  });

  it('a stopped call is refused from handleToolStart: the body never runs, ToolNode returns an error message', async () => {
    const t = makeTools();
    const { graph, model } = toolNodeGraph(
      [t.deleteAccount, t.weather],
      [
        { name: 'delete_account', args: { userId: 'u-1' }, id: 'tc_del' },
        { name: 'get_weather', args: { city: 'Kyiv' }, id: 'tc_ok' },
      ],
    );
    const handler = new AgentAuditCallbackHandler({ policy: stopDeletes });
    await runWorkflow(RUN, () =>
      graph.invoke({ messages: [new HumanMessage('delete u-1')] }, { callbacks: [handler] }),
    );
    expect(t.calls.deleteAccount).toBe(0);
    expect(t.calls.weather).toBe(1);
    const refused = model.calls[1]?.messages.find(
      (m) => ToolMessage.isInstance(m) && m.tool_call_id === 'tc_del',
    );
    expect(ToolMessage.isInstance(refused) && refused.status).toBe('error');
    expect(String(refused?.content)).toContain('agents may not delete accounts');
    const del = otel.byName('execute_tool delete_account');
    expect(attr(del, 'decision.outcome')).toBe('stop');
    expect(attr(del, 'gen_ai.tool.call.id')).toBe('tc_del');
    expect(attr(otel.byName('execute_tool get_weather'), 'decision.outcome')).toBe('allow');
  });

  it('approval_required is a refusal through a callback (a callback cannot pause the graph)', async () => {
    const t = makeTools();
    const { graph } = toolNodeGraph(
      [t.sendEmail],
      [{ name: 'send_email', args: { to: 'x@y.z', body: 'b' }, id: 'tc_mail' }],
    );
    const handler = new AgentAuditCallbackHandler({
      policy: () => ({ outcome: 'approval_required', reason: 'mail' }),
    });
    await runWorkflow(RUN, () =>
      graph.invoke({ messages: [new HumanMessage('mail')] }, { callbacks: [handler] }),
    );
    expect(t.calls.sendEmail).toHaveLength(0);
    expect(attr(otel.byName('execute_tool send_email'), 'decision.outcome')).toBe(
      'approval_required',
    );
  });

  it('a model called inside a tool is a child of that tool span', async () => {
    const inner = fakeModel().respond(new AIMessage('summary'));
    const summarize = tool(async ({ text }) => String((await inner.invoke(text)).content), {
      name: 'summarize',
      description: 'Summarizes with a model',
      schema: z.object({ text: z.string() }),
    });
    const { graph } = toolNodeGraph(
      [summarize],
      [{ name: 'summarize', args: { text: 'long text' }, id: 'tc_sum' }],
    );
    await runWorkflow(RUN, () =>
      graph.invoke(
        { messages: [new HumanMessage('sum')] },
        { callbacks: [new AgentAuditCallbackHandler()] },
      ),
    );
    const toolSpan = otel.byName('execute_tool summarize');
    const chats = named(otel.spans(), 'chat FakeBuiltModel');
    expect(chats).toHaveLength(3);
    const nested = chats.filter((c) => parentId(c) === toolSpan.spanContext().spanId);
    expect(nested).toHaveLength(1);
    expect(attr(nested[0]!, 'prompt.hash')).toBe(hashOf([{ role: 'human', content: 'long text' }]));
  });

  it('with the middleware as well, each call is recorded once', async () => {
    const t = makeTools();
    const model = fakeModel()
      .respondWithTools([{ name: 'get_weather', args: { city: 'Nice' }, id: 'tc_once' }])
      .respond(new AIMessage('ok'));
    const agent = createAgent({ model, tools: [t.weather], middleware: [auditMiddleware()] });
    await runWorkflow(RUN, () =>
      agent.invoke(
        { messages: [new HumanMessage('Nice?')] },
        { callbacks: [new AgentAuditCallbackHandler()] },
      ),
    );
    expect(named(otel.spans(), 'execute_tool get_weather')).toHaveLength(1);
    expect(named(otel.spans(), 'chat FakeBuiltModel')).toHaveLength(2);
  });
});

describe('AgentAuditCallbackHandler on a text-completion LLM', () => {
  it('records it as a text_completion call with the prompt hashed', async () => {
    const llm = new FakeLLM({ response: 'four' });
    const out = await runWorkflow(RUN, () =>
      llm.invoke('2+2?', { callbacks: [new AgentAuditCallbackHandler()] }),
    );
    expect(out).toBe('four');
    const spans = otel.spans().filter((s) => s.name.startsWith('text_completion '));
    expect(spans).toHaveLength(1);
    expect(attr(spans[0]!, 'prompt.hash')).toBe(hashOf(['2+2?']));
    expect(attr(spans[0]!, 'output.hash')).toBe(hashOf('four'));
  });
});
