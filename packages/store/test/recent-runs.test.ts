import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStoreReader } from '../src/query.js';
import { cleanupTempStores, type TempStore, tempStore } from './helpers.js';

let t: TempStore;
afterEach(cleanupTempStores);

/** Runs appended one after the other (run-0 first); every run has a start and an end per span. */
async function sequentialRuns(runs: number): Promise<void> {
  t = tempStore();
  const store = t.open();
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < 3; i++) {
      const tags = {
        run: `run-${r}`,
        principal: `user:${r % 4}`,
        span: `${r}-${i}`,
        ...(i ? { parent: `${r}-0` } : {}),
      };
      await store.append({ type: 'span.start', tags, payload: { i } });
      await store.append({ type: 'span.end', tags: { ...tags, status: 'ok' }, payload: { i } });
    }
  }
  await store.close();
}

describe('recentRuns: one page of every run, most recently active first', () => {
  it('answers a page from the index as the scan does, with the total', async () => {
    await sequentialRuns(30);
    const indexed = openStoreReader(t.dir);
    indexed.listRuns({ principal: 'none' }); // the first query checks the index against a scan
    const scanned = openStoreReader(t.dir, { index: false });
    try {
      const first = indexed.recentRuns(0, 5);
      expect(first.total).toBe(30);
      expect(first.runs.map((r) => r.run_id)).toEqual([
        'run-29',
        'run-28',
        'run-27',
        'run-26',
        'run-25',
      ]);
      expect(first.runs.every((r) => r.spans === 3 && r.status === 'ok')).toBe(true);
      expect(indexed.recentRuns(25, 10).runs.map((r) => r.run_id)).toEqual([
        'run-4',
        'run-3',
        'run-2',
        'run-1',
        'run-0',
      ]);
      const all = indexed.listRuns({});
      const page = indexed.recentRuns(10, 5);
      for (const run of page.runs) expect(run).toEqual(all.find((r) => r.run_id === run.run_id));
      expect(scanned.recentRuns(10, 5)).toEqual(page);
    } finally {
      indexed.close();
      scanned.close();
    }
  });

  it('never takes a deleted index row for the truth (before and after a new reader)', async () => {
    await sequentialRuns(10);
    const warnings: string[] = [];
    const reader = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w.code) });
    reader.listRuns({ principal: 'none' });
    reader.close();
    // Hide the newest run from the index.
    const db = new Database(path.join(t.dir, 'index.sqlite'));
    db.prepare("DELETE FROM records WHERE run = 'run-9'").run();
    db.close();
    for (let round = 0; round < 2; round++) {
      const again = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w.code) });
      try {
        const page = again.recentRuns(0, 2);
        expect(page.runs.map((r) => r.run_id)).toEqual(['run-9', 'run-8']);
        expect(page.total).toBe(10);
      } finally {
        again.close();
      }
    }
    expect(warnings).toEqual(['INDEX_DISAGREES']);
  });
});
