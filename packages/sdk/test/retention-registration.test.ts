import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getAgentAudit, registerAgentAudit } from '../src/register-agent-audit.js';
import { readSegments, type TempStore, tempStore } from './helpers.js';

const DAY = 86_400_000;

describe('registerAgentAudit({ retention })', () => {
  let ts: TempStore;
  beforeEach(() => {
    ts = tempStore('aa-retention-');
  });
  afterEach(async () => {
    await getAgentAudit()?.shutdown();
    vi.unstubAllEnvs();
    ts.cleanup();
  });

  const base = () => ({
    storeDir: ts.storeDir,
    trustDir: ts.trustDir,
    forward: false,
    installExitHandlers: false,
    serviceName: 'retention-test',
  });

  it('records the policy in the store as a signed retention.policy record', async () => {
    const audit = registerAgentAudit({
      ...base(),
      retention: { minAge: '30d', maxAge: '400d', tenants: { acme: { maxAge: '90d' } } },
      pruneEvery: '1h',
    });
    await audit.forceFlush();
    const policies = readSegments(ts.storeDir).filter((r) => r.type === 'retention.policy');
    expect(policies).toHaveLength(1);
    expect(policies[0]!.payload).toMatchObject({
      reason: 'configured',
      policy: {
        minAgeMs: 30 * DAY,
        maxAgeMs: 400 * DAY,
        tenants: { acme: { maxAgeMs: 90 * DAY } },
      },
    });
    expect(typeof (policies[0]!.payload as { sig: unknown }).sig).toBe('string');
  });

  it('a bad policy or interval throws a Configuration error before the store is opened', () => {
    expect(() =>
      registerAgentAudit({ ...base(), retention: { minAge: '9d', maxAge: '3d' } }),
    ).toThrow(/Configuration: retention.minAge is invalid, expected at most maxAge/);
    expect(() => registerAgentAudit({ ...base(), pruneEvery: 'hourly' })).toThrow(
      /Configuration: pruneEvery is invalid/,
    );
    expect(existsSync(ts.storeDir)).toBe(false);
  });

  it('reads AGENT_AUDIT_RETENTION_POLICY when no policy is given in code; a bad file warns and is ignored', async () => {
    const file = join(ts.root, 'policy.json');
    writeFileSync(file, JSON.stringify({ minAge: '7d' }));
    vi.stubEnv('AGENT_AUDIT_RETENTION_POLICY', file);
    let audit = registerAgentAudit(base());
    await audit.shutdown();
    let policies = readSegments(ts.storeDir).filter((r) => r.type === 'retention.policy');
    expect(
      policies.map((p) => (p.payload as { policy: { minAgeMs: number } }).policy.minAgeMs),
    ).toEqual([7 * DAY]);
    writeFileSync(file, '{"minAge": 3 days}');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    audit = registerAgentAudit(base());
    await audit.shutdown();
    expect(String(warn.mock.calls[0]?.[0])).toMatch(
      /retention policy file .*policy\.json is invalid.*AGENT_AUDIT_RETENTION_POLICY ignored/,
    );
    warn.mockRestore();
    // The recorded policy stays in force: nothing new recorded.
    policies = readSegments(ts.storeDir).filter((r) => r.type === 'retention.policy');
    expect(policies).toHaveLength(1);
  });
});
