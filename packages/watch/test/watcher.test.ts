import { createHmac } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStore, verifyStore } from '@agent-audit/store';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../src/alert.js';
import { readAlerts } from '../src/alert-store.js';
import { watchConfigFrom } from '../src/watch-config.js';
import { Watcher } from '../src/watcher.js';
import { startReceiver } from './support/http-receiver.js';
import { type CallSpec, normalCalls, plantedCalls, toolCallEntry } from './support/tool-records.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'aa-watch-'));
  dirs.push(d);
  return d;
}

async function writeCalls(dir: string, trustDir: string, calls: CallSpec[]): Promise<void> {
  const store = AuditStore.open({ dir, trustDir });
  await store.appendBatch(calls.map(toolCallEntry));
  await store.close();
}

function configFor(root: string, extra: Record<string, unknown> = {}) {
  return watchConfigFrom(
    {
      stores: [{ dir: 'store', trust_dir: 'trust' }],
      alerts: { dir: 'alerts', trust_dir: 'alerts-trust' },
      state_dir: 'state',
      ...extra,
    },
    undefined,
    root,
  );
}

function open(root: string, extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const watcher = new Watcher(configFor(root, extra), {
    writeOut: (t) => out.push(t),
    writeErr: (t) => err.push(t),
    json: true,
    env,
  });
  closers.push(() => watcher.close());
  return { watcher, out, err };
}

function byPattern(alerts: Alert[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const a of alerts) out[a.pattern] = [...(out[a.pattern] ?? []), ...a.run_ids];
  return out;
}

