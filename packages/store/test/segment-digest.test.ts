/**
 * The seal's `sha256` is the running digest of every byte written to the segment before the
 * seal. The writer copies written bytes aside and digests them later (in the commit loop, while
 * its fdatasync runs, or right before the seal): these tests check that the seal still names
 * the SHA-256 of exactly the bytes before it, however appends, commits and rotations interleave.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { verifyStore } from '../src/index.js';
import { cleanupTempStores, segmentPath, span, tempStore } from './helpers.js';

afterEach(() => cleanupTempStores());

/** Every sealed segment's seal names the SHA-256 and length of the bytes before it. */
function expectSealsMatchBytes(dir: string): number {
  let sealed = 0;
  for (let n = 1; fs.existsSync(segmentPath(dir, n)); n++) {
    const bytes = fs.readFileSync(segmentPath(dir, n));
    const text = bytes.toString('utf8');
    const lines = text.split('\n');
    lines.pop();
    const last = JSON.parse(lines[lines.length - 1]!) as {
      type: string;
      payload: { sha256: string; bytes: number };
    };
    if (last.type !== 'segment.seal') continue;
    const before = bytes.subarray(0, bytes.length - Buffer.byteLength(`${lines.at(-1)}\n`));
    expect(last.payload.bytes, `segment ${n}`).toBe(before.length);
    expect(last.payload.sha256, `segment ${n}`).toBe(
      createHash('sha256').update(before).digest('hex'),
    );
    sealed++;
  }
  return sealed;
}

describe('segment seal digest (written bytes digested off the append path)', () => {
  it('appends with and without commits in between, across many rotations: every seal matches its bytes, verify (full) passes', async () => {
    const t = tempStore();
    const store = t.open({ segmentMaxBytes: 6000, checkpointEveryRecords: 7 });
    const rnd = prng(99);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      // Bursts without a turn of the event loop (no commit runs in between), then commits.
      const p = store.append(span(`run-${i % 3}`, i, { tool: 'x'.repeat(Math.floor(rnd() * 50)) }));
      pending.push(p);
      if (rnd() < 0.2) await p;
      if (rnd() < 0.05) await new Promise((r) => setImmediate(r));
      if (rnd() < 0.02) store.flushSync();
    }
    await Promise.all(pending);
    await store.close();
    expect(expectSealsMatchBytes(t.dir)).toBeGreaterThan(10);
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir, full: true });
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    // The fast path (seal digests vouching for sealed segments) agrees.
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });

  it('one burst larger than the digest chunk, then a seal with nothing committed in between', async () => {
    const t = tempStore();
    const store = t.open({ segmentMaxBytes: 400_000 });
    const big = Array.from({ length: 40 }, (_, i) => ({
      type: 'event' as const,
      tags: { run: 'r' },
      payload: { i, data: 'y'.repeat(4000 + i) },
    }));
    const all: Promise<unknown>[] = [];
    for (let round = 0; round < 5; round++) {
      all.push(store.appendBatch(big));
      // Events are written when appended (span ends only at the end of the microtask): these
      // wait for the digest when the next batch, too large to wait, is written.
      for (let i = 0; i < 30; i++) {
        all.push(store.append({ type: 'event', tags: { run: 'r' }, payload: { i } }));
        all.push(store.append(span('r', i)));
      }
    }
    await Promise.all(all);
    await store.close();
    const reopened = t.open({ segmentMaxBytes: 400_000 });
    await reopened.close();
    expect(expectSealsMatchBytes(t.dir)).toBeGreaterThan(0);
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir, full: true })).exitCode).toBe(0);
  });

  it('after a writer restart the reopened segment keeps one digest over old and new bytes', async () => {
    const t = tempStore();
    let store = t.open({ segmentMaxBytes: 20_000 });
    for (let i = 0; i < 30; i++) void store.append(span('a', i));
    await store.close();
    store = t.open({ segmentMaxBytes: 20_000 });
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) acks.push(store.append(span('b', i)));
    await Promise.all(acks);
    await store.close();
    expect(expectSealsMatchBytes(t.dir)).toBeGreaterThan(0);
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir, full: true })).exitCode).toBe(0);
  });
});
