import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentAuditHandle, registerAgentAudit } from '@agent-audit/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractMeta } from '../src/index.js';

// Issue 13 §3 (RELIABILITY row 50): an MCP request's `_meta` is input from another process. A principal that
// renders as something else (controls, C1, bidi overrides, invisible formatting) or is too
// long is never kept as the claimed principal; the finding is a trace-context violation.

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const ATTACKS: Array<[string, string]> = [
  ['ESC', 'user:\u001b[2Kadmin'],
  ['C1 CSI', 'user:\u009b2Kadmin'],
  ['bidi RLO override', 'user:\u202enimda'],
  ['bidi isolate', 'user:\u2066admin\u2069'],
  ['zero-width space', 'user:ad\u200bmin'],
  ['too long', `user:${'a'.repeat(300)}`],
];

// The SDK registers the W3C propagators extractMeta reads with.
let dir: string;
let audit: AgentAuditHandle;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aa-mcp-meta-'));
  audit = registerAgentAudit({
    storeDir: join(dir, 'store'),
    trustDir: join(dir, 'trust'),
    forward: false,
    installExitHandlers: false,
  });
});
afterAll(async () => {
  await audit.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('extractMeta: principals are validated at capture', () => {
  it.each(ATTACKS)('refuses a claimed principal with %s', (_name, principal) => {
    const meta = {
      traceparent,
      baggage: `workflow.run_id=run-mcp-1,trigger.principal=${encodeURIComponent(principal)}`,
    };
    const out = extractMeta(meta);
    expect(out.runId).toBe('run-mcp-1');
    expect(out.claimedPrincipal).toBeUndefined();
    expect(out.violations).toContain('malformed_trace_context');
    expect(out.errors.join('\n')).toContain('trigger.principal is not a valid principal');
  });

  it('keeps an ordinary claimed principal, space and non-Latin letters included', () => {
    for (const principal of ['user:jane doe@example.com', 'user:山田']) {
      const out = extractMeta({
        traceparent,
        baggage: `workflow.run_id=run-mcp-1,trigger.principal=${encodeURIComponent(principal)}`,
      });
      expect(out.claimedPrincipal).toBe(principal);
      expect(out.violations).toEqual([]);
    }
  });

  it('refuses a run id with a control or bidi character: no run', () => {
    const out = extractMeta({ traceparent, baggage: 'workflow.run_id=run%E2%80%AEmcp' });
    expect(out.runId).toBeUndefined();
    expect(out.violations).toContain('malformed_trace_context');
  });
});
