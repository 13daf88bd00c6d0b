import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PolicyStopError, runWorkflow } from '@agent-audit/instrumentation';
import {
  Agent,
  getCurrentSpan,
  RunContext,
  RunToolApprovalItem,
  run,
  setTraceProcessors,
  setTracingDisabled,
  tool,
} from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useOtel } from '../../instrumentation/test/support/otel.js';
import { AuditTraceProcessor, auditAgent } from '../src/index.js';
import {
  hasApprovalDecisions,
  PARSED_INPUT_CALLBACK,
  parsedInputCallbackKey,
} from '../src/sdk-internals.js';

// Guards for what the integration needs from @openai/agents beyond its typed surface: if an SDK
// upgrade changes any of it, these fail with what changed and where to adapt, instead of tool
// calls silently going unaudited or refusals silently changing how they reach the model.

/** The installed SDK's version, read from its package.json (not in its `exports`). */
function sdkVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@openai/agents');
  const root = main.slice(0, main.lastIndexOf('/dist/'));
  return (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }).version;
}
const SDK_VERSION = sdkVersion();
const changed = (what: string) =>
  `@openai/agents ${SDK_VERSION} changed: ${what}. Adapt packages/openai-agents/src/sdk-internals.ts / audit-agent.ts before upgrading.`;

const otel = useOtel({
  afterSetup: () => {
    setTracingDisabled(false);
    setTraceProcessors([new AuditTraceProcessor()]);
  },
});

interface Seen {
  details: object | undefined;
  sdkSpan: ReturnType<typeof getCurrentSpan>;
}

/** A tool whose `invoke` (as the runner sees it before auditAgent wraps it) records what it got. */
function spiedTool(seen: Seen[], body: { n: number }) {
  const t = tool({
    name: 'lookup_order',
    description: 'Looks up an order',
    parameters: z.object({ orderId: z.string() }),
    errorFunction: (_ctx, err) => `refused: ${(err as Error).message}`,
    execute: async () => {
      body.n++;
      return 'found';
    },
  });
  const invoke = t.invoke;
  t.invoke = (runContext, input, details) => {
    seen.push({ details, sdkSpan: getCurrentSpan() });
    return invoke(runContext, input, details);
  };
  return t;
}

function oneCall() {
  return new ScriptedModel([
    [functionCall('lookup_order', { orderId: 'G1' }, { callId: 'call_g1' })],
    [assistantMessage('done')],
  ]);
}

