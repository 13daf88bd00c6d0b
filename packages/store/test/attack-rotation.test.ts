/**
 * Row 47 (issue 9, item 6): segments rotate at their size limit under sustained load. The
 * size limit used to be checked only after an fdatasync returned, so everything appended while
 * one ran (write-through puts each record in the file at once) went into the same segment:
 * on a slow disk under load the batch, and the segment, grew without bound, and appends made
 * without an event-loop turn in between (an agent whose awaits are all microtasks) never met a
 * check at all. The limit is now checked before each write. Each case checks the segment
 * sizes and verify's verdict before and after a writer restart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FsLayer, nodeFsLayer, verifyStore } from '../src/index.js';
import { cleanupTempStores, span, type TempStore, tempStore } from './helpers.js';

afterEach(() => cleanupTempStores());

const LIMIT = 16 * 1024;
// A segment may pass its limit by the one write that crosses it (here a single record; in
// general one record, one appendBatch, or the span ends of one microtask) plus the seal: a few
// KiB here, never a multiple of the limit.
const SLACK = 8 * 1024;

function segmentSizes(dir: string): number[] {
  const segDir = path.join(dir, 'segments');
  return fs
    .readdirSync(segDir)
    .sort()
    .map((name) => fs.statSync(path.join(segDir, name)).size);
}

/** Every segment (the open one too) within its limit plus one write; verify 0. */
async function expectBounded(t: TempStore, minSegments: number): Promise<void> {
  const sizes = segmentSizes(t.dir);
  expect(sizes.length).toBeGreaterThanOrEqual(minSegments);
  for (const size of sizes) expect(size).toBeLessThanOrEqual(LIMIT + SLACK);
  const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
  expect(report.exitCode).toBe(0);
}

/**
 * A slow disk: every asynchronous fdatasync waits until `release()`; synchronous ones (the
 * seal's) run at once. The fault a real disk under load produces, on demand.
 */
function slowDisk() {
  let gate: { promise: Promise<void>; resolve: () => void } | undefined;
  const hold = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    gate = { promise, resolve };
  };
  hold();
  const layer: FsLayer = {
    ...nodeFsLayer,
    fdatasync: async (fd) => {
      await gate?.promise;
      await nodeFsLayer.fdatasync(fd);
    },
  };
  return {
    layer,
    release: () => {
      const g = gate;
      gate = undefined;
      g?.resolve();
    },
  };
}

/** 400 records in 20 concurrent runs, each record in its own event-loop turn. */
async function appendWithTurns(
  store: { append: (e: ReturnType<typeof span>) => Promise<unknown> },
  tag: string,
) {
  const pending: Promise<unknown>[] = [];
  await Promise.all(
    Array.from({ length: 20 }, async (_, run) => {
      for (let i = 0; i < 20; i++) {
        pending.push(store.append(span(`${tag}-${run}`, i)));
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  return pending;
}

describe('row 47: segments rotate at their size limit under sustained load', () => {
  it('while one fdatasync is slow, appends made meanwhile still rotate at the limit (before and after a restart)', async () => {
    const t = tempStore();
    const disk = slowDisk();
    const store = t.open({ segmentMaxBytes: LIMIT, fs: disk.layer });
    const pending = await appendWithTurns(store, 'first');
    disk.release();
    await Promise.all(pending);
    await store.close();
    // 400 records of ~450 bytes: about 180 KiB, so a dozen segments of 16 KiB.
    await expectBounded(t, 8);

    const segmentsBefore = segmentSizes(t.dir).length;
    const again = slowDisk();
    const restarted = t.open({ segmentMaxBytes: LIMIT, fs: again.layer });
    const more = await appendWithTurns(restarted, 'second');
    again.release();
    await Promise.all(more);
    await restarted.close();
    await expectBounded(t, segmentsBefore + 8);
  });

  it('appends made without any event-loop turn in between rotate at the limit (before and after a restart)', async () => {
    const t = tempStore();
    const store = t.open({ segmentMaxBytes: LIMIT });
    const microtasksOnly = async (s: typeof store, tag: string) => {
      const pending: Promise<unknown>[] = [];
      await Promise.all(
        Array.from({ length: 20 }, async (_, run) => {
          for (let i = 0; i < 20; i++) {
            // An intent: written before append() returns, each in its own write. (Span ends
            // of one microtask share one write, which the limit cannot split.)
            pending.push(s.append({ ...span(`${tag}-${run}`, i), type: 'span.start' }));
            await Promise.resolve();
          }
        }),
      );
      return pending;
    };
    await Promise.all(await microtasksOnly(store, 'first'));
    await store.close();
    await expectBounded(t, 8);

    const segmentsBefore = segmentSizes(t.dir).length;
    const restarted = t.open({ segmentMaxBytes: LIMIT });
    await Promise.all(await microtasksOnly(restarted, 'second'));
    await restarted.close();
    await expectBounded(t, segmentsBefore + 8);
  });
});
