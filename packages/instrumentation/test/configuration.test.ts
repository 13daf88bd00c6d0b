import { describe, expect, it } from 'vitest';
import {
  type ApprovalRequest,
  credentialRef,
  recordApproval,
  recordCredentialIssued,
  recordPolicyChange,
  recordSideEffect,
  runWorkflow,
  setAuditHooks,
  traceLlmCall,
  traceToolCall,
} from '../src/index.js';

// Every bad option given in code throws one shape of message, written in one place
// (src/internal/configuration.ts): `Configuration: X is invalid, expected … (actual: …)`.

const request = {
  approvalId: 'apr_1',
  toolName: 't',
  actionKey: 'k',
  input: {},
  decision: { outcome: 'approval_required' },
} as unknown as ApprovalRequest;
const noop = () => undefined;
const bad = <T>(v: unknown) => v as T;

const cases: [string, () => unknown, string][] = [
  [
    'runWorkflow options',
    () => runWorkflow(bad(null), noop),
    'Configuration: options is invalid, expected an object (actual: object)',
  ],
  [
    'runWorkflow fn',
    () => runWorkflow({ agentId: 'a' }, bad(1)),
    'Configuration: fn is invalid, expected a function (actual: number)',
  ],
  [
    'runWorkflow agentId',
    () => runWorkflow({ agentId: '' }, noop),
    'Configuration: agentId is invalid, expected a non-empty string (actual: empty string)',
  ],
  [
    'runWorkflow runId',
    () => runWorkflow({ agentId: 'a', runId: ' x' }, noop),
    'Configuration: runId is invalid, expected 1-128 characters [A-Za-z0-9._:@/+=-] starting with a letter or digit (actual: " x")',
  ],
  [
    'runWorkflow compliance',
    () => runWorkflow({ agentId: 'a', compliance: bad({ dataSubjects: 'x' }) }, noop),
    'Configuration: compliance.dataSubjects is invalid, expected an array of strings (actual: other)',
  ],
  [
    'traceToolCall scope',
    () => traceToolCall({ toolName: 't', scope: bad('world') }, noop),
    'Configuration: scope is invalid, expected user|tenant|global (actual: "world")',
  ],
  [
    'traceToolCall captureContent',
    () => traceToolCall({ toolName: 't', captureContent: bad('yes') }, noop),
    'Configuration: captureContent is invalid, expected a boolean (actual: string)',
  ],
  [
    'traceToolCall policy',
    () => traceToolCall({ toolName: 't', policy: bad(1) }, noop),
    'Configuration: policy is invalid, expected a function (actual: number)',
  ],
  [
    'traceLlmCall temperature',
    () => traceLlmCall({ model: 'm', temperature: Number.NaN }, noop),
    'Configuration: temperature is invalid, expected a finite number (actual: number)',
  ],
  [
    'recordApproval decision',
    () => recordApproval(request, { approver: 'u', decision: bad('maybe') }),
    'Configuration: decision is invalid, expected approved|rejected (actual: "maybe")',
  ],
  [
    'recordApproval missing decision',
    () => recordApproval(request, bad({ approver: 'u' })),
    'Configuration: decision is invalid, expected approved|rejected (actual: undefined)',
  ],
  [
    'recordApproval time',
    () =>
      recordApproval(request, { approver: 'u', decision: 'approved', time: new Date(Number.NaN) }),
    'Configuration: time is invalid, expected a valid Date (actual: other)',
  ],
  [
    'recordSideEffect status',
    () => recordSideEffect({ targetSystem: 's', operation: 'o', status: bad('done') }),
    'Configuration: status is invalid, expected applied|blocked (actual: "done")',
  ],
  [
    'recordPolicyChange actorType',
    () => recordPolicyChange({ policyId: 'p', actor: 'user:jane', actorType: bad('agent') }),
    'Configuration: actorType is invalid, expected human|system (actual: "agent")',
  ],
  [
    'recordCredentialIssued scopes',
    () => recordCredentialIssued({ ref: 'cred:k:1', scopes: bad('x') }),
    'Configuration: scopes is invalid, expected an array of strings (actual: other)',
  ],
  [
    'credentialRef prefix',
    () => credentialRef('s3cret', { key: { id: 'k', secret: 'x'.repeat(16) }, prefix: 'BAD' }),
    'Configuration: prefix is invalid, expected [a-z][a-z0-9_-]{0,31} (actual: "BAD")',
  ],
  [
    'setAuditHooks strict',
    () => setAuditHooks(bad({ strict: 1 })),
    'Configuration: strict is invalid, expected a boolean (actual: number)',
  ],
  [
    'setAuditHooks hashKey',
    () => setAuditHooks({ hashKey: bad({ id: 'k', secret: 'short' }) }),
    'Configuration: hashKey is invalid, expected a secret of at least 16 bytes (actual: 5 bytes)',
  ],
];

describe('bad options: one message shape, thrown before anything runs', () => {
  it.each(cases)('%s', async (_name, call, message) => {
    let thrown: unknown;
    try {
      // A synchronous throw, or (traceToolCall, traceLlmCall) a rejection before fn runs.
      await call();
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error | undefined)?.message).toBe(message);
    expect(message).toMatch(/^Configuration: \S.* is invalid, expected .+ \(actual: .+\)$/);
  });
});
