// auditTools / auditModel edge cases with the real ai@6 and an in-memory exporter: bad options,
// the caller's tool set left alone, streaming tools, model errors before and during a stream.
import { runWorkflow } from '@agent-audit/instrumentation';
import { SpanStatusCode } from '@opentelemetry/api';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setupOtel, type TestOtel } from '../../instrumentation/test/support/otel.js';
import { auditMiddleware, auditModel, auditRun, auditTools } from '../src/index.js';
import { scriptedGenerate } from './scripted-model.js';

let otel: TestOtel;
beforeAll(() => {
  otel = setupOtel();
});
beforeEach(() => otel.reset());

const schema = jsonSchema<{ q: string }>({
  type: 'object',
  properties: { q: { type: 'string' } },
  required: ['q'],
});

describe('options', () => {
  it.each([
    ['tools', () => auditTools(null as never)],
    ['tools (array)', () => auditTools([] as never)],
    ['options', () => auditTools({}, 'x' as never)],
    ['options.bogus', () => auditTools({}, { bogus: 1 } as never)],
    ['options.tools.missing', () => auditTools({ a: {} }, { tools: { missing: {} } })],
    ['model', () => auditModel({} as never)],
    ['options.nope', () => auditMiddleware({ nope: true } as never)],
    ['fn', () => auditRun({ agentId: 'a' }, 'x' as never)],
  ])('%s is refused with a Configuration error', (name, make) => {
    expect(make).toThrow(
      new RegExp(
        `^Configuration: ${name.split(' ')[0]!.replace('.', '\\.')} is invalid, expected `,
      ),
    );
  });
});

describe('auditTools', () => {
  it("leaves the caller's tool set and execute-less tools as they were", () => {
    const execute = async () => 1;
    const withBody = tool({ inputSchema: schema, execute });
    const clientSide = tool({ inputSchema: schema });
    const tools = { withBody, clientSide };
    const audited = auditTools(tools);
    expect(tools.withBody.execute).toBe(execute);
    expect(audited.withBody.execute).not.toBe(execute);
    expect(audited.clientSide).toBe(clientSide);
  });

  it('a streaming tool: preliminary values reach the AI SDK, the final one is hashed', async () => {
    let bodies = 0;
    const progress = tool({
      inputSchema: schema,
      async *execute({ q }) {
        bodies++;
        yield { status: 'working', q };
        yield { status: 'done', q };
      },
    });
    const model = new MockLanguageModelV3({
      doGenerate: scriptedGenerate([
        { toolCalls: [{ id: 'call-p', name: 'progress', input: { q: 'x' } }] },
        { text: 'done' },
      ]),
    });
    const result = await runWorkflow({ agentId: 'a', credentialRef: 'cred:x' }, () =>
      generateText({
        model,
        tools: auditTools({ progress }),
        prompt: 'go',
        stopWhen: stepCountIs(3),
      }),
    );
    expect(bodies).toBe(1);
    const toolResult = result.steps[0]?.content.find((p) => p.type === 'tool-result');
    expect(toolResult && 'output' in toolResult ? toolResult.output : undefined).toEqual({
      status: 'done',
      q: 'x',
    });
    const span = otel.byName('execute_tool progress');
    expect(span.attributes['gen_ai.tool.call.id']).toBe('call-p');
    expect(span.attributes['output.hash']).toMatch(/\S/);
  });
});

describe('auditModel', () => {
  it("a model error before any answer is the caller's, and the LLM span says so", async () => {
    const model = new MockLanguageModelV3({
      doGenerate: async () => {
        throw new Error('provider down');
      },
    });
    await expect(
      generateText({ model: auditModel(model), prompt: 'hi', maxRetries: 0 }),
    ).rejects.toThrow('provider down');
    const span = otel.byName('chat mock-model-id');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('a stream that fails half-way ends the LLM span with the error; the reader sees it', async () => {
    const model = new MockLanguageModelV3({
      doStream: async () => ({
        stream: new ReadableStream({
          start(controller) {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            controller.enqueue({ type: 'text-start', id: 't' });
            controller.enqueue({ type: 'text-delta', id: 't', delta: 'par' });
            controller.error(new Error('connection reset'));
          },
        }),
      }),
    });
    const errors: unknown[] = [];
    const result = streamText({ model: auditModel(model), prompt: 'hi' });
    await result.consumeStream({ onError: (error) => errors.push(error) });
    await expect(result.text).rejects.toThrow('connection reset');
    expect(String(errors[0])).toContain('connection reset');
    const span = otel.byName('chat mock-model-id');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('a stream the reader cancels still ends the LLM span', async () => {
    const model = new MockLanguageModelV3({
      doStream: async () => ({
        stream: new ReadableStream({
          start(controller) {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            controller.enqueue({ type: 'text-start', id: 't' });
            controller.enqueue({ type: 'text-delta', id: 't', delta: 'never ending' });
          },
        }),
      }),
    });
    const audited = auditModel(model);
    const { stream } = await audited.doStream({ prompt: [] } as never);
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel('enough');
    await new Promise((resolve) => setImmediate(resolve));
    expect(otel.spans().filter((s) => s.name === 'chat mock-model-id')).toHaveLength(1);
  });
});
