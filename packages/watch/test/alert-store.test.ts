import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyStore } from '@agent-audit/store';
import { afterEach, describe, expect, it } from 'vitest';
import { type Alert, alertId } from '../src/alert.js';
import { AlertStore, readAlerts } from '../src/alert-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function alert(n: number): Alert {
  return {
    id: alertId('f'.repeat(32), n, 'output_size', 'out'),
    pattern: 'output_size',
    severity: 'medium',
    agent_id: 'support-agent',
    tool: 'lookup_order',
    tenant: 'acme',
    run_ids: [`run-${n}`],
    baseline: 400,
    observed: 300_000 + n,
    window_s: null,
    reason: 'far above',
    decision: 'allow',
    store: '/s',
    origin: 'f'.repeat(32),
    seq: n,
    event_time: '2026-03-01T10:00:00.000Z',
    detected_at: '2026-03-01T10:00:01.000Z',
    explain: `agent-audit explain run-${n} --store /s`,
  };
}

describe('the alert store', () => {
  it('alerts are signed audit records: appended once per id, verified, and a rewritten alert is tampering before and after a restart (which refuses the store)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'aa-alert-store-'));
    dirs.push(root);
    const dir = join(root, 'alerts');
    const trustDir = join(root, 'alerts-trust');
    const first = new AlertStore(dir, trustDir);
    expect((await first.append([alert(1), alert(2), alert(1)])).map((a) => a.seq)).toEqual([1, 2]);
    await first.close();
    const clean = await verifyStore({ dir, trustDir });
    expect(clean.status).toBe('verified');
    // A restart knows the ids already stored: the same alert is not appended again.
    const second = new AlertStore(dir, trustDir);
    expect(await second.append([alert(2), alert(3)])).toHaveLength(1);
    await second.close();
    expect(readAlerts(dir).alerts.map((s) => s.alert.seq)).toEqual([1, 2, 3]);

    // Rewrite what an alert observed (hiding how far above baseline the output was).
    const segment = join(dir, 'segments', readdirSync(join(dir, 'segments')).sort()[0]!);
    const text = readFileSync(segment, 'utf8');
    expect(text).toContain('"observed":300002');
    writeFileSync(segment, text.replace('"observed":300002', '"observed":400'));
    const tampered = await verifyStore({ dir, trustDir });
    expect(tampered.status).toBe('tampered');
    expect(tampered.problems[0]?.code).toBe('RECORD_HASH_MISMATCH');
    expect(() => readAlerts(dir)).toThrow(/does not match its hash/);

    // A watcher restart refuses to append to it, naming the store and the fix.
    expect(() => new AlertStore(dir, trustDir)).toThrow(
      `cannot read the alert store ${dir} (segment 1 seq 3: record does not match its hash (tampered); run agent-audit verify); check it with AGENT_AUDIT_TRUST_DIR=${trustDir} agent-audit verify --store ${dir}, and move it aside to start a new alert store`,
    );
    const after = await verifyStore({ dir, trustDir });
    expect(after.status).toBe('tampered');
    expect(after.problems.some((p) => p.code === 'RECORD_HASH_MISMATCH')).toBe(true);
  });
});