describe(`@openai/agents ${SDK_VERSION}: what the audit relies on`, () => {
  it('the runner calls FunctionTool.invoke (the property auditAgent replaces)', async () => {
    const seen: Seen[] = [];
    const body = { n: 0 };
    const agent = auditAgent(
      new Agent({ name: 'Guard', model: oneCall(), tools: [spiedTool(seen, body)] }),
    );
    await runWorkflow({ agentId: 'guard' }, () => run(agent, 'G1?'));
    expect(seen.length, changed('the runner no longer calls tool.invoke')).toBe(1);
    expect(
      otel.named('execute_tool lookup_order').length,
      changed('a tool call ran without passing through the audited invoke'),
    ).toBe(1);
    expect(body.n).toBe(1);
  });

  it('invoke gets the parsed-input callback and runs inside the SDK function span', async () => {
    const seen: Seen[] = [];
    const agent = auditAgent(
      new Agent({ name: 'Guard', model: oneCall(), tools: [spiedTool(seen, { n: 0 })] }),
    );
    await runWorkflow({ agentId: 'guard' }, () => run(agent, 'G1?'));
    const { details, sdkSpan } = seen[0]!;
    const key = parsedInputCallbackKey(details);
    expect(
      key,
      changed(`FunctionTool.invoke details carry no "${PARSED_INPUT_CALLBACK}" symbol`),
    ).toBeDefined();
    expect(
      typeof (details as Record<symbol, unknown>)[key!],
      changed(`"${PARSED_INPUT_CALLBACK}" is no longer a function`),
    ).toBe('function');
    expect(
      (details as { toolCall?: { callId?: unknown } }).toolCall?.callId,
      changed('details.toolCall.callId (the audited call id) is missing'),
    ).toBe('call_g1');
    expect(
      sdkSpan?.spanData.type,
      changed('getCurrentSpan() in invoke is not the function span'),
    ).toBe('function');
    expect(
      sdkSpan !== null && 'error' in sdkSpan,
      changed('the function span has no error field'),
    ).toBe(true);
  });

  it('a refusal still reaches the model through the errorFunction and the body never runs', async () => {
    const body = { n: 0 };
    const model = oneCall();
    const agent = auditAgent(new Agent({ name: 'Guard', model, tools: [spiedTool([], body)] }), {
      policy: () => ({ outcome: 'stop', policyId: 'frozen' }),
    });
    const out = await runWorkflow({ agentId: 'guard' }, () => run(agent, 'G1?'));
    expect(body.n, changed('a refused tool body ran')).toBe(0);
    expect(out.finalOutput).toBe('done');
    expect(
      JSON.stringify(model.lastCall?.request.input),
      changed('the refusal no longer reaches the model through the errorFunction'),
    ).toContain('refused: Tool call \\"lookup_order\\" stopped by policy frozen');
  });

  it('without the callback a refusal is thrown (fails closed), never runs the body', async () => {
    const t = spiedTool([], { n: 0 });
    auditAgent(new Agent({ name: 'Guard', tools: [t] }), {
      policy: () => ({ outcome: 'stop', policyId: 'frozen' }),
    });
    const direct = runWorkflow({ agentId: 'guard' }, () =>
      t.invoke({} as Parameters<typeof t.invoke>[0], '{"orderId":"G1"}', {
        toolCall: { callId: 'call_x' },
      } as Parameters<typeof t.invoke>[2]),
    );
    await expect(direct).rejects.toBeInstanceOf(PolicyStopError);
  });

  it('toJSON().approvals lists every decision isToolApproved reads (the cheap pre-check)', () => {
    const agent = new Agent({ name: 'Guard', tools: [spiedTool([], { n: 0 })] });
    const item = (callId: string) =>
      new RunToolApprovalItem(
        {
          type: 'function_call',
          callId,
          name: 'lookup_order',
          arguments: '{"orderId":"G1"}',
          status: 'completed',
        },
        agent,
      );
    const cases: [string, (rc: RunContext) => void, boolean | undefined][] = [
      ['none', () => {}, undefined],
      ['approve one call', (rc) => rc.approveTool(item('call_a')), true],
      ['reject one call', (rc) => rc.rejectTool(item('call_a')), false],
      ['always approve', (rc) => rc.approveTool(item('call_b'), { alwaysApprove: true }), true],
      ['always reject', (rc) => rc.rejectTool(item('call_b'), { alwaysReject: true }), false],
    ];
    for (const [name, decide, expected] of cases) {
      const rc = new RunContext({});
      decide(rc);
      const approved = rc.isToolApproved({ toolName: 'lookup_order', callId: 'call_a' });
      expect(approved, `${name}: isToolApproved`).toBe(expected);
      expect(
        hasApprovalDecisions(rc),
        changed(`${name}: toJSON().approvals does not show a decision isToolApproved reads`),
      ).toBe(approved !== undefined);
    }
  });

  it('Agent.prototype.asTool is still a method returning a function tool', () => {
    const inner = new Agent({ name: 'Inner' });
    const t = inner.asTool({ toolName: 'ask_inner', toolDescription: 'Asks' });
    expect(typeof Agent.prototype.asTool, changed('Agent.prototype.asTool is gone')).toBe(
      'function',
    );
    expect(t.type, changed('asTool() no longer returns a function tool')).toBe('function');
    expect(typeof (t as { invoke?: unknown }).invoke).toBe('function');
  });
});
