import { describe, expect, it } from 'vitest';
import {
  type ApprovalRequest,
  type ApprovalRequiredError,
  hashValue,
  recordApproval,
  runWorkflow,
  setAuditHooks,
  traceLlmCall,
  traceToolCall,
} from '../src/index.js';
import { useOtel } from './support/otel.js';

// Rows 31 and 33 on the instrumentation side: the hash key and raw inputs never reach a span
// unless content capture is explicitly on.
const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const everything = () =>
  JSON.stringify(
    otel
      .spans()
      .map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })),
  );

describe('privacy of what the instrumentation records', () => {
  it('raw inputs, outputs, prompts and approval arguments never appear without content capture', async () => {
    const email = ['jane.doe', 'example.org'].join('@');
    const card = ['4111', '1111', '1111', '1111'].join(' ');
    const input = { customer: email, card, note: 'call me at +1 555 123 4567' };
    await runWorkflow({ agentId: 'a', credentialRef: 'cred:x', input }, async () => {
      await traceToolCall({ toolName: 'crm.lookup', input }, () => ({ found: email }));
      await traceLlmCall(
        { model: 'm', prompt: [{ role: 'user', content: email }], systemPrompt: card },
        (c) => c.setResponse({ output: { text: card } }),
      );
      const request = await traceToolCall(
        { toolName: 'pay', input, policy: () => ({ outcome: 'approval_required' }) },
        () => 0,
      ).catch((e: ApprovalRequiredError) => e.request);
      recordApproval(request as ApprovalRequest, {
        approver: 'user:ops',
        decision: 'approved',
        approvedInput: { ...input, card: 'removed' },
      });
    });
    const recorded = everything();
    for (const secret of [email, card, '555 123 4567', 'jane.doe'])
      expect(recorded).not.toContain(secret);
    expect(otel.spans().length).toBeGreaterThanOrEqual(5);
  });

  it('with content capture on, the content is recorded (so the test above can fail)', async () => {
    setAuditHooks({ captureContent: true });
    const email = ['jane.doe', 'example.org'].join('@');
    await runWorkflow({ agentId: 'a', credentialRef: 'cred:x' }, () =>
      traceToolCall({ toolName: 'crm.lookup', input: { email } }, () => 1),
    );
    expect(everything()).toContain(email);
  });

  it('the HMAC key secret never appears in any span, event or status', async () => {
    const secret = ['hmac', 'secret', 'for', 'tenant', 'acme', '0123456789'].join('-');
    setAuditHooks({ hashKey: { id: 'acme-2026', secret } });
    await runWorkflow(
      { agentId: 'a', credentialRef: 'cred:x', tenantId: 'acme', input: 'yes' },
      () =>
        traceToolCall(
          { toolName: 't', input: 'yes', policy: () => ({ outcome: 'allow' }) },
          () => 'no',
        ),
    );
    const recorded = everything();
    expect(recorded).toContain('hmac-sha256:acme-2026:');
    expect(recorded).not.toContain(secret);
    // The unkeyed (dictionary-reversible) hash of the low-entropy input is nowhere either.
    const unkeyed = hashValue('yes') as { hash: string };
    expect(recorded).not.toContain(unkeyed.hash.slice('sha256:'.length));
  });
});
