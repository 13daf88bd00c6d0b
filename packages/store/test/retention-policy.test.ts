import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/canonical-json.js';
import { type AuditStore, pruneStore, StoreError, verifyStore } from '../src/index.js';
import { openStoreReader } from '../src/query.js';
import { listSegments } from '../src/segment-files.js';
import {
  cleanupTempStores,
  readLines,
  segmentPath,
  span,
  type TempStore,
  tempStore,
  writeLines,
} from './helpers.js';
import { rechain } from './tamper-tools.js';

let t: TempStore;
afterEach(cleanupTempStores);

const DAY = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00Z');

/** A clock advanced by hand. */
function clock(at = START) {
  let ms = at;
  return { now: () => new Date(ms), advance: (d: number) => (ms += d), at: () => ms };
}

/**
 * Ten days of records, tenants `acme` and `beta` alternating by day, several segments a day,
 * written under `retention`; closed at day 10.
 */
async function agedStore(retention?: AuditStore['retentionPolicy'] | Record<string, unknown>) {
  t = tempStore();
  const c = clock();
  const store = t.open({
    now: c.now,
    segmentMaxBytes: 2500,
    ...(retention ? { retention: retention as never } : {}),
  });
  for (let day = 0; day < 10; day++) {
    for (let i = 0; i < 4; i++) {
      await store.append(span(`day-${day}`, i, { tenant: day % 2 === 0 ? 'acme' : 'beta' }));
    }
    c.advance(DAY);
  }
  await store.close();
  return c;
}

function policyLines(dir: string): Array<{ segment: number; line: string }> {
  const out: Array<{ segment: number; line: string }> = [];
  for (const s of listSegments(dir)) {
    for (const line of readLines(s.path)) {
      if (line.endsWith('"type":"retention.policy"}')) out.push({ segment: s.segment, line });
    }
  }
  return out;
}

function expectStoreError(fn: () => unknown, code: string): StoreError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe(code);
    return error as StoreError;
  }
  throw new Error(`expected ${code}`);
}

async function expectRejects(p: Promise<unknown>, code: string): Promise<StoreError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe(code);
    return error as StoreError;
  }
  throw new Error(`expected ${code}`);
}

describe('retention policy: configuration', () => {
  it('refuses bad policies with Configuration: messages naming the member', () => {
    t = tempStore();
    const cases: Array<[unknown, RegExp]> = [
      ['30d', /Configuration: retention is invalid, expected an object/],
      [{ minAge: '3 days' }, /Configuration: retention.minAge is invalid, expected a duration/],
      [{ minAge: -1 }, /retention.minAge is invalid/],
      [{ minAge: '10d', maxAge: '5d' }, /retention.minAge is invalid, expected at most maxAge/],
      [{ maxAge: '5d', tenants: { acme: { minAge: '6d' } } }, /tenants\["acme"\].minAge/],
      [{ minAge: '1d', keep: '2d' }, /retention.keep is invalid/],
      [{ tenants: { '': {} } }, /a non-empty tenant name/],
      [{ tenants: [] }, /retention.tenants is invalid/],
    ];
    for (const [retention, message] of cases) {
      const e = expectStoreError(() => t.open({ retention: retention as never }), 'CONFIGURATION');
      expect(e.message).toMatch(message);
    }
    expect(fs.existsSync(path.join(t.dir, 'store.lock'))).toBe(false);
  });
});

