import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStoreReader, reindexStore } from '../src/query.js';
import {
  cleanupTempStores,
  readLines,
  segmentPath,
  type TempStore,
  tempStore,
  writeLines,
} from './helpers.js';

let t: TempStore;
afterEach(cleanupTempStores);

async function interleavedRuns(workflows = 50, spansEach = 6) {
  t = tempStore();
  const store = t.open({ segmentMaxBytes: 20_000 });
  await Promise.all(
    Array.from({ length: workflows }, async (_, w) => {
      const tags = {
        run: `run-${w}`,
        agent: w % 2 ? 'support-agent' : 'billing-agent',
        principal: `user:${w % 5}`,
        tenant: w % 3 ? 't1' : 't2',
      };
      for (let i = 0; i < spansEach; i++) {
        const spanTags = {
          ...tags,
          span: `${w}-${i}`,
          parent: i ? `${w}-0` : undefined,
          tool: i ? `tool-${i % 3}` : undefined,
        };
        await store.append({ type: 'span.start', tags: spanTags, payload: { name: `op ${i}` } });
        // The last span of every 10th workflow never ends: the run is incomplete.
        if (w % 10 === 0 && i === spansEach - 1) continue;
        await store.append({
          type: 'span.end',
          // Every 7th run from 3 has a failed tool call; from 5, a failed workflow span.
          tags: {
            ...spanTags,
            status: (w % 7 === 3 && i === 2) || (w % 7 === 5 && i === 0) ? 'error' : 'ok',
          },
          payload: { name: `op ${i}` },
        });
      }
    }),
  );
  await store.close();
}

