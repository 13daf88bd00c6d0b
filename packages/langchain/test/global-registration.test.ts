import { runWorkflow } from '@agent-audit/instrumentation';
import { HumanMessage } from '@langchain/core/messages';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupOtel, type TestOtel } from '../../instrumentation/test/support/otel.js';
import { registerAgentAuditCallbacks } from '../src/index.js';
import { attr, makeTools, named, RUN } from './support/fixtures.js';
import { toolNodeGraph } from './support/graph.js';

let otel: TestOtel;
beforeAll(() => {
  otel = setupOtel();
});

describe('registerAgentAuditCallbacks (one line, no callbacks passed to the graph)', () => {
  it('records and gates the tool calls of a graph invoked without any callbacks option', async () => {
    registerAgentAuditCallbacks({
      policy: (a) => (a.toolName === 'delete_account' ? { outcome: 'stop' } : { outcome: 'allow' }),
    });
    const t = makeTools();
    const { graph } = toolNodeGraph(
      [t.weather, t.deleteAccount],
      [
        { name: 'get_weather', args: { city: 'Bern' }, id: 'g1' },
        { name: 'delete_account', args: { userId: 'u' }, id: 'g2' },
      ],
    );
    await runWorkflow(RUN, () => graph.invoke({ messages: [new HumanMessage('Bern?')] }));
    expect(t.calls.weather).toBe(1);
    expect(t.calls.deleteAccount).toBe(0);
    expect(attr(otel.byName('execute_tool get_weather'), 'gen_ai.tool.call.id')).toBe('g1');
    expect(attr(otel.byName('execute_tool delete_account'), 'decision.outcome')).toBe('stop');
    expect(named(otel.spans(), 'chat FakeBuiltModel')).toHaveLength(2);
  });
});