describe('retention policy: recorded in the store', () => {
  it('is recorded once, carried into every new segment, and a change (a weakening) is recorded and reported', async () => {
    const c = await agedStore({
      minAge: '5d',
      maxAge: '400d',
      tenants: { acme: { minAge: '8d' } },
    });
    const lines = policyLines(t.dir);
    const segments = listSegments(t.dir);
    // The first segment has the configured record; every later one a carried copy.
    expect(lines[0]!.segment).toBe(1);
    expect(new Set(lines.map((l) => l.segment))).toEqual(new Set(segments.map((s) => s.segment)));
    expect(JSON.parse(lines[0]!.line).payload).toMatchObject({
      reason: 'configured',
      policy: { minAgeMs: 5 * DAY, maxAgeMs: 400 * DAY, tenants: { acme: { minAgeMs: 8 * DAY } } },
    });
    expect(lines.slice(1).every((l) => JSON.parse(l.line).payload.reason === 'carried')).toBe(true);

    // Reopened with the same policy (other spelling) or none: nothing new is recorded.
    const count = lines.length;
    for (const retention of [
      { minAge: 5 * DAY, maxAge: '400d', tenants: { acme: { minAge: '8d' } } },
      undefined,
    ]) {
      const s = t.open({ now: c.now, ...(retention ? { retention } : {}) });
      expect(s.retentionPolicy).toEqual({
        minAgeMs: 5 * DAY,
        maxAgeMs: 400 * DAY,
        tenants: { acme: { minAgeMs: 8 * DAY } },
      });
      await s.close();
    }
    expect(policyLines(t.dir)).toHaveLength(count);
    let report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.retention.policies.length).toBe(count);

    // A weaker policy is recorded (the key holder may change it) and verify says so.
    const s = t.open({ now: c.now, retention: { minAge: '1d' } });
    await s.close();
    expect(policyLines(t.dir)).toHaveLength(count + 1);
    report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(report.exitCode).toBe(0);
    const weakened = report.warnings.filter((w) => w.code === 'RETENTION_POLICY_WEAKENED');
    expect(weakened).toHaveLength(1);
    expect(weakened[0]!.message).toMatch(/default minimum lowered from 5d to 1d/);
    expect(weakened[0]!.message).toMatch(/tenant "acme" minimum lowered from 8d to 1d/);
    expect(weakened[0]!.message).toMatch(/default maximum removed \(was 400d\)/);
  });
});