describe('run queries (index and scan agree)', () => {
  for (const index of [true, false]) {
    it(`runRecords returns exactly one run's records, in seq order (${index ? 'SQLite index' : 'scan'})`, async () => {
      await interleavedRuns();
      const reader = openStoreReader(t.dir, { index });
      const records = reader.runRecords('run-17');
      expect(records).toHaveLength(12);
      expect(records.every((r) => r.tags.run === 'run-17')).toBe(true);
      const seqs = records.map((r) => r.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(records.filter((r) => r.tags.parent === '17-0')).toHaveLength(10);
      expect(reader.runRecords('no-such-run')).toEqual([]);
      reader.close();
      expect(fs.existsSync(path.join(t.dir, 'index.sqlite'))).toBe(index);
    });

    it(`listRuns filters and flags incomplete runs (${index ? 'SQLite index' : 'scan'})`, async () => {
      await interleavedRuns();
      const reader = openStoreReader(t.dir, { index });
      const all = reader.listRuns();
      expect(all).toHaveLength(50);
      const r20 = all.find((r) => r.run_id === 'run-20')!;
      expect(r20).toMatchObject({
        incomplete: true,
        spans: 6,
        principal: 'user:0',
        agent_id: 'billing-agent',
      });
      // A run's status is its workflow span's (runStatus): a failed tool call inside is the
      // call's error, not the run's; an unfinished span makes the run incomplete.
      expect(all.find((r) => r.run_id === 'run-3')).toMatchObject({
        status: 'ok',
        incomplete: false,
      });
      expect(all.find((r) => r.run_id === 'run-5')).toMatchObject({
        status: 'error',
        incomplete: false,
      });
      expect(r20.status).toBe('incomplete');
      expect(all.find((r) => r.run_id === 'run-1')).toMatchObject({
        status: 'ok',
        incomplete: false,
      });
      expect(
        reader
          .listRuns({ principal: 'user:2' })
          .map((r) => r.run_id)
          .sort(),
      ).toEqual(
        [
          'run-12',
          'run-17',
          'run-2',
          'run-22',
          'run-27',
          'run-32',
          'run-37',
          'run-42',
          'run-47',
          'run-7',
        ].sort(),
      );
      expect(
        reader
          .listRuns({ agent: 'support-agent', tenant: 't2' })
          .every((r) => Number(r.run_id.slice(4)) % 6 === 3),
      ).toBe(true);
      expect(reader.listRuns({ tool: 'tool-1' })).toHaveLength(50);
      expect(reader.listRuns({ since: new Date(Date.now() + 3_600_000) })).toEqual([]);
      expect(reader.listRuns({ until: new Date(0) })).toEqual([]);
      expect(reader.listRuns({ since: new Date(Date.now() - 3_600_000) })).toHaveLength(50);
      reader.close();
    });
  }

  it('the index catches up with records appended after it was built', async () => {
    await interleavedRuns(5, 2);
    const reader = openStoreReader(t.dir);
    expect(reader.runRecords('late')).toEqual([]);
    const store = t.open();
    await store.append({ type: 'span.end', tags: { run: 'late' }, payload: {} });
    await store.close();
    expect(reader.runRecords('late')).toHaveLength(1);
    reader.close();
  });

  it('queries check the hashes of what they return', async () => {
    await interleavedRuns(5, 2);
    const reader = openStoreReader(t.dir);
    expect(reader.runRecords('run-3')).toHaveLength(4);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    const i = lines.findIndex((l) => l.includes('"run":"run-3"'));
    lines[i] = lines[i]!.replace('"name":"op', '"name":"oq');
    writeLines(file, lines);
    expect(() => reader.runRecords('run-3')).toThrow(/does not match its hash/);
    reader.close();
  });

  it('run summaries refuse a store whose records were changed before indexing', async () => {
    await interleavedRuns(5, 2);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    const i = lines.findIndex((l) => l.includes('"principal":"user:1"'));
    lines[i] = lines[i]!.replace('"principal":"user:1"', '"principal":"user:9"');
    writeLines(file, lines);
    expect(() => openStoreReader(t.dir).listRuns()).toThrow(/does not match its hash/);
    expect(() => openStoreReader(t.dir, { index: false }).listRuns()).toThrow(
      /does not match its hash/,
    );
  });

  it('a forged index cannot return other records: the answer comes from the segments, with a warning', async () => {
    await interleavedRuns(5, 2);
    const reader = openStoreReader(t.dir);
    reader.runRecords('run-1');
    reader.close();
    const db = new Database(path.join(t.dir, 'index.sqlite'));
    // Point run-1's rows at run-2's records.
    db.prepare("UPDATE records SET run = 'run-1' WHERE run = 'run-2'").run();
    db.prepare("UPDATE records SET offset = offset + 1 WHERE run = 'run-1' AND span = '1-0'").run();
    db.close();
    const warnings: string[] = [];
    const again = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w.code) });
    const records = again.runRecords('run-1');
    expect(records).toHaveLength(4);
    expect(records.every((r) => r.tags.run === 'run-1')).toBe(true);
    expect(warnings).toEqual(['INDEX_DISAGREES']);
    again.close();
  });

  it('reindex rebuilds the index from the segments', async () => {
    await interleavedRuns(5, 2);
    const reader = openStoreReader(t.dir);
    reader.runRecords('run-1');
    reader.close();
    const db = new Database(path.join(t.dir, 'index.sqlite'));
    db.prepare('DELETE FROM records').run();
    db.close();
    const { records } = reindexStore(t.dir);
    expect(records).toBe(readLines(segmentPath(t.dir, 1)).length);
    expect(openStoreReader(t.dir).runRecords('run-1')).toHaveLength(4);
  });

  it('a store replaced under the same directory is re-indexed, not mixed', async () => {
    await interleavedRuns(5, 2);
    const reader = openStoreReader(t.dir);
    expect(reader.runRecords('run-1')).toHaveLength(4);
    reader.close();
    fs.rmSync(path.join(t.dir, 'segments'), { recursive: true, force: true });
    fs.rmSync(path.join(t.dir, 'checkpoints.jsonl'));
    const store = t.open({ anchorPath: path.join(t.root, 'other-anchor.jsonl') });
    await store.append({ type: 'span.end', tags: { run: 'fresh' }, payload: {} });
    await store.close();
    const after = openStoreReader(t.dir);
    expect(after.runRecords('run-1')).toEqual([]);
    expect(after.runRecords('fresh')).toHaveLength(1);
    after.close();
  });

  it('works without an index when the index cannot be created (read-only volume)', async () => {
    await interleavedRuns(5, 2);
    const blocker = path.join(t.root, 'not-a-dir');
    fs.writeFileSync(blocker, '');
    const reader = openStoreReader(t.dir, { indexPath: path.join(blocker, 'index.sqlite') });
    expect(reader.runRecords('run-2')).toHaveLength(4);
    expect(reader.listRuns()).toHaveLength(5);
  });

  it('recordsFrom pages through the store across segments', async () => {
    await interleavedRuns(10, 4);
    const reader = openStoreReader(t.dir);
    const seen: number[] = [];
    for (let seq = 1; ; ) {
      const page = reader.recordsFrom(seq, 17);
      if (page.length === 0) break;
      seen.push(...page.map((r) => r.seq));
      seq = page.at(-1)!.seq + 1;
    }
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    expect(seen.at(-1)).toBe(reader.head()!.seq);
    expect(fs.readdirSync(path.join(t.dir, 'segments')).length).toBeGreaterThan(1);
  });
});
