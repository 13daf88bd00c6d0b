import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditStore } from '@agent-audit/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SegmentReader as SourceReader } from '../src/segment-reader.js';
import { summariseSegment } from '../src/segment-summary.js';

// The worker thread runs compiled code only: this test loads the built module (pretest builds
// it), so that the thread a push uses is the one under test, not the in-thread fallback.
const BUILT = fileURLToPath(new URL('../dist/segment-reader.js', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'segment-reader-'));
let files: string[] = [];

beforeAll(async () => {
  const store = AuditStore.open({
    dir: join(dir, 's'),
    trustDir: join(dir, 't'),
    segmentMaxBytes: 64 * 1024,
  });
  for (let i = 0; i < 400; i++) {
    await store.append({
      type: i % 2 ? 'span.end' : 'span.start',
      tags: { run: `r${i % 7}`, principal: `user:${i % 3}`, span: `s${i >> 1}` },
      payload: { i, note: 'n'.repeat(200) },
    });
  }
  await store.close();
  const segDir = join(dir, 's', 'segments');
  files = readdirSync(segDir)
    .sort()
    .map((n) => join(segDir, n));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SegmentReader', () => {
  it('on its worker thread, gives the bytes and summary summariseSegment gives in-thread', async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run pnpm --silent build`);
    const { SegmentReader } = (await import(BUILT)) as { SegmentReader: typeof SourceReader };
    const reader = new SegmentReader();
    try {
      expect(reader.threaded).toBe(true);
      expect(files.length).toBeGreaterThan(3);
      // All at once: answers are matched to their requests, whatever the order.
      const got = await Promise.all(files.map((f) => reader.read(f)));
      for (const [i, file] of files.entries()) {
        const bytes = readFileSync(file);
        expect(got[i]!.bytes.equals(bytes)).toBe(true);
        expect(got[i]!.summary).toEqual(summariseSegment(bytes));
        expect(got[i]!.summary.runs.length).toBeGreaterThan(0);
      }
      // Reads under way never share a buffer; a released one is reused, and what it held
      // before does not leak into the next, shorter segment.
      // (A shared buffer posted back is a new object over the same memory: sameMemory writes
      // through one view and reads through the other.)
      const sameMemory = (a: Buffer, b: Buffer) => {
        const before = b[0];
        a[0] = a[0]! ^ 0xff;
        const same = b[0] !== before;
        a[0] = a[0]! ^ 0xff;
        return same;
      };
      for (const [i, g] of got.entries())
        for (const h of got.slice(i + 1)) expect(sameMemory(g.bytes, h.bytes)).toBe(false);
      for (const g of got) g.release();
      const big = await reader.read(files[0]!);
      const small = join(dir, 'small.jsonl');
      const head = readFileSync(files[0]!).subarray(0, readFileSync(files[0]!).indexOf(10) + 1);
      writeFileSync(small, head);
      const back = await reader.read(small);
      expect(sameMemory(back.bytes, big.bytes)).toBe(false);
      big.release();
      const again = await reader.read(small);
      expect(sameMemory(again.bytes, big.bytes)).toBe(true);
      expect(again.bytes.equals(head)).toBe(true);
      expect(again.summary).toEqual(summariseSegment(head));
      back.release();
      again.release();
      // A missing file: the error names it, and the reader goes on.
      await expect(reader.read(join(dir, 'gone.jsonl'))).rejects.toThrow(/gone\.jsonl/);
      const last = await reader.read(files[1]!);
      expect(last.bytes.equals(readFileSync(files[1]!))).toBe(true);
      last.release();
    } finally {
      await reader.close();
    }
    // Closed on purpose: not a failure, and it reads on in the calling thread.
    expect(reader.failed).toBe(false);
    const after = await reader.read(files[0]!);
    expect(after.bytes.equals(readFileSync(files[0]!))).toBe(true);
  });

  it('without the compiled worker (these TypeScript sources), reads in the calling thread', async () => {
    const reader = new SourceReader();
    expect(reader.threaded).toBe(false);
    const got = await reader.read(files[0]!);
    expect(got.summary).toEqual(summariseSegment(readFileSync(files[0]!)));
    await expect(reader.read(join(dir, 'gone.jsonl'))).rejects.toThrow(/gone\.jsonl/);
  });
});