describe('retention policy: queries', () => {
  it('policy records are indexed and checked like any record: the index agrees with the segments', async () => {
    await agedStore({ minAge: '1d', maxAge: '30d' });
    const warnings: unknown[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    const first = reader.listRuns({ tenant: 'acme' });
    const second = reader.listRuns({ tenant: 'acme' });
    expect(first.map((r) => r.run_id).sort()).toEqual([
      'day-0',
      'day-2',
      'day-4',
      'day-6',
      'day-8',
    ]);
    expect(second).toEqual(first);
    expect(reader.runRecords('day-3')).toHaveLength(4);
    expect(warnings).toEqual([]);
    reader.close?.();
  });
});

describe('retention policy: prune', () => {
  it('refuses to remove a segment holding records younger than their tenant minimum, naming store, segment, tenant, age and minimum; nothing is removed', async () => {
    const c = await agedStore({ minAge: '2d', tenants: { acme: { minAge: '7d' } } });
    const before = listSegments(t.dir).map((s) => s.segment);
    // Day-4 records (acme) are 6 days old at day 10: younger than acme's 7 days.
    const e = await expectRejects(
      pruneStore({
        dir: t.dir,
        trustDir: t.trustDir,
        now: c.now,
        before: new Date(START + 5 * DAY),
      }),
      'RETENTION_MIN_AGE',
    );
    expect(e.message).toContain(t.dir);
    expect(e.message).toMatch(/segment \d+/);
    expect(e.message).toMatch(/tenant "acme"/);
    expect(e.message).toMatch(/7d minimum/);
    expect(e.message).toMatch(/is 6d old|is 5\.\dd old|is 6\.\dd old/);
    for (const n of before) expect(fs.existsSync(segmentPath(t.dir, n))).toBe(true);
    // Up to day 3 everything is older than its minimum: pruned, signed, verified.
    const ok = await pruneStore({
      dir: t.dir,
      trustDir: t.trustDir,
      now: c.now,
      before: new Date(START + 3 * DAY),
    });
    expect(ok.segments.length).toBeGreaterThan(0);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
  });

  it('a weakened minimum applies to data written after the change only', async () => {
    const c = await agedStore({ minAge: '8d' });
    const s = t.open({ now: c.now, retention: { minAge: '1d' } });
    await s.close();
    // Day 5 data is 5 days old: over the new 1d minimum, but written under 8d.
    const e = await expectRejects(
      pruneStore({
        dir: t.dir,
        trustDir: t.trustDir,
        now: c.now,
        before: new Date(START + 6 * DAY),
      }),
      'RETENTION_MIN_AGE',
    );
    expect(e.message).toMatch(/8d minimum/);
  });

  it('without --before, prunes what is past the maximum age (per tenant), and verify reports data past it until then', async () => {
    const c = await agedStore({ maxAge: '6d', tenants: { beta: { maxAge: '8d' } } });
    // At day 10: acme data of days 0-3 and beta data of days 0-1 are past their maximum.
    let report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(report.exitCode).toBe(0);
    const over = report.warnings.filter((w) => w.code === 'RETENTION_EXCEEDED');
    expect(over.map((w) => w.message).join('\n')).toMatch(
      /tenant "acme" hold data from 2026-01-01/,
    );
    expect(over.map((w) => w.message).join('\n')).toMatch(
      /tenant "beta" hold data from 2026-01-02/,
    );
    expect(report.retention.overAge.map((o) => o.tenant).sort()).toEqual(['acme', 'beta']);

    const result = await pruneStore({ dir: t.dir, trustDir: t.trustDir, now: c.now });
    expect(result.segments[0]).toBe(1);
    report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    // Whole segments only: what is left past its maximum shares a segment with younger data.
    for (const o of report.retention.overAge) {
      expect(o.time >= new Date(START + 1 * DAY).toISOString()).toBe(true);
    }
    // The policy survived the prune (carried into later segments) and is still in force.
    const s = t.open({ now: c.now });
    expect(s.retentionPolicy?.maxAgeMs).toBe(6 * DAY);
    await s.close();
  });

  it('retentionMs still holds without --before: nothing sealed after it goes', async () => {
    const c = await agedStore({ maxAge: '3d' });
    const kept = await pruneStore({
      dir: t.dir,
      trustDir: t.trustDir,
      now: c.now,
      retentionMs: 30 * DAY,
    });
    expect(kept.segments).toEqual([]);
    const pruned = await pruneStore({ dir: t.dir, trustDir: t.trustDir, now: c.now });
    expect(pruned.segments[0]).toBe(1);
  });

  it('without a policy or --before, prune says what it needs', async () => {
    const c = await agedStore();
    const e = await expectRejects(
      pruneStore({ dir: t.dir, trustDir: t.trustDir, now: c.now }),
      'CONFIGURATION',
    );
    expect(e.message).toMatch(
      /Configuration: before is invalid, expected a Date, or a retention policy with a maxAge recorded in/,
    );
  });

  it('pruneEveryMs prunes from the writer on a schedule and reports each run as a notice', async () => {
    const c = await agedStore({ maxAge: '3d' });
    const notices: Array<{ code: string; message: string }> = [];
    const pruned = new Promise<void>((resolve) => {
      const s = t.open({
        now: c.now,
        pruneEveryMs: 20,
        onNotice: (n) => {
          notices.push(n);
          if (n.code === 'PRUNED') void s.close().then(resolve);
        },
      });
    });
    await pruned;
    expect(notices.find((n) => n.code === 'PRUNED')!.message).toMatch(/pruned segment\(s\) 1,/);
    expect(fs.existsSync(segmentPath(t.dir, 1))).toBe(false);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(report.exitCode).toBe(0);
  });
});

describe('retention policy: attacks (before and after a writer restart)', () => {
  /** Verify, try a writer restart (and a prune through it), verify again. */
  async function verdictAroundRestart(c: ReturnType<typeof clock>, codes: string[]) {
    const first = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(first.exitCode).toBe(1);
    for (const code of codes) expect(first.problems.map((p) => p.code)).toContain(code);
    const before = listSegments(t.dir).map((s) => s.segment);
    let opened: AuditStore | undefined;
    try {
      opened = t.open({ now: c.now });
    } catch (error) {
      expect(error).toBeInstanceOf(StoreError);
    }
    if (opened) {
      await expect(opened.prune({ before: new Date(START + 9 * DAY) })).rejects.toBeInstanceOf(
        StoreError,
      );
      await opened.close();
    }
    // Nothing young was removed, and the verdict stands.
    for (const n of before) expect(fs.existsSync(segmentPath(t.dir, n))).toBe(true);
    const second = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(second.exitCode).toBe(1);
    for (const code of codes) expect(second.problems.map((p) => p.code)).toContain(code);
  }

  it('the recorded policy weakened in place (chain recomputed): named by verify, the writer will not prune under it', async () => {
    const c = await agedStore({ minAge: '30d' });
    const newest = listSegments(t.dir).at(-1)!;
    const lines = readLines(newest.path);
    const i = lines.findIndex((l) => l.endsWith('"type":"retention.policy"}'));
    const record = JSON.parse(lines[i]!);
    record.payload.policy.minAgeMs = 0;
    lines[i] = canonicalJson(record);
    writeLines(newest.path, rechain(lines));
    await verdictAroundRestart(c, ['STATEMENT_BAD_SIGNATURE']);
  });

  it('every policy record removed (chain recomputed): named by verify, nothing young is pruned', async () => {
    const c = await agedStore({ minAge: '30d' });
    for (const s of listSegments(t.dir)) {
      const lines = readLines(s.path);
      const kept = lines.filter((l) => !l.endsWith('"type":"retention.policy"}'));
      writeLines(s.path, rechain(kept, { renumber: true }));
    }
    await verdictAroundRestart(c, ['CHAIN_BROKEN']);
  });

  it('an older, weaker policy record replayed at the end after a crash: misplaced for verify, refused by the writer', async () => {
    t = tempStore();
    const c = clock();
    const weak = t.open({ now: c.now, retention: { minAge: '1d' } });
    await weak.append(span('a', 1));
    await weak.close();
    const strong = t.open({
      now: c.now,
      retention: { minAge: '30d' },
      segmentMaxBytes: 2500,
      checkpointIntervalMs: 1_000_000_000,
    });
    for (let day = 0; day < 6; day++) {
      for (let i = 0; i < 4; i++) await strong.append(span(`d${day}`, i));
      c.advance(DAY);
    }
    await strong.checkpoint();
    // A crashed writer: no clean close, its lock left behind and removed.
    fs.rmSync(path.join(t.dir, 'store.lock'));
    const weakLine = policyLines(t.dir).find(
      (l) => JSON.parse(l.line).payload.policy.minAgeMs === DAY,
    )!;
    const newest = listSegments(t.dir).at(-1)!;
    const lines = readLines(newest.path);
    const last = JSON.parse(lines.at(-1)!);
    const replay = JSON.parse(weakLine.line);
    replay.seq = last.seq + 1;
    replay.prev = last.hash;
    replay.time = c.now().toISOString();
    writeLines(newest.path, [
      ...lines,
      ...rechain([lines.at(-1)!, canonicalJson(replay)]).slice(1),
    ]);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(report.problems.map((p) => p.code)).toContain('RETENTION_POLICY_MISPLACED');
    expect(report.retention.policies.at(-1)!.policy.minAgeMs).toBe(30 * DAY);
    const e = expectStoreError(() => t.open({ now: c.now }), 'RETENTION_POLICY_INVALID');
    expect(e.message).toContain(t.dir);
    expect(e.message).toMatch(/replayed/);
    const again = await verifyStore({ dir: t.dir, trustDir: t.trustDir, now: c.now() });
    expect(again.problems.map((p) => p.code)).toContain('RETENTION_POLICY_MISPLACED');
    expect(() => t.open({ now: c.now })).toThrow(/RETENTION|replayed/);
  });
});
