import { describe, expect, it } from 'vitest';
import {
  hashValue,
  recordInputResolved,
  recordValidation,
  runWorkflow,
  setAuditHooks,
} from '../src/index.js';
import { useOtel } from './support/otel.js';

const otel = useOtel({ afterEach: () => setAuditHooks(undefined) });

const run = {
  agentName: 'Support',
  agentId: 'support-agent',
  triggerPrincipal: 'user:9',
  credentialRef: 'cred:r',
  runId: 'run-iv-1',
};
const runEvents = () => otel.byName('invoke_agent Support').events;

describe('recordInputResolved', () => {
  it('records what the run read by reference and hash, never the content', async () => {
    const ticket = { id: 4711, body: 'my card number changed' };
    const hashes = await runWorkflow(run, () =>
      recordInputResolved({
        sources: [
          { ref: 'crm:ticket/4711', type: 'record', content: ticket },
          { ref: 'kb://refunds#3', type: 'document', hash: 'sha256:abc' },
          { ref: 'inbox:msg/9' },
        ],
      }),
    );
    expect(hashes).toEqual([(hashValue(ticket) as { hash: string }).hash, 'sha256:abc', undefined]);
    const e = runEvents().find((x) => x.name === 'input.resolved');
    expect(e?.attributes).toMatchObject({
      'input.source_refs': ['crm:ticket/4711', 'kb://refunds#3', 'inbox:msg/9'],
      'input.source_hashes': [hashes[0], 'sha256:abc', ''],
      'input.source_types': ['record', 'document', ''],
      'workflow.run_id': 'run-iv-1',
      'actor.type': 'agent',
    });
    expect(JSON.stringify(e?.attributes)).not.toContain('card number');
  });

  it('uses the keyed hash when a hash key is set', async () => {
    setAuditHooks({ hashKey: { id: 'k1', secret: 'a-32-byte-secret-for-tests-only!' } });
    const [h] = await runWorkflow(run, () =>
      recordInputResolved({ sources: [{ ref: 'crm:1', content: 'yes' }] }),
    );
    expect(h).toMatch(/^hmac-sha256:k1:/);
  });

  it.each([
    [{ sources: [] }, /sources is invalid, expected a non-empty array/],
    [{ sources: [{ ref: '' }] }, /sources\[0\]\.ref is invalid/],
    [{}, /sources is invalid/],
  ])('refuses bad options with a Configuration error (%j)', (options, message) => {
    expect(() => recordInputResolved(options as never)).toThrow(message);
  });
});

describe('recordValidation', () => {
  it('records validation.passed and validation.failed with name, reason and subject hash', async () => {
    await runWorkflow(run, () => {
      recordValidation({ name: 'schema:refund', passed: true, subject: { amount: 5 } });
      recordValidation({
        name: 'guardrail:pii',
        passed: false,
        reason: 'output holds an email address',
        subjectRef: 'draft:7',
      });
    });
    const passed = runEvents().find((x) => x.name === 'validation.passed');
    expect(passed?.attributes).toMatchObject({
      'validation.name': 'schema:refund',
      'actor.type': 'system',
      'actor.id': 'schema:refund',
      'payload.hash': (hashValue({ amount: 5 }) as { hash: string }).hash,
    });
    const failed = runEvents().find((x) => x.name === 'validation.failed');
    expect(failed?.attributes).toMatchObject({
      'validation.name': 'guardrail:pii',
      'validation.reason': 'output holds an email address',
      'payload.ref': 'draft:7',
    });
  });

  it('refuses a missing passed flag', () => {
    expect(() => recordValidation({ name: 'x' } as never)).toThrow(
      'Configuration: passed is invalid, expected a boolean (actual: undefined)',
    );
  });
});
