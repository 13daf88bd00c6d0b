// One suite, run against each AI SDK major: ai-sdk-v6.test.ts (Node 20+) and
// ai-sdk-v7.node22.test.ts (Node 22+). The real `ai` package, its own mock language model from
// `ai/test`, the real SDK registration writing a real store; spans are read back from the
// store's segment files.

import { getAuditHooks, runWorkflow, setAuditHooks } from '@agent-audit/instrumentation';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attrsOf,
  type RawRecord,
  readSegments,
  spanOf,
  type TempStore,
  tempStore,
} from '../../sdk/test/helpers.js';
import { auditAgent, auditMiddleware, auditModel, auditRun, auditTools } from '../src/index.js';
import {
  type ScriptStep,
  scriptedGenerate,
  scriptedStream,
  scriptedUsage,
} from './scripted-model.js';

type Options = Record<string, unknown>;

interface TextResult {
  text: string;
  steps: Array<{ content: Array<{ type: string; toolCallId?: string }> }>;
}

interface StreamResult {
  text: PromiseLike<string>;
  steps: PromiseLike<TextResult['steps']>;
}

interface MockModel {
  doGenerateCalls: Array<{ prompt: unknown }>;
  doStreamCalls: Array<{ prompt: unknown }>;
}

/** What the suite needs from one AI SDK major. */
export interface AiApi {
  major: 6 | 7;
  generateText(options: Options): Promise<TextResult>;
  streamText(options: Options): StreamResult;
  ToolLoopAgent: new (
    options: Options,
  ) => { generate(options: Options): Promise<TextResult>; stream(options: Options): unknown };
  stepCountIs(n: number): unknown;
  tool(definition: Options): unknown;
  jsonSchema(schema: object): unknown;
  wrapLanguageModel(options: { model: unknown; middleware: unknown }): unknown;
  MockLanguageModel: new (options: Options) => MockModel;
  /** The call options that turn the framework's own OpenTelemetry spans on. */
  telemetryOn(): Options;
  /** Is this span the framework's own tool span? */
  isFrameworkToolSpan(span: SpanView): boolean;
}

/** The functions the suite calls, taken from one major's `ai` module (its typings differ by major). */
type AiModuleApi = Pick<
  AiApi,
  | 'generateText'
  | 'streamText'
  | 'ToolLoopAgent'
  | 'stepCountIs'
  | 'tool'
  | 'jsonSchema'
  | 'wrapLanguageModel'
  | 'MockLanguageModel'
>;

/** `aiApiOf(await import('ai'), MockLanguageModelV3)`: the suite's view of one `ai` major. */
export function aiApiOf(ai: object, MockLanguageModel: unknown): AiModuleApi {
  const m = ai as Omit<AiModuleApi, 'MockLanguageModel'>;
  return {
    generateText: m.generateText,
    streamText: m.streamText,
    ToolLoopAgent: m.ToolLoopAgent,
    stepCountIs: m.stepCountIs,
    tool: m.tool,
    jsonSchema: m.jsonSchema,
    wrapLanguageModel: m.wrapLanguageModel,
    MockLanguageModel: MockLanguageModel as AiModuleApi['MockLanguageModel'],
  };
}

export interface SpanView {
  name: string;
  events: string[];
  /** End time, ns since the epoch. */
  end: bigint;
  scope: string;
  traceId: string;
  attrs: Record<string, unknown>;
}

const AUDIT_SCOPE = '@agent-audit/instrumentation';

/**
 * The raw-content attributes the AI SDK puts on its own spans (ai@6 built-in telemetry and
 * @ai-sdk/otel for ai@7; see /packages/ai-sdk/README.md). None may reach the store unless
 * captureContent is on.
 */
export const FRAMEWORK_CONTENT_ATTRIBUTES = [
  'ai.prompt',
  'ai.prompt.messages',
  'ai.prompt.tools',
  'ai.response.text',
  'ai.response.toolCalls',
  'ai.response.reasoning',
  'ai.toolCall.args',
  'ai.toolCall.result',
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.tool.definitions',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
];

function scopeOf(record: RawRecord): string {
  const payload = record.payload as {
    resourceSpans: { scopeSpans: { scope?: { name?: string } }[] }[];
  };
  return payload.resourceSpans[0]?.scopeSpans[0]?.scope?.name ?? '';
}

