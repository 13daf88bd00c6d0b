import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  isSubjectRef,
  runWorkflow,
  setAuditHooks,
  subjectRef,
  traceToolCall,
} from '../src/index.js';
import { setupOtel, type TestOtel } from './support/otel.js';

let otel: TestOtel;
beforeAll(() => {
  otel = setupOtel();
});
afterEach(() => {
  otel.reset();
  setAuditHooks(undefined);
});

const key = { id: 'subj-1', secret: 'k'.repeat(32) };

describe('data.subjects as keyed references', () => {
  it('a reference is subj:<key id>:<32 hex>, stable, keyed, domain-separated, case-sensitive', () => {
    const ref = subjectRef('customer:981', key);
    expect(ref).toMatch(/^subj:subj-1:[0-9a-f]{32}$/);
    expect(isSubjectRef(ref)).toBe(true);
    expect(subjectRef('customer:981', key)).toBe(ref);
    expect(subjectRef('Customer:981', key)).not.toBe(ref);
    expect(subjectRef('customer:981', { id: 'subj-1', secret: 'j'.repeat(32) })).not.toBe(ref);
    // Already a reference: unchanged (references made elsewhere pass through).
    expect(subjectRef(ref, key)).toBe(ref);
    expect(isSubjectRef('customer:981')).toBe(false);
  });

  it('the raw identifier never reaches a span: run and tool spans carry only references', async () => {
    setAuditHooks({ subjectKey: key });
    const ref = subjectRef('alice@example.com', key);
    await runWorkflow(
      { agentId: 'a', compliance: { dataSubjects: ['alice@example.com', 'customer:981'] } },
      () =>
        traceToolCall(
          { toolName: 'crm.read', input: {}, compliance: { dataSubjects: ['alice@example.com'] } },
          () => 1,
        ),
    );
    const spans = otel.spans();
    expect(spans.length).toBeGreaterThan(1);
    const dump = JSON.stringify(spans.map((s) => ({ a: s.attributes, e: s.events })));
    expect(dump).not.toContain('alice@example.com');
    expect(dump).not.toContain('customer:981');
    expect(otel.byName('execute_tool crm.read').attributes['data.subjects']).toEqual([ref]);
  });

  it('without a subject key, raw identifiers are refused with a Configuration error that does not echo them', async () => {
    expect(() =>
      runWorkflow({ agentId: 'a', compliance: { dataSubjects: ['alice@example.com'] } }, () => 1),
    ).toThrow(
      /^Configuration: compliance.dataSubjects is invalid, expected subject references \(subj:…\), or a subject key .*\(actual: 1 raw identifier\(s\) and no subject key\)$/,
    );
    try {
      await runWorkflow(
        { agentId: 'a', compliance: { dataSubjects: ['alice@example.com'] } },
        () => 1,
      );
    } catch (error) {
      expect(String(error)).not.toContain('alice');
    }
    // References made elsewhere are fine without a key.
    const ref = subjectRef('alice@example.com', key);
    await runWorkflow({ agentId: 'a', compliance: { dataSubjects: [ref] } }, () => 1);
    expect(otel.spans()[0]!.attributes['data.subjects']).toEqual([ref]);
  });

  it('a bad subject key is refused by setAuditHooks', () => {
    expect(() => setAuditHooks({ subjectKey: { id: 'x', secret: 'short' } })).toThrow(
      /Configuration: subjectKey is invalid, expected a secret of at least 16 bytes/,
    );
  });
});
