import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStore } from '@agent-audit/store';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../src/alert.js';
import { readAlerts } from '../src/alert-store.js';
import { watchConfigFrom } from '../src/watch-config.js';
import { Watcher } from '../src/watcher.js';
import { type CallSpec, normalCalls, plantedCalls, toolCallEntry } from './support/tool-records.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'aa-watch-bad-'));
  dirs.push(d);
  return d;
}

async function writeCalls(
  dir: string,
  trustDir: string,
  calls: CallSpec[],
  options: { segmentMaxBytes?: number; now?: () => Date } = {},
): Promise<void> {
  const store = AuditStore.open({ dir, trustDir, ...options });
  for (let i = 0; i < calls.length; i += 50)
    await store.appendBatch(calls.slice(i, i + 50).map(toolCallEntry));
  await store.close();
}

function open(root: string) {
  const out: string[] = [];
  const err: string[] = [];
  const config = watchConfigFrom(
    {
      stores: [{ dir: 'store', trust_dir: 'trust' }],
      alerts: { dir: 'alerts', trust_dir: 'alerts-trust' },
      state_dir: 'state',
    },
    undefined,
    root,
  );
  const watcher = new Watcher(config, {
    writeOut: (t) => out.push(t),
    writeErr: (t) => err.push(t),
    json: true,
  });
  closers.push(() => watcher.close());
  return { watcher, out, err };
}

function expectPlanted(alerts: Alert[], runs: Record<string, string>): void {
  for (const [pattern, runId] of Object.entries(runs)) {
    expect(
      alerts.some((a) => a.pattern === pattern && a.run_ids.includes(runId)),
      `${pattern} alerted with ${runId}`,
    ).toBe(true);
  }
}

function segmentFiles(store: string): string[] {
  return readdirSync(join(store, 'segments'))
    .filter((n) => /^\d{8}\.jsonl$/.test(n))
    .sort()
    .map((n) => join(store, 'segments', n));
}

describe('bad input under the watcher', () => {
  it('a tampered record and a line that is not a record: named, skipped, no crash, every planted alert', async () => {
    const root = tmp();
    const store = join(root, 'store');
    const { calls, runs } = plantedCalls(T0 + 400_000);
    await writeCalls(store, join(root, 'trust'), [...normalCalls(T0, 400), ...calls]);
    const file = segmentFiles(store)[0]!;
    const lines = readFileSync(file, 'utf8').split('\n');
    // Line 100: one payload byte changed (hash mismatch). Line 200: not a record at all.
    const tamperedSeq = JSON.parse(lines[100]!).seq as number;
    lines[100] = lines[100]!.replace('"lookup_order"', '"lookup_ordeR"');
    const malformedSeq = JSON.parse(lines[200]!).seq as number;
    lines[200] = '{"this is":"not a record"}';
    writeFileSync(file, lines.join('\n'));
    const w = open(root);
    const r = await w.watcher.runOnce();
    const err = w.err.join('');
    expect(err).toContain(
      `RECORD_UNREADABLE: store ${store} seq ${tamperedSeq}: segment 1 seq ${tamperedSeq}: record does not match its hash (tampered)`,
    );
    expect(err).toContain(`RECORD_UNREADABLE: store ${store} seq ${malformedSeq}:`);
    expect(err).toContain('run agent-audit verify --store');
    expect(r.toolCalls).toBe(400 * 3 + calls.length - 2);
    expectPlanted(r.alerts, runs);
  });

  it('a truncated record (a torn tail) waits; after the writer recovers it the records after it are alerted', async () => {
    const root = tmp();
    const store = join(root, 'store');
    const trust = join(root, 'trust');
    await writeCalls(store, trust, normalCalls(T0, 400));
    const file = segmentFiles(store).at(-1)!;
    const line = readFileSync(file, 'utf8').trim().split('\n').at(-1)!;
    appendFileSync(file, line.slice(0, 120)); // half a record, no newline: a crash mid-write
    const w = open(root);
    const r1 = await w.watcher.runOnce();
    expect(r1.toolCalls).toBe(1200);
    const { calls, runs } = plantedCalls(T0 + 400_000);
    await writeCalls(store, trust, calls); // the writer sets the torn bytes aside (recovery record)
    const r2 = await w.watcher.runOnce();
    expect(r2.toolCalls).toBe(calls.length);
    expectPlanted(r2.alerts, runs);
  });

  it('a store rotated under the watcher (segments sealed while it follows) and a store replaced by another', async () => {
    const root = tmp();
    const store = join(root, 'store');
    const trust = join(root, 'trust');
    const w = open(root);
    const normal = normalCalls(T0, 400);
    for (let i = 0; i < normal.length; i += 150) {
      await writeCalls(store, trust, normal.slice(i, i + 150), { segmentMaxBytes: 64 * 1024 });
      await w.watcher.step();
    }
    const { calls, runs } = plantedCalls(T0 + 400_000);
    await writeCalls(store, trust, calls, { segmentMaxBytes: 64 * 1024 });
    expect(segmentFiles(store).length).toBeGreaterThan(5);
    const r = await w.watcher.runOnce();
    expectPlanted(r.alerts, runs);
    const before = readAlerts(join(root, 'alerts')).alerts.length;

    // The directory now holds another store (moved aside, a new one created in its place).
    renameSync(store, join(root, 'store-old'));
    const replacement = [
      { runId: 'after-replace', atMs: T0 + 500_000, decision: 'stop', reason: 'blocked' },
    ];
    await writeCalls(store, join(root, 'trust-new'), replacement);
    const r2 = await w.watcher.runOnce();
    expect(w.err.join('')).toMatch(
      /STORE_REPLACED: store .* now holds another store \(origin [0-9a-f]{32}, was [0-9a-f]{32}\): following it from its first record/,
    );
    expect(r2.alerts.map((a) => [a.pattern, a.run_ids[0]])).toEqual([['policy', 'after-replace']]);
    expect(readAlerts(join(root, 'alerts')).alerts.length).toBe(before + 1);
  });

  it('a writer whose clock jumps back an hour and forward again: a notice, no false alert, later anomalies still found', async () => {
    const root = tmp();
    const store = join(root, 'store');
    const trust = join(root, 'trust');
    await writeCalls(store, trust, normalCalls(T0, 300), { now: () => new Date(T0 + 300_000) });
    // The clock goes back an hour: the records and the spans' times with it.
    await writeCalls(store, trust, normalCalls(T0 - 3_600_000, 100, 3, 1000, 'run-back'), {
      now: () => new Date(T0 - 3_600_000),
    });
    await writeCalls(store, trust, normalCalls(T0 + 400_000, 100, 3, 1000, 'run-fixed'), {
      now: () => new Date(T0 + 500_000),
    });
    const w = open(root);
    const r1 = await w.watcher.runOnce();
    expect(r1.alerts).toEqual([]);
    expect(w.err.join('')).toMatch(/CLOCK_JUMP: .* the writer's clock went back \d+(\.\d+)? s/);
    const { calls, runs } = plantedCalls(T0 + 600_000);
    await writeCalls(store, trust, calls, { now: () => new Date(T0 + 600_000) });
    expectPlanted((await w.watcher.runOnce()).alerts, runs);
  });
});