export function aiSdkSuite(api: AiApi): void {
  describe(`ai@${api.major}`, () => {
    let ts: TempStore;
    let audit: AgentAuditHandle;

    beforeAll(() => {
      ts = tempStore('aa-ai-sdk-');
      audit = registerAgentAudit({
        storeDir: ts.storeDir,
        trustDir: ts.trustDir,
        forward: false,
        installExitHandlers: false,
      });
    });
    afterAll(async () => {
      await audit.shutdown();
      ts.cleanup();
    });

    async function spansOf(traceId: string): Promise<SpanView[]> {
      await audit.forceFlush();
      return readSegments(ts.storeDir)
        .filter((r) => r.type === 'span.end')
        .map((r) => {
          const span = spanOf(r);
          return {
            name: span.name,
            end: BigInt((span as { endTimeUnixNano?: string }).endTimeUnixNano ?? 0),
            events: (span.events ?? []).map((e) => e.name),
            scope: scopeOf(r),
            traceId: span.traceId,
            attrs: attrsOf(span),
          };
        })
        .filter((s) => s.traceId === traceId);
    }
    const auditTools_ = (spans: SpanView[]) =>
      spans.filter(
        (s) => s.scope === AUDIT_SCOPE && s.attrs['gen_ai.operation.name'] === 'execute_tool',
      );
    const auditLlm = (spans: SpanView[]) =>
      spans.filter((s) => s.scope === AUDIT_SCOPE && s.attrs['gen_ai.operation.name'] === 'chat');

    function toolSet(bodies: Record<string, number>) {
      const schema = (properties: Record<string, object>) =>
        api.jsonSchema({ type: 'object', properties, required: Object.keys(properties) });
      return {
        lookupOrder: api.tool({
          description: 'Looks up an order',
          inputSchema: schema({ orderId: { type: 'string' } }),
          execute: async ({ orderId }: { orderId: string }) => {
            bodies.lookupOrder = (bodies.lookupOrder ?? 0) + 1;
            return { orderId, status: 'shipped' };
          },
        }),
        notifyTeam: api.tool({
          description: 'Notifies a team',
          inputSchema: schema({ team: { type: 'string' } }),
          execute: async ({ team }: { team: string }) => {
            bodies.notifyTeam = (bodies.notifyTeam ?? 0) + 1;
            return `notified ${team}`;
          },
        }),
        deleteOrder: api.tool({
          description: 'Deletes an order',
          inputSchema: schema({ orderId: { type: 'string' } }),
          execute: async () => {
            bodies.deleteOrder = (bodies.deleteOrder ?? 0) + 1;
            return 'deleted';
          },
        }),
      };
    }

    const multiStep: ScriptStep[] = [
      {
        toolCalls: [
          { id: 'call-a', name: 'lookupOrder', input: { orderId: 'A-1' } },
          { id: 'call-b', name: 'lookupOrder', input: { orderId: 'B-2' } },
        ],
      },
      { toolCalls: [{ id: 'call-c', name: 'notifyTeam', input: { team: 'ops' } }] },
      { text: 'Both orders shipped; ops notified.' },
    ];

    async function expectMultiStepTrail(traceId: string, runId: string, telemetry: boolean) {
      const spans = await spansOf(traceId);
      const tools = auditTools_(spans);
      // Exactly one audit tool span per tool execution, whatever the framework adds.
      expect(tools.map((s) => s.attrs['gen_ai.tool.call.id']).sort()).toEqual([
        'call-a',
        'call-b',
        'call-c',
      ]);
      for (const t of tools) {
        expect(t.attrs['workflow.run_id']).toBe(runId);
        expect(t.attrs['input.hash']).toMatch(/\S/);
        expect(t.attrs['output.hash']).toMatch(/\S/);
        expect(t.attrs['gen_ai.tool.call.arguments']).toBeUndefined();
        // No policy anywhere: recorded as allowed, ungoverned, with its pre and post records.
        expect(t.attrs['decision.outcome']).toBe('allow');
        expect(t.attrs['decision.policy']).toBe('none');
      }
      const byId = new Map(tools.map((t) => [t.attrs['gen_ai.tool.call.id'], t]));
      expect(byId.get('call-a')?.attrs['tool.name']).toBe('lookupOrder');
      expect(byId.get('call-a')?.attrs['input.hash']).not.toBe(
        byId.get('call-b')?.attrs['input.hash'],
      );
      // One LLM call per step, its requested tool calls linked to the tool spans by call id.
      const llm = auditLlm(spans).sort(
        (a, b) =>
          Number(a.attrs['gen_ai.usage.input_tokens']) -
          Number(b.attrs['gen_ai.usage.input_tokens']),
      );
      expect(llm).toHaveLength(3);
      expect(llm.map((s) => s.attrs['llm.requested_tool_call_ids'])).toEqual([
        ['call-a', 'call-b'],
        ['call-c'],
        [],
      ]);
      expect(llm.map((s) => s.attrs['gen_ai.response.finish_reasons'])).toEqual([
        ['tool-calls'],
        ['tool-calls'],
        ['stop'],
      ]);
      llm.forEach((s, i) => {
        expect(s.attrs['gen_ai.request.model']).toBe('mock-model-id');
        expect(s.attrs['gen_ai.provider.name']).toBe('mock-provider');
        expect(s.attrs['gen_ai.response.model']).toBe('scripted-model');
        expect(s.attrs['gen_ai.usage.input_tokens']).toBe(scriptedUsage(i).input);
        expect(s.attrs['gen_ai.usage.output_tokens']).toBe(scriptedUsage(i).output);
        expect(s.attrs['prompt.hash']).toMatch(/\S/);
        expect(s.attrs['workflow.run_id']).toBe(runId);
        expect(s.attrs['gen_ai.input.messages']).toBeUndefined();
      });
      // The framework's own tool spans exist exactly when its telemetry is on.
      expect(spans.filter((s) => api.isFrameworkToolSpan(s))).toHaveLength(telemetry ? 3 : 0);
      return spans;
    }

    for (const telemetry of [false, true]) {
      const mode = telemetry ? 'telemetry on' : 'telemetry off';
      const tel = () => (telemetry ? api.telemetryOn() : {});

      it(`generateText: two tool calls in one step, then a second step, then text (${mode})`, async () => {
        const bodies: Record<string, number> = {};
        const model = new api.MockLanguageModel({ doGenerate: scriptedGenerate(multiStep) });
        const { result, runId, traceId } = await runWorkflow(
          { agentId: 'orders-agent', triggerPrincipal: 'user:1' },
          async (run) => ({
            result: await api.generateText({
              model: auditModel(model as never),
              tools: auditTools(toolSet(bodies)),
              prompt: 'Check orders A-1 and B-2, then tell ops.',
              stopWhen: api.stepCountIs(5),
              ...tel(),
            }),
            runId: run.runId,
            traceId: run.span.spanContext().traceId,
          }),
        );
        expect(result.text).toBe('Both orders shipped; ops notified.');
        expect(result.steps).toHaveLength(3);
        expect(bodies).toEqual({ lookupOrder: 2, notifyTeam: 1 });
        await expectMultiStepTrail(traceId, runId, telemetry);
      });

      it(`streamText: the same loop, streamed (${mode})`, async () => {
        const bodies: Record<string, number> = {};
        const model = new api.MockLanguageModel({ doStream: scriptedStream(multiStep) });
        const { text, runId, traceId } = await runWorkflow(
          { agentId: 'orders-agent', triggerPrincipal: 'user:1' },
          async (run) => {
            const result = api.streamText({
              model: auditModel(model as never),
              tools: auditTools(toolSet(bodies)),
              prompt: 'Check orders A-1 and B-2, then tell ops.',
              stopWhen: api.stepCountIs(5),
              ...tel(),
            });
            return {
              text: await result.text,
              runId: run.runId,
              traceId: run.span.spanContext().traceId,
            };
          },
        );
        expect(text).toBe('Both orders shipped; ops notified.');
        expect(bodies).toEqual({ lookupOrder: 2, notifyTeam: 1 });
        await expectMultiStepTrail(traceId, runId, telemetry);
      });

      it(`a refused call: the model sees a tool-error, the body never runs (${mode})`, async () => {
        const bodies: Record<string, number> = {};
        const model = new api.MockLanguageModel({
          doGenerate: scriptedGenerate([
            { toolCalls: [{ id: 'call-del', name: 'deleteOrder', input: { orderId: 'A-1' } }] },
            { text: 'I could not delete it.' },
          ]),
        });
        const tools = auditTools(toolSet(bodies), {
          tools: {
            deleteOrder: {
              policy: () => ({ outcome: 'stop', reason: 'deletes need a human', policyId: 'p1' }),
            },
          },
        });
        const { result, traceId } = await runWorkflow({ agentId: 'orders-agent' }, async (run) => ({
          result: await api.generateText({
            model: auditModel(model as never),
            tools,
            prompt: 'Delete order A-1.',
            stopWhen: api.stepCountIs(3),
            ...tel(),
          }),
          traceId: run.span.spanContext().traceId,
        }));
        expect(bodies.deleteOrder ?? 0).toBe(0);
        const first = result.steps[0]?.content ?? [];
        expect(first.some((p) => p.type === 'tool-error' && p.toolCallId === 'call-del')).toBe(
          true,
        );
        // What the model saw in its next call: the tool's error result, with the refusal's reason.
        const seen = JSON.stringify(model.doGenerateCalls[1]?.prompt);
        expect(seen).toContain('"toolCallId":"call-del"');
        expect(seen).toContain('error-text');
        expect(seen).toContain('deletes need a human');
        const spans = await spansOf(traceId);
        const tools_ = auditTools_(spans);
        expect(tools_).toHaveLength(1);
        expect(tools_[0]?.attrs['decision.outcome']).toBe('stop');
        expect(tools_[0]?.attrs['gen_ai.tool.call.id']).toBe('call-del');
        expect(tools_[0]?.attrs['output.hash']).toBeUndefined();
        expect(result.text).toBe('I could not delete it.');
      });
    }

    it("telemetry on: no audit.violation on the framework's spans (the processor's framework-span rule)", async () => {
      const model = new api.MockLanguageModel({ doGenerate: scriptedGenerate(multiStep) });
      const traceId = await runWorkflow({ agentId: 'orders-agent' }, async (run) => {
        await api.generateText({
          model: auditModel(model as never),
          tools: auditTools(toolSet({})),
          prompt: 'Check orders.',
          stopWhen: api.stepCountIs(5),
          ...api.telemetryOn(),
        });
        return run.span.spanContext().traceId;
      });
      const spans = await spansOf(traceId);
      const foreign = spans.filter((s) => s.scope !== AUDIT_SCOPE);
      expect(foreign.length).toBeGreaterThan(0);
      expect(
        foreign.filter((s) => s.attrs['audit.violation'] !== undefined).map((s) => s.name),
      ).toEqual([]);
    });

    it("telemetry on: the framework's raw content is dropped without captureContent (the processor's framework-span rule)", async () => {
      const model = new api.MockLanguageModel({ doGenerate: scriptedGenerate(multiStep) });
      const traceId = await runWorkflow({ agentId: 'orders-agent' }, async (run) => {
        await api.generateText({
          model: auditModel(model as never),
          tools: auditTools(toolSet({})),
          system: 'You are the orders agent.',
          prompt: 'Check orders A-1 and B-2.',
          stopWhen: api.stepCountIs(5),
          ...api.telemetryOn(),
        });
        return run.span.spanContext().traceId;
      });
      const spans = await spansOf(traceId);
      const leaked = spans.flatMap((s) =>
        FRAMEWORK_CONTENT_ATTRIBUTES.filter((k) => s.attrs[k] !== undefined).map(
          (k) => `${s.name}: ${k}`,
        ),
      );
      expect(leaked).toEqual([]);
      expect(JSON.stringify(spans.map((s) => s.attrs))).not.toContain('A-1');
    });

    it('the process-wide policy gate decides audited tools that bring none; a blocked side effect is recorded', async () => {
      const bodies: Record<string, number> = {};
      const model = new api.MockLanguageModel({
        doGenerate: scriptedGenerate([
          {
            toolCalls: [
              { id: 'call-look', name: 'lookupOrder', input: { orderId: 'G-1' } },
              { id: 'call-gdel', name: 'deleteOrder', input: { orderId: 'G-1' } },
            ],
          },
          { text: 'Looked it up; deleting needs a human.' },
        ]),
      });
      const before = getAuditHooks();
      setAuditHooks({
        ...before,
        policy: ({ toolName }) =>
          toolName === 'deleteOrder'
            ? { outcome: 'approval_required', reason: 'a human approves deletes', policyId: 'gate' }
            : { outcome: 'allow', policyId: 'gate' },
      });
      let traceId = '';
      let result: TextResult;
      try {
        result = await runWorkflow({ agentId: 'orders-agent' }, async (run) => {
          traceId = run.span.spanContext().traceId;
          return api.generateText({
            model: auditModel(model as never),
            tools: auditTools(toolSet(bodies), {
              tools: {
                deleteOrder: { sideEffect: { operation: 'delete', targetSystem: 'orders-db' } },
              },
            }),
            prompt: 'Look up G-1 and delete it.',
            stopWhen: api.stepCountIs(3),
          });
        });
      } finally {
        setAuditHooks(before);
      }
      expect(bodies).toEqual({ lookupOrder: 1 });
      expect(
        result.steps[0]?.content.some(
          (p) => p.type === 'tool-error' && p.toolCallId === 'call-gdel',
        ),
      ).toBe(true);
      expect(JSON.stringify(model.doGenerateCalls[1]?.prompt)).toContain(
        'a human approves deletes',
      );
      const tools = auditTools_(await spansOf(traceId));
      const byId = new Map(tools.map((t) => [t.attrs['gen_ai.tool.call.id'], t]));
      expect(byId.get('call-look')?.attrs['decision.policy']).toBe('gate');
      expect(byId.get('call-look')?.attrs['decision.outcome']).toBe('allow');
      const refused = byId.get('call-gdel');
      expect(refused?.attrs['decision.policy']).toBe('gate');
      expect(refused?.attrs['decision.outcome']).toBe('approval_required');
      expect(refused?.events).toContain('side_effect.blocked');
      expect(refused?.events).toContain('approval.requested');
    });

    it('auditRun opens a run when none is active and joins the active one', async () => {
      const model = () =>
        new api.MockLanguageModel({
          doGenerate: scriptedGenerate([
            { toolCalls: [{ id: 'call-r', name: 'lookupOrder', input: { orderId: 'R-1' } }] },
            { text: 'ok' },
          ]),
        });
      const call = () =>
        api.generateText({
          model: auditModel(model() as never),
          tools: auditTools(toolSet({})),
          prompt: 'Look up R-1.',
          stopWhen: api.stepCountIs(3),
        });
      let opened: { runId: string; traceId: string } | undefined;
      await auditRun({ agentId: 'auto-run-agent' }, async (run) => {
        expect(run).toBeDefined();
        opened = { runId: run?.runId ?? '', traceId: run?.span.spanContext().traceId ?? '' };
        return call();
      });
      const openedSpans = await spansOf(opened?.traceId ?? '');
      expect(auditTools_(openedSpans).map((s) => s.attrs['workflow.run_id'])).toEqual([
        opened?.runId,
      ]);
      expect(
        openedSpans.filter(
          (s) => s.scope === AUDIT_SCOPE && s.attrs['agent.id'] === 'auto-run-agent',
        ).length,
      ).toBeGreaterThan(0);

      const outer = await runWorkflow({ agentId: 'outer-agent' }, async (run) => {
        await auditRun({ agentId: 'never-opened' }, async (joined) => {
          expect(joined).toBeUndefined();
          return call();
        });
        return { runId: run.runId, traceId: run.span.spanContext().traceId };
      });
      const joinedSpans = await spansOf(outer.traceId);
      expect(auditTools_(joinedSpans).map((s) => s.attrs['workflow.run_id'])).toEqual([
        outer.runId,
      ]);
      expect(joinedSpans.some((s) => s.attrs['agent.id'] === 'never-opened')).toBe(false);
    });

    it('auditRun keeps an opened run until a streamText result has finished', async () => {
      const model = new api.MockLanguageModel({
        doStream: scriptedStream([
          { toolCalls: [{ id: 'call-s', name: 'lookupOrder', input: { orderId: 'S-1' } }] },
          { text: 'streamed' },
        ]),
      });
      let traceId = '';
      const result = await auditRun({ agentId: 'stream-agent' }, (run) => {
        traceId = run?.span.spanContext().traceId ?? '';
        return api.streamText({
          model: auditModel(model as never),
          tools: auditTools(toolSet({})),
          prompt: 'Look up S-1.',
          stopWhen: api.stepCountIs(3),
        });
      });
      expect(await result.text).toBe('streamed');
      await new Promise((resolve) => setImmediate(resolve));
      const spans = await spansOf(traceId);
      const runSpan = spans.find(
        (s) =>
          s.attrs['agent.id'] === 'stream-agent' &&
          s.scope === AUDIT_SCOPE &&
          s.attrs['gen_ai.operation.name'] === 'invoke_agent',
      );
      expect(runSpan).toBeDefined();
      expect(auditTools_(spans)).toHaveLength(1);
      expect(auditLlm(spans)).toHaveLength(2);
      // The run this call opened ended only after the stream's last model call and tool call.
      const lastWork = [...auditTools_(spans), ...auditLlm(spans)].reduce(
        (max, s) => (s.end > max ? s.end : max),
        0n,
      );
      expect(runSpan && runSpan.end >= lastWork).toBe(true);
    });

    it('the agent class: auditAgent runs generate in a run, tools and model audited', async () => {
      const bodies: Record<string, number> = {};
      const model = new api.MockLanguageModel({ doGenerate: scriptedGenerate(multiStep) });
      const agent = auditAgent(
        new api.ToolLoopAgent({
          model: auditModel(model as never),
          tools: auditTools(toolSet(bodies)),
          stopWhen: api.stepCountIs(5),
        }),
        { agentId: 'loop-agent', agentName: 'orders' },
      );
      const result = await agent.generate({ prompt: 'Check orders A-1 and B-2, then tell ops.' });
      expect(result.text).toBe('Both orders shipped; ops notified.');
      expect(bodies).toEqual({ lookupOrder: 2, notifyTeam: 1 });
      await audit.forceFlush();
      const runRecord = readSegments(ts.storeDir)
        .filter((r) => r.type === 'span.end')
        .map((r) => spanOf(r))
        .find((s) => s.name === 'invoke_agent orders');
      expect(runRecord).toBeDefined();
      const runId = attrsOf(runRecord as NonNullable<typeof runRecord>)[
        'workflow.run_id'
      ] as string;
      await expectMultiStepTrail(runRecord?.traceId ?? '', runId, false);
    });

    it('the agent class, streamed: auditAgent keeps the run it opened until the stream ends', async () => {
      const bodies: Record<string, number> = {};
      const model = new api.MockLanguageModel({ doStream: scriptedStream(multiStep) });
      const agent = auditAgent(
        new api.ToolLoopAgent({
          model: auditModel(model as never),
          tools: auditTools(toolSet(bodies)),
          stopWhen: api.stepCountIs(5),
        }),
        { agentId: 'stream-loop-agent', agentName: 'streamed-orders' },
      );
      const result = (await agent.stream({
        prompt: 'Check orders A-1 and B-2, then tell ops.',
      })) as StreamResult;
      expect(await result.text).toBe('Both orders shipped; ops notified.');
      expect(bodies).toEqual({ lookupOrder: 2, notifyTeam: 1 });
      await new Promise((resolve) => setImmediate(resolve));
      await audit.forceFlush();
      const runRecord = readSegments(ts.storeDir)
        .filter((r) => r.type === 'span.end')
        .map((r) => spanOf(r))
        .find((s) => s.name === 'invoke_agent streamed-orders');
      expect(runRecord).toBeDefined();
      const runId = attrsOf(runRecord as NonNullable<typeof runRecord>)[
        'workflow.run_id'
      ] as string;
      const spans = await expectMultiStepTrail(runRecord?.traceId ?? '', runId, false);
      const runSpan = spans.find((s) => s.name === 'invoke_agent streamed-orders');
      const lastWork = [...auditTools_(spans), ...auditLlm(spans)].reduce(
        (max, s) => (s.end > max ? s.end : max),
        0n,
      );
      expect(runSpan && runSpan.end >= lastWork).toBe(true);
    });

    it('wrapLanguageModel with auditMiddleware records the same LLM calls', async () => {
      const model = new api.MockLanguageModel({ doGenerate: scriptedGenerate(multiStep) });
      const { runId, traceId } = await runWorkflow({ agentId: 'orders-agent' }, async (run) => {
        await api.generateText({
          model: api.wrapLanguageModel({ model, middleware: auditMiddleware() }),
          tools: auditTools(toolSet({})),
          prompt: 'Check orders A-1 and B-2, then tell ops.',
          stopWhen: api.stepCountIs(5),
        });
        return { runId: run.runId, traceId: run.span.spanContext().traceId };
      });
      await expectMultiStepTrail(traceId, runId, false);
    });
  });
}