describe('watcher on real stores', () => {
  it('alerts every planted pattern with its runs into its own verified store, a clean store raises none', async () => {
    const root = tmp();
    const store = join(root, 'store');
    const trust = join(root, 'trust');
    await writeCalls(store, trust, normalCalls(T0, 400));
    const first = open(root);
    const r1 = await first.watcher.runOnce();
    expect(r1.toolCalls).toBe(1200);
    expect(r1.alerts).toEqual([]);
    const { calls, runs } = plantedCalls(T0 + 400_000);
    await writeCalls(store, trust, calls);
    const r2 = await first.watcher.runOnce();
    const found = byPattern(r2.alerts);
    for (const [pattern, runId] of Object.entries(runs))
      expect(found[pattern], pattern).toContain(runId);
    // stdout sink: one JSON line per alert, in store order.
    const lines = first.out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Alert);
    expect(lines.map((a) => a.id)).toEqual(r2.alerts.map((a) => a.id));
    await first.watcher.close();
    closers.length = 0;

    // The alerts are audit records: verify the watcher's store, read them back.
    const report = await verifyStore({
      dir: join(root, 'alerts'),
      trustDir: join(root, 'alerts-trust'),
    });
    expect(report.problems).toEqual([]);
    expect(report.status).toBe('verified');
    const stored = readAlerts(join(root, 'alerts')).alerts.map((s) => s.alert.id);
    expect(stored).toEqual(r2.alerts.map((a) => a.id));

    // A restart from the persisted state: nothing new, nothing repeated, nothing re-delivered.
    const second = open(root);
    const r3 = await second.watcher.runOnce();
    expect(r3.records).toBe(0);
    expect(second.out).toEqual([]);
  });

  it('a crash after the alerts were appended but before the state was saved neither misses nor repeats', async () => {
    const root = tmp();
    const store = join(root, 'store');
    const trust = join(root, 'trust');
    await writeCalls(store, trust, normalCalls(T0, 400));
    const a = open(root);
    await a.watcher.runOnce();
    const stateFile = join(root, 'state', 'state.json');
    copyFileSync(stateFile, join(root, 'state-before'));
    await writeCalls(store, trust, plantedCalls(T0 + 400_000).calls);
    const raised = (await a.watcher.runOnce()).alerts.map((x) => x.id);
    await a.watcher.close();
    closers.length = 0;
    // Put back the state from before the batch: as if killed between the append and the rename.
    copyFileSync(join(root, 'state-before'), stateFile);
    rmSync(join(root, 'state', 'sinks'), { recursive: true });
    const b = open(root);
    const again = await b.watcher.runOnce();
    expect(again.alerts).toEqual([]); // the same ids were found, already in the alert store
    const stored = readAlerts(join(root, 'alerts')).alerts.map((s) => s.alert.id);
    expect(stored).toEqual(raised);
    expect(new Set(stored).size).toBe(stored.length);
    // The stdout sink lost its cursor too: it delivers each stored alert once more, no more.
    expect(b.out.join('').trim().split('\n')).toHaveLength(raised.length);
  });

  it('webhook: signed JSON with a de-dup key; a 500 then a hang lose nothing and deliver each alert once', async () => {
    const root = tmp();
    await writeCalls(join(root, 'store'), join(root, 'trust'), [
      ...normalCalls(T0, 100),
      { runId: 'stop-1', atMs: T0 + 200_000, decision: 'stop', reason: 'refund above limit' },
      {
        runId: 'stop-2',
        atMs: T0 + 200_001,
        decision: 'approval_required',
        reason: 'needs a manager',
      },
    ]);
    // Request 0: 500. Request 1: hangs (the sink's 300 ms timeout). Then 200s.
    const hook = await startReceiver((n) => (n === 0 ? 500 : n === 1 ? 'hang' : 200));
    closers.push(hook.close);
    const slack = await startReceiver(() => 200);
    closers.push(slack.close);
    const sinks = [
      {
        type: 'webhook',
        name: 'soc',
        url: hook.url,
        secret_env: 'SOC_SECRET',
        timeout_ms: 300,
        backoff_ms: 20,
        max_backoff_ms: 50,
      },
      { type: 'slack', name: 'chat', url: slack.url },
    ];
    const w = open(root, { sinks }, { SOC_SECRET: 's3cret' });
    const r = await w.watcher.runOnce();
    expect(r.alerts.map((a) => a.pattern)).toEqual(['policy', 'policy']);
    expect(w.err.join('')).toMatch(
      /sink soc \(http:\/\/127\.0\.0\.1:\d+\): HTTP 500; alert [0-9a-f]{32} and those after it stay in the outbox/,
    );
    for (let i = 0; i < 200 && hook.accepted.length < 2; i++) {
      await new Promise((res) => setTimeout(res, 25));
      await w.watcher.deliver();
    }
    expect(w.err.join('')).toMatch(/no answer within 300 ms/);
    const ids = r.alerts.map((a) => a.id);
    expect(hook.accepted.map((x) => x.headers['x-agent-audit-dedup-key'])).toEqual(ids);
    for (const x of hook.accepted) {
      const expected = `sha256=${createHmac('sha256', 's3cret').update(x.body).digest('hex')}`;
      expect(x.headers['x-agent-audit-signature']).toBe(expected);
      expect(JSON.parse(x.body).dedup_key).toBe(x.headers['x-agent-audit-dedup-key']);
    }
    // Every attempt carried one of the two keys: retries repeat the key, never a new alert.
    expect(new Set(hook.received.map((x) => x.headers['x-agent-audit-dedup-key']))).toEqual(
      new Set(ids),
    );
    expect(slack.accepted.map((x) => JSON.parse(x.body).text)).toEqual([
      expect.stringMatching(
        /^support-agent decision=stop reason=refund above limit tool=lookup_order tenant=acme run_id=stop-1 alert=/,
      ),
      expect.stringMatching(
        /^support-agent decision=approval_required reason=needs a manager .* run_id=stop-2 /,
      ),
    ]);
    // The body carries no secret; messages show no URL path (a Slack URL's path is its token).
    expect(hook.received.some((x) => x.body.includes('s3cret'))).toBe(false);
    expect(w.err.join('')).not.toMatch(/\/hook|s3cret/);
    expect(readFileSync(join(root, 'state', 'sinks', 'soc.json'), 'utf8')).toContain(
      '"delivered":2',
    );
  });

  it('a webhook secret_env that is not set is a configuration error naming the variable', () => {
    const root = tmp();
    expect(() =>
      open(root, {
        sinks: [{ type: 'webhook', url: 'http://127.0.0.1:9/x', secret_env: 'NOPE_SECRET' }],
      }),
    ).toThrow(/NOPE_SECRET \(secret_env\) is not set/);
  });
});
