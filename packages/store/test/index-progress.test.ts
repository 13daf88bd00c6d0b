import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type IndexProgress, openStoreReader } from '../src/query.js';
import { cleanupTempStores, filledTempStore, span } from './helpers.js';

afterAll(cleanupTempStores);

const segmentCount = (dir: string) => fs.readdirSync(path.join(dir, 'segments')).length;

describe('index build progress', () => {
  it('reports segments done of total and records indexed, then nothing when caught up', async () => {
    const { temp } = await filledTempStore(60, { segmentMaxBytes: 4_000 }, (i) => `run-${i % 3}`);
    const total = segmentCount(temp.dir);
    expect(total).toBeGreaterThan(2);
    const seen: IndexProgress[] = [];
    const reader = openStoreReader(temp.dir, { onIndexProgress: (p) => seen.push({ ...p }) });
    const runs = reader.listRuns({});
    expect(runs.map((r) => r.run_id).sort()).toEqual(['run-0', 'run-1', 'run-2']);
    // Before the first segment, then once per segment, in order, up to every segment.
    expect(seen[0]).toEqual({ segmentsDone: 0, segmentsTotal: total, records: 0 });
    expect(seen.map((p) => p.segmentsDone)).toEqual([...Array(total + 1).keys()]);
    for (const p of seen) expect(p.segmentsTotal).toBe(total);
    const records = seen.map((p) => p.records);
    expect(records).toEqual([...records].sort((a, b) => a - b));
    const head = reader.head()!.seq;
    expect(seen.at(-1)!.records).toBe(head);
    // Nothing appended: the next query does not catch up, so nothing is reported.
    seen.length = 0;
    reader.listRuns({ principal: 'nobody' });
    expect(seen).toEqual([]);
    reader.close();

    // Appended after a writer restart: a catch-up reports only the new records, and the index
    // (rebuildable, one transaction) answers the same as a scan.
    const store = temp.open({ segmentMaxBytes: 4_000 });
    for (let i = 0; i < 5; i++) await store.append(span('run-new', i));
    await store.close();
    const again = openStoreReader(temp.dir, { onIndexProgress: (p) => seen.push({ ...p }) });
    expect(again.runRecords('run-new')).toHaveLength(5);
    expect(seen.at(-1)).toEqual({
      segmentsDone: segmentCount(temp.dir),
      segmentsTotal: segmentCount(temp.dir),
      records: again.head()!.seq - head,
    });
    const scan = openStoreReader(temp.dir, { index: false });
    expect(again.listRuns({})).toEqual(scan.listRuns({}));
    scan.close();
    again.close();
  });
});
