import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { hashValue, runWorkflow, setAuditHooks, traceLlmCall } from '../src/index.js';
import { useOtel } from './support/otel.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const run = {
  agentId: 'a',
  agentName: 'A',
  runId: 'run-llm-1',
  triggerPrincipal: 'user:1',
  credentialRef: 'cred:x',
};
const hashOf = (v: unknown) => (hashValue(v) as { hash: string }).hash;
const messages = [{ role: 'user', content: 'refund order 8812' }];

describe('traceLlmCall', () => {
  it('records model, provider, usage, stop reason, prompt hash/version and requested tools', async () => {
    const out = await runWorkflow(run, () =>
      traceLlmCall(
        {
          model: 'scripted-1',
          provider: 'openai',
          prompt: messages,
          systemPrompt: 'You are a refunds agent.',
          promptName: 'refund-agent',
          promptVersion: '12',
          maxTokens: 256,
          temperature: 0,
        },
        async (call) => {
          call.setResponse({
            model: 'scripted-1-2026',
            id: 'resp_1',
            finishReasons: ['tool_calls'],
            inputTokens: 31,
            outputTokens: 12,
            toolCalls: [{ name: 'db.write', id: 'call_1' }, { name: 'email.send' }],
            output: { role: 'assistant', tool_calls: 2 },
          });
          return 'answer';
        },
      ),
    );
    expect(out).toBe('answer');
    const span = otel.byName('chat scripted-1');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.parentSpanContext?.spanId).toBe(otel.byName('invoke_agent A').spanContext().spanId);
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'scripted-1',
      'gen_ai.request.max_tokens': 256,
      'gen_ai.request.temperature': 0,
      'gen_ai.prompt.name': 'refund-agent',
      'prompt.version': '12',
      'prompt.hash': hashOf(messages),
      'prompt.system_hash': hashOf('You are a refunds agent.'),
      'gen_ai.response.model': 'scripted-1-2026',
      'gen_ai.response.id': 'resp_1',
      'gen_ai.response.finish_reasons': ['tool_calls'],
      'gen_ai.usage.input_tokens': 31,
      'gen_ai.usage.output_tokens': 12,
      'llm.requested_tools': ['db.write', 'email.send'],
      'llm.requested_tool_call_ids': ['call_1', ''],
      'output.hash': hashOf({ role: 'assistant', tool_calls: 2 }),
      'workflow.run_id': 'run-llm-1',
    });
    expect(span.attributes['gen_ai.input.messages']).toBeUndefined();
    expect(span.attributes['gen_ai.system_instructions']).toBeUndefined();
    expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
  });

  it('records message content only when opted in', async () => {
    setAuditHooks({ captureContent: true });
    await traceLlmCall({ model: 'm', prompt: messages, systemPrompt: 'sys' }, (call) => {
      call.setResponse({ output: [{ role: 'assistant', content: 'done' }] });
    });
    const span = otel.byName('chat m');
    expect(span.attributes['gen_ai.input.messages']).toBe(
      '[{"content":"refund order 8812","role":"user"}]',
    );
    expect(span.attributes['gen_ai.system_instructions']).toBe('"sys"');
    expect(span.attributes['gen_ai.output.messages']).toBe(
      '[{"content":"done","role":"assistant"}]',
    );
  });

  it('propagates the model error unchanged with error.type', async () => {
    class RateLimitError extends Error {}
    const e = new RateLimitError('429');
    await expect(
      traceLlmCall({ model: 'm' }, () => {
        throw e;
      }),
    ).rejects.toBe(e);
    const span = otel.byName('chat m');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('RateLimitError');
  });

  it('a malformed response never reaches the caller', async () => {
    const out = await traceLlmCall({ model: 'm' }, (call) => {
      call.setResponse(null as never);
      call.setResponse({ inputTokens: Number.NaN, toolCalls: 'x' as never });
      return 1;
    });
    expect(out).toBe(1);
    expect(otel.byName('chat m').attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });
});
