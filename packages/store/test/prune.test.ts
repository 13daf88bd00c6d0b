import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneStore, verifyStore } from '../src/index.js';
import { openStoreReader } from '../src/query.js';
import {
  agedTempStore,
  cleanupTempStores,
  readLines,
  segmentPath,
  type TempStore,
} from './helpers.js';
import { rechain } from './tamper-tools.js';

let t: TempStore;
afterEach(cleanupTempStores);

const DAY = 86_400_000;

async function agedStore() {
  const aged = await agedTempStore();
  t = aged.temp;
  return { now: aged.now };
}

describe('prune (retention)', () => {
  it('removes only whole sealed segments before the date, with a signed prune record; verify passes and reports it', async () => {
    const { now } = await agedStore();
    const before = fs.readdirSync(path.join(t.dir, 'segments')).length;
    const cutoff = new Date(Date.parse('2026-01-05T00:00:00Z'));
    const result = await pruneStore({ dir: t.dir, trustDir: t.trustDir, now, before: cutoff });
    expect(result.segments.length).toBeGreaterThan(0);
    expect(result.segments[0]).toBe(1);
    // The pruning writer may seal the segment a clean close left over its size and start one.
    const remaining = fs
      .readdirSync(path.join(t.dir, 'segments'))
      .filter((name) => Number.parseInt(name, 10) <= before);
    expect(remaining.length).toBe(before - result.segments.length);
    for (const n of result.segments) expect(fs.existsSync(segmentPath(t.dir, n))).toBe(false);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.pruned).toHaveLength(1);
    expect(report.pruned[0]).toMatchObject({
      segments: result.segments,
      firstSeq: 1,
      lastSeq: result.lastSeq,
    });
    // Everything left is still queryable; what was pruned is gone from the index too.
    const reader = openStoreReader(t.dir);
    expect(reader.runRecords('day-9')).toHaveLength(4);
    expect(reader.runRecords('day-0')).toEqual([]);
  });

  it('retention keeps segments younger than retentionMs even when before is later', async () => {
    const { now } = await agedStore();
    const result = await pruneStore({
      dir: t.dir,
      trustDir: t.trustDir,
      now,
      retentionMs: 30 * DAY,
      before: new Date(Date.parse('2026-02-01T00:00:00Z')),
    });
    expect(result.segments).toEqual([]);
  });

  it('a further segment deleted by hand after a prune is still reported missing', async () => {
    const { now } = await agedStore();
    const result = await pruneStore({
      dir: t.dir,
      trustDir: t.trustDir,
      now,
      before: new Date('2026-01-05T00:00:00Z'),
    });
    const next = result.segments.at(-1)! + 1;
    fs.rmSync(segmentPath(t.dir, next));
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.exitCode).toBe(1);
    expect(report.problems.map((p) => p.code)).toContain('SEGMENT_MISSING');
  });

  it('a forged prune record (not signed by the trusted key) is tampering', async () => {
    const { now } = await agedStore();
    await pruneStore({
      dir: t.dir,
      trustDir: t.trustDir,
      now,
      before: new Date('2026-01-05T00:00:00Z'),
    });
    const files = fs.readdirSync(path.join(t.dir, 'segments')).sort();
    const last = path.join(
      t.dir,
      'segments',
      files.find((f) =>
        fs.readFileSync(path.join(t.dir, 'segments', f), 'utf8').includes('"type":"prune"}'),
      )!,
    );
    const lines = readLines(last);
    const i = lines.findIndex((l) => l.endsWith('"type":"prune"}'));
    expect(i).toBeGreaterThan(-1);
    const record = JSON.parse(lines[i]!);
    record.payload.segments = [...record.payload.segments, 99];
    lines[i] = JSON.stringify(record);
    fs.chmodSync(last, 0o644);
    fs.writeFileSync(
      last,
      rechain(lines)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.exitCode).toBe(1);
    expect(report.problems.map((p) => p.code)).toContain('PRUNE_BAD_SIGNATURE');
  });
});
