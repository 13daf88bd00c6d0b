import { describe, expect, it } from 'vitest';
import {
  type ApprovalRequest,
  hashValue,
  recordApproval,
  recordSideEffect,
  runWorkflow,
  setAuditHooks,
  traceLlmCall,
  traceToolCall,
} from '../src/index.js';
import { useOtel } from './support/otel.js';

// DESIGN.md: values that cannot be hashed never throw into the agent; the span records why
// the hash is missing. Every recorder that hashes a value goes through one helper: this file
// attacks each of them (tool calls, LLM calls, runs, approvals, side effects) with values that
// have no canonical form, with and without content capture.

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const run = { agentId: 'a', agentName: 'A', runId: 'run-hash-err', credentialRef: 'cred:x' };

function cycle(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = { back: o };
  return o;
}

function throwingGetter(): Record<string, unknown> {
  return {
    ok: 1,
    get boom(): never {
      throw new Error('getter exploded');
    },
  };
}

const unhashable: [string, () => unknown, RegExp][] = [
  ['a cycle', cycle, /^cycle: value refers to itself at \$/],
  ['a throwing getter', throwingGetter, /^read_failed: reading \$\."boom" threw: getter exploded/],
];

describe.each([false, true])('captureContent %s', (captureContent) => {
  describe.each(unhashable)('%s', (_name, make, error) => {
    it('traceToolCall: input.hash_error and output.hash_error; the tool runs and returns', async () => {
      setAuditHooks({ captureContent });
      const result = make();
      const out = await runWorkflow(run, () =>
        traceToolCall({ toolName: 'db.read', input: make() }, () => result),
      );
      expect(out).toBe(result);
      const span = otel.byName('execute_tool db.read');
      expect(span.attributes['input.hash']).toBeUndefined();
      expect(span.attributes['input.hash_error']).toMatch(error);
      expect(span.attributes['audit.missing']).toContain('input.hash');
      expect(span.attributes['output.hash']).toBeUndefined();
      expect(span.attributes['output.hash_error']).toMatch(error);
      expect(span.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    });

    it('traceLlmCall: prompt.hash_error, prompt.system_hash_error, output.hash_error', async () => {
      setAuditHooks({ captureContent });
      const out = await traceLlmCall(
        { model: 'm', prompt: make(), systemPrompt: make() },
        (call) => {
          call.setResponse({ output: make(), inputTokens: 3 });
          return 'answer';
        },
      );
      expect(out).toBe('answer');
      const a = otel.byName('chat m').attributes;
      expect(a['prompt.hash']).toBeUndefined();
      expect(a['prompt.hash_error']).toMatch(error);
      expect(a['prompt.system_hash']).toBeUndefined();
      expect(a['prompt.system_hash_error']).toMatch(error);
      expect(a['output.hash']).toBeUndefined();
      expect(a['output.hash_error']).toMatch(error);
      // The rest of the response is still recorded.
      expect(a['gen_ai.usage.input_tokens']).toBe(3);
    });

    it('runWorkflow: input.hash_error and output.hash_error; the run returns its value', () => {
      const result = make();
      const out = runWorkflow({ ...run, input: make() }, () => result);
      expect(out).toBe(result);
      const span = otel.byName('invoke_agent A');
      expect(span.attributes['input.hash_error']).toMatch(error);
      expect(span.attributes['audit.missing']).toContain('input.hash');
      expect(span.attributes['output.hash_error']).toMatch(error);
      expect(span.attributes['output.hash']).toBeUndefined();
    });

    it('recordApproval: approval.input_hash_error and approval.shown_hash_error; a receipt is still returned', () => {
      const request: ApprovalRequest = Object.freeze({
        approvalId: 'apr_1',
        runId: 'run-hash-err',
        toolName: 'refund',
        toolVersion: undefined,
        actionKey: 'refund:k',
        inputHash: (hashValue({ amount: 1 }) as { hash: string }).hash,
        input: { amount: 1 },
        decision: { outcome: 'approval_required' as const },
      });
      const receipt = runWorkflow(run, () =>
        recordApproval(request, {
          approver: 'user:jane',
          decision: 'approved',
          approvedInput: make(),
          shown: make(),
        }),
      );
      expect(receipt.approvalId).toBe('apr_1');
      expect(receipt.inputHash).toBeUndefined();
      expect(receipt.shownHash).toBeUndefined();
      const a = otel.byName('approval refund').attributes;
      expect(a['approval.input_hash']).toBeUndefined();
      expect(a['approval.input_hash_error']).toMatch(error);
      expect(a['input.hash_error']).toMatch(error);
      expect(a['approval.shown_hash']).toBeUndefined();
      expect(a['approval.shown_hash_error']).toMatch(error);
      expect(a['approval.proposed_hash']).toBe(request.inputHash);
    });

    it('recordSideEffect: side_effect.result_hash_error on the event, inside a tool call and on its own span', async () => {
      const inside = await runWorkflow(run, () =>
        traceToolCall({ toolName: 'email.send', input: { to: 'x' } }, () =>
          recordSideEffect({ targetSystem: 'smtp', operation: 'send', result: make() }),
        ),
      );
      expect(inside.resultHash).toBeUndefined();
      const event = otel
        .byName('execute_tool email.send')
        .events.find((e) => e.name === 'side_effect.applied');
      expect(event?.attributes?.['side_effect.result_hash']).toBeUndefined();
      expect(event?.attributes?.['side_effect.result_hash_error']).toMatch(error);

      const alone = recordSideEffect({ targetSystem: 'smtp', operation: 'send', result: make() });
      expect(alone.resultHash).toBeUndefined();
      const own = otel.byName('side_effect send smtp');
      expect(own.attributes['side_effect.result_hash_error']).toMatch(error);
      expect(own.events[0]?.attributes?.['side_effect.result_hash_error']).toMatch(error);
    });
  });
});

describe('values that only JSON lacks a form for are hashed, not errors (documented forms)', () => {
  it('a BigInt is hashed as its decimal string by every recorder', async () => {
    const value = { n: 12n };
    const hash = (hashValue({ n: '12' }) as { hash: string }).hash;
    await runWorkflow({ ...run, input: value }, async () => {
      await traceToolCall({ toolName: 't', input: value }, () => value);
      await traceLlmCall({ model: 'm', prompt: value }, (call) =>
        call.setResponse({ output: value }),
      );
      recordSideEffect({ targetSystem: 's', operation: 'o', result: value });
      return value;
    });
    const runSpan = otel.byName('invoke_agent A').attributes;
    expect(runSpan['input.hash']).toBe(hash);
    expect(runSpan['output.hash']).toBe(hash);
    const tool = otel.byName('execute_tool t');
    expect(tool.attributes['input.hash']).toBe(hash);
    expect(tool.attributes['output.hash']).toBe(hash);
    const llm = otel.byName('chat m').attributes;
    expect(llm['prompt.hash']).toBe(hash);
    expect(llm['output.hash']).toBe(hash);
    const effect = otel
      .byName('invoke_agent A')
      .events.find((e) => e.name === 'side_effect.applied');
    expect(effect?.attributes?.['side_effect.result_hash']).toBe(hash);
  });
});
