import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditStore, summariseRunParts } from '@agent-audit/store';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveKeys, parseArchiveUrl, parseKey } from '../src/index.js';
import {
  type IndexDay,
  indexId,
  indexRevision,
  latestRevisions,
  readIndexDays,
} from '../src/index-rollup.js';
import { segmentHeader, summariseSegment } from '../src/segment-summary.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('parseArchiveUrl', () => {
  it('takes s3://bucket/prefix and normalises the prefix', () => {
    expect(parseArchiveUrl('s3://audit-archive/fleet/eu/')).toEqual({
      bucket: 'audit-archive',
      prefix: 'fleet/eu/',
      url: 's3://audit-archive/fleet/eu/',
    });
    expect(parseArchiveUrl('s3://audit').prefix).toBe('');
  });

  it('refuses what is not an S3 URL with a Configuration error', () => {
    for (const bad of ['audit/fleet', 'https://x/y', 's3://', 's3://UPPER/x', 's3://a/x']) {
      expect(() => parseArchiveUrl(bad)).toThrow(
        /^Configuration: archive is invalid, expected s3:\/\/bucket\/prefix/,
      );
    }
  });
});

describe('archive keys', () => {
  const loc = parseArchiveUrl('s3://bkt/p');
  const origin = 'a'.repeat(32);
  it('round-trips every key the archive writes and rejects the rest', () => {
    expect(parseKey(loc, archiveKeys.segment(loc, origin, 7))).toEqual({
      kind: 'segment',
      origin,
      n: 7,
    });
    expect(parseKey(loc, archiveKeys.push(loc, origin, 3))).toEqual({ kind: 'push', origin, n: 3 });
    expect(parseKey(loc, archiveKeys.head(loc, origin, 8))).toEqual({ kind: 'head', origin, n: 8 });
    expect(parseKey(loc, archiveKeys.checkpoints(loc, origin, 3))).toEqual({
      kind: 'checkpoints',
      origin,
      n: 3,
    });
    expect(parseKey(loc, archiveKeys.publicKey(loc, origin, 'ed25519:abc'))).toEqual({
      kind: 'key',
      origin,
      name: 'ed25519_abc.pem',
    });
    expect(parseKey(loc, archiveKeys.index(loc, '2026-12-05', origin, 3))).toMatchObject({
      kind: 'index',
      day: '2026-12-05',
    });
    expect(parseKey(loc, archiveKeys.runRollup(loc, '2026-12-05', 3))).toEqual({
      kind: 'run-rollup',
      day: '2026-12-05',
      shard: 3,
    });
    expect(parseKey(loc, archiveKeys.rollup(loc, '2026-12-05', 15))).toEqual({
      kind: 'rollup',
      day: '2026-12-05',
      shard: 15,
    });
    expect(parseKey(loc, archiveKeys.index(loc, '2026-12-05', origin, 3))).toMatchObject({
      revision: 0,
    });
    const revised = archiveKeys.index(loc, '2026-12-06', origin, 3, 2);
    expect(revised).toBe(`p/index/2026-12-06/${origin}-00000003-r02.json`);
    expect(parseKey(loc, revised)).toEqual({
      kind: 'index',
      day: '2026-12-06',
      origin,
      n: 3,
      revision: 2,
    });
    for (const bad of [
      `p/index/2026-12-05/${origin}-00000003-r1.json`,
      `p/index/2026-12-05/${origin}-00000003-r001.json`,
      'p/notes.txt',
      'p/stores/short/segments/00000001.jsonl',
      `p/stores/${origin}/segments/1.jsonl`,
      `q/stores/${origin}/pushes/00000001.json`,
    ]) {
      expect(parseKey(loc, bad)).toEqual({ kind: 'unknown' });
    }
  });
});

describe('push index revisions', () => {
  const a = `p/index/2026-12-05/${'a'.repeat(32)}-00000001.json`;
  const a1 = `p/index/2026-12-07/${'a'.repeat(32)}-00000001-r01.json`;
  const a2 = `p/index/2026-12-05/${'a'.repeat(32)}-00000001-r02.json`;
  const b = `p/index/2026-12-05/${'b'.repeat(32)}-00000001.json`;
  it('the highest revision of each push is the one read', () => {
    expect(indexId(a2)).toBe(`${'a'.repeat(32)}-00000001`);
    expect([indexRevision(a), indexRevision(a1), indexRevision(a2)]).toEqual([0, 1, 2]);
    expect(latestRevisions([a, b, a2, a1])).toEqual([b, a2]);
    expect(latestRevisions([a, b])).toEqual([a, b]);
  });
  it('readIndexDays takes a push from the day of its highest revision, once', async () => {
    const run = (origin: string, id: string) => ({ origin, push: 1, id });
    const days: Record<string, IndexDay<ReturnType<typeof run>>> = {
      '2026-12-05': {
        ids: [`${'a'.repeat(32)}-00000001`, `${'b'.repeat(32)}-00000001`],
        runs: [run('a'.repeat(32), 'ghost'), run('b'.repeat(32), 'b-run')],
        objects: 1,
        rolledUp: true,
      },
      '2026-12-06': {
        ids: [`${'a'.repeat(32)}-00000001-r01`, `${'b'.repeat(32)}-00000001`],
        runs: [run('a'.repeat(32), 'real'), run('b'.repeat(32), 'b-run')],
        objects: 1,
        rolledUp: false,
      },
    };
    const { runs } = await readIndexDays(Object.keys(days), 2, async (d) => days[d]!);
    expect(runs.map((r) => r.id).sort()).toEqual(['b-run', 'real']);
  });
});

describe('summariseSegment', () => {
  it('reads the same seq, time, tags and header as a full parse, also with hostile payloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'archive-units-'));
    dirs.push(dir);
    const store = AuditStore.open({
      dir: join(dir, 's'),
      trustDir: join(dir, 't'),
      segmentMaxBytes: 4096,
    });
    for (let i = 0; i < 40; i++) {
      await store.append({
        type: 'span.end',
        tags: {
          run: `r${i % 3}`,
          principal: 'user:1',
          span: `s${i}`,
          ...(i % 5 === 0 ? { prev: 'x' } : {}),
        },
        // Payloads that look like an envelope's tail.
        payload: {
          prev: 'f'.repeat(64),
          seq: 999,
          tags: { run: 'evil' },
          note: ',"prev":"x","seq":1}',
          i,
        },
      });
    }
    await store.close();
    const segDir = join(dir, 's', 'segments');
    for (const name of readdirSync(segDir)) {
      const bytes = readFileSync(join(segDir, name));
      const sum = summariseSegment(bytes);
      const lines = bytes
        .toString('utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(sum.firstSeq).toBe(lines[0].seq);
      expect(sum.lastSeq).toBe(lines.at(-1).seq);
      expect(sum.origin).toBe(lines[0].payload.origin);
      expect(sum.segment).toBe(Number(name.slice(0, 8)));
      expect(segmentHeader(bytes)).toEqual({ origin: sum.origin, segment: sum.segment });
      // The runs are those of every tagged record, each read whole (no tail shortcut).
      const tagged = lines
        .filter((l) => l.tags?.run)
        .map((l) => ({ seq: l.seq, time: l.time, type: l.type, tags: l.tags }));
      expect(sum.runs).toEqual(summariseRunParts(tagged));
      expect(sum.runs.map((r) => r.run_id).sort()).toEqual(
        [...new Set(tagged.map((t) => t.tags.run))].sort(),
      );
    }
  });
});
