/**
 * docs/reliability.md rows 1–14 and 28, on real files: each test damages a real store the way the
 * row describes and checks what verify (and the writer) say.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prng } from '../../../test/support/prng.js';
import { AuditStore, generateSigningKeyPair, verifyStore } from '../src/index.js';
import {
  cleanupTempStores,
  filledTempStore,
  readLines,
  segmentPath,
  span,
  type TempStore,
  tempStore,
  writeLines,
} from './helpers.js';
import { rechain } from './tamper-tools.js';

let t: TempStore;
const extra: TempStore[] = [];
afterEach(() => {
  cleanupTempStores();
  extra.splice(0);
});

async function closedStore(records: number, options = {}): Promise<TempStore> {
  const filled = await filledTempStore(
    records,
    { checkpointEveryRecords: 10, ...options },
    (i) => `run-${i % 4}`,
  );
  t = filled.temp;
  return t;
}

const verify = (opts: Record<string, unknown> = {}) =>
  verifyStore({ dir: t.dir, trustDir: t.trustDir, ...opts });
const codes = (r: { problems: { code: string }[] }) => r.problems.map((p) => p.code);
const seg1 = () => segmentPath(t.dir, 1);
const seqOf = (line: string) => (JSON.parse(line) as { seq: number }).seq;

describe('row 1: one byte flipped', () => {
  it('exit 1 naming the record; the next record is reported as chain broken', async () => {
    await closedStore(30);
    const lines = readLines(seg1());
    const i = 12;
    lines[i] = lines[i]!.replace('"i":', '"j":');
    writeLines(seg1(), lines);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]).toMatchObject({ code: 'RECORD_HASH_MISMATCH', segment: 1, seq: i + 1 });
    expect(r.problems).toContainEqual(
      expect.objectContaining({ code: 'CHAIN_BROKEN', seq: i + 2 }),
    );
  });

  it('property: a random byte flipped anywhere names the record that holds it (100 cases)', async () => {
    await closedStore(40);
    const file = seg1();
    const original = fs.readFileSync(file);
    // Line start offsets → seq of each line.
    const starts: number[] = [0];
    for (let k = 0; k < original.length - 1; k++) if (original[k] === 0x0a) starts.push(k + 1);
    const rand = prng(20261125);
    for (let n = 0; n < 100; n++) {
      // The very last byte is the final newline: losing it is a torn write (row 15), not a flip.
      const pos = Math.floor(rand() * (original.length - 1));
      const damaged = Buffer.from(original);
      damaged[pos] = damaged[pos]! ^ (1 + Math.floor(rand() * 255));
      fs.writeFileSync(file, damaged);
      const r = await verify();
      let line = 0;
      while (line + 1 < starts.length && starts[line + 1]! <= pos) line++;
      expect(r.exitCode, `flip at byte ${pos}`).toBe(1);
      expect(r.problems[0]!.segment, `flip at byte ${pos}`).toBe(1);
      expect(r.problems[0]!.seq, `flip at byte ${pos} (${r.problems[0]!.code})`).toBe(line + 1);
    }
  });
});

describe('row 2: record re-serialised', () => {
  it('other key order or spaces: exit 1, RECORD_NOT_CANONICAL', async () => {
    await closedStore(10);
    const lines = readLines(seg1());
    const record = JSON.parse(lines[4]!);
    const { type, ...rest } = record;
    lines[4] = JSON.stringify({ type, ...rest }, null, 1).replaceAll('\n', ' ');
    writeLines(seg1(), lines);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]).toMatchObject({ code: 'RECORD_NOT_CANONICAL', seq: 5 });
  });
});

describe('row 3: one record deleted', () => {
  it('exit 1: sequence gap and prev mismatch at the deleted seq', async () => {
    await closedStore(10);
    const lines = readLines(seg1());
    lines.splice(6, 1);
    writeLines(seg1(), lines);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]).toMatchObject({ code: 'SEQUENCE_GAP', seq: 7 });
    expect(codes(r)).toContain('CHAIN_BROKEN');
  });

  it('deleting the final checkpoint record is caught through the anchor', async () => {
    await closedStore(10);
    const lines = readLines(seg1());
    lines.pop();
    writeLines(seg1(), lines);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('CHECKPOINT_RECORD_MISSING');
  });
});

describe('row 4: two records swapped', () => {
  it('exit 1, naming the first swapped position', async () => {
    await closedStore(10);
    const lines = readLines(seg1());
    [lines[3], lines[7]] = [lines[7]!, lines[3]!];
    writeLines(seg1(), lines);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]!.seq).toBe(4);
  });
});

describe('property: deletions, swaps, insertions name the damaged position', () => {
  it('60 random cases', async () => {
    await closedStore(30);
    const original = readLines(seg1());
    const rand = prng(7);
    const pick = (n: number) => Math.floor(rand() * n);
    for (let n = 0; n < 60; n++) {
      const lines = [...original];
      const kind = n % 3;
      let expected: number;
      if (kind === 0) {
        const i = pick(lines.length);
        lines.splice(i, 1);
        expected = i + 1;
      } else if (kind === 1) {
        const i = pick(lines.length - 1);
        const j = i + 1 + pick(lines.length - i - 1);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        expected = i + 1;
      } else {
        const i = pick(lines.length + 1);
        lines.splice(i, 0, original[pick(original.length)]!);
        expected = i + 1;
      }
      writeLines(seg1(), lines);
      const r = await verify();
      expect(r.exitCode, `case ${n} kind ${kind}`).toBe(1);
      // Named at the damaged position (or, for a removed header, the segment's first record).
      expect(
        r.problems[0]!.seq ?? 0,
        `case ${n} kind ${kind}: ${JSON.stringify(r.problems[0])}`,
      ).toBeGreaterThanOrEqual(expected - 1);
      expect(r.problems[0]!.seq ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(expected + 1);
    }
  });
});

describe('row 5: record inserted and the rest of the chain recomputed', () => {
  it('exit 1 at the next signed checkpoint', async () => {
    await closedStore(25);
    const lines = readLines(seg1());
    const forged = JSON.parse(lines[3]!);
    forged.payload = { name: 'forged', i: -1 };
    lines.splice(4, 0, JSON.stringify(forged));
    const rewritten = rechain(lines, { renumber: true });
    writeLines(seg1(), rewritten);
    const r = await verify({ anchorPath: false });
    expect(r.exitCode).toBe(1);
    const first = r.problems.find((p) => p.kind === 'tampering')!;
    expect(first.code).toMatch(/^CHECKPOINT_(HEAD_MISMATCH|MISPLACED)$/);
  });
});

describe('row 6: valid-looking records appended after the last checkpoint', () => {
  const forge = () => {
    const lines = readLines(seg1());
    const last = JSON.parse(lines.at(-1)!);
    for (let k = 1; k <= 3; k++) {
      lines.push(
        JSON.stringify({
          ...last,
          seq: last.seq + k,
          type: 'span.end',
          payload: { forged: k },
          tags: { run: 'run-0' },
        }),
      );
    }
    writeLines(seg1(), rechain(lines));
    return last.seq + 1;
  };

  it('after a crash (no clean close): never reported as verified, exit 2 (unsigned tail)', async () => {
    t = tempStore();
    const store = t.open({ checkpointIntervalMs: 1_000_000_000 });
    for (let i = 0; i < 10; i++) await store.append(span(`run-${i % 4}`, i));
    await store.checkpoint();
    const first = forge();
    const r = await verify();
    expect(r.exitCode).toBe(2);
    expect(codes(r)).toEqual(['UNSIGNED_TAIL']);
    expect(r.problems[0]!.seq).toBe(first);
  });

  it('after a clean close: tampering, exit 1 (RECORD_AFTER_CLOSE), and the writer refuses to sign them', async () => {
    await closedStore(10);
    const first = forge();
    for (let round = 0; round < 2; round++) {
      const r = await verify();
      expect(r.exitCode).toBe(1);
      expect(codes(r)).toContain('RECORD_AFTER_CLOSE');
      expect(() => t.open()).toThrow(/STORE_APPENDED_AFTER_CLOSE|closed cleanly/);
    }
    expect(JSON.parse(readLines(seg1()).at(-1)!).seq).toBe(first + 2);
  });
});

describe('row 7: last records truncated inside the signed range', () => {
  it('exit 1: a checkpoint covers more than the file holds (store checkpoint log)', async () => {
    await closedStore(35);
    const lines = readLines(seg1());
    writeLines(seg1(), lines.slice(0, 25));
    const r = await verify({ anchorPath: false });
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('CHECKPOINT_BEYOND_END');
  });

  it('exit 1 through the anchor even when the in-store checkpoint log is cut too', async () => {
    await closedStore(35);
    const lines = readLines(seg1());
    writeLines(seg1(), lines.slice(0, 25));
    const head = seqOf(lines[24]!);
    const log = path.join(t.dir, 'checkpoints.jsonl');
    fs.writeFileSync(
      log,
      readLines(log)
        .filter((l) => JSON.parse(l).size < head)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('ANCHOR_BEYOND_END');
  });
});

describe('row 8: unsigned tail truncated at a record boundary', () => {
  async function truncatedTail() {
    await closedStore(25);
    const lines = readLines(seg1());
    // Cut the final checkpoint and two records: what remains ends in an unsigned tail.
    const kept = lines.slice(0, lines.length - 3);
    writeLines(seg1(), kept);
    const head = seqOf(kept.at(-1)!);
    const log = path.join(t.dir, 'checkpoints.jsonl');
    fs.writeFileSync(
      log,
      readLines(log)
        .filter((l) => JSON.parse(l).size < head)
        .map((l) => `${l}\n`)
        .join(''),
    );
  }

  it('without an anchor: exit 2', async () => {
    await truncatedTail();
    const r = await verify({ anchorPath: false });
    expect(r.exitCode).toBe(2);
    expect(codes(r)).toContain('UNSIGNED_TAIL');
  });

  it('with the anchor: exit 1 (rollback)', async () => {
    await truncatedTail();
    const r = await verify({ anchorPath: t.anchorPath });
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('ANCHOR_BEYOND_END');
  });
});

describe('rows 9 and 10: segments deleted', () => {
  async function rotatedStore() {
    await closedStore(60, { segmentMaxBytes: 3000 });
    const segments = fs
      .readdirSync(path.join(t.dir, 'segments'))
      .filter((f) => f.endsWith('.jsonl'));
    expect(segments.length).toBeGreaterThanOrEqual(4);
    return segments.length;
  }

  it('sealed segments are read-only and the store verifies', async () => {
    const n = await rotatedStore();
    for (let k = 1; k < n; k++) expect(fs.statSync(segmentPath(t.dir, k)).mode & 0o222).toBe(0);
    expect(fs.statSync(segmentPath(t.dir, n)).mode & 0o200).not.toBe(0);
    const r = await verify();
    expect(r.problems).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.segments).toBe(n);
    const full = await verify({ full: true });
    expect(full).toEqual(r);
  });

  it('property: a byte flipped inside a sealed segment (digest fast path) names its record (60 cases)', async () => {
    const n = await rotatedStore();
    const rand = prng(9);
    for (let c = 0; c < 60; c++) {
      const k = 1 + Math.floor(rand() * (n - 1));
      const file = segmentPath(t.dir, k);
      const original = fs.readFileSync(file);
      const pos = Math.floor(rand() * (original.length - 1));
      const damaged = Buffer.from(original);
      damaged[pos] = damaged[pos]! ^ (1 + Math.floor(rand() * 255));
      fs.chmodSync(file, 0o644);
      fs.writeFileSync(file, damaged);
      const lineStart = original.lastIndexOf(0x0a, pos - 1) + 1;
      const line = original.toString(
        'utf8',
        lineStart,
        original.indexOf(0x0a, pos === lineStart - 1 ? pos + 1 : pos),
      );
      const seq = (
        JSON.parse(original.toString('utf8', lineStart, original.indexOf(0x0a, lineStart))) as {
          seq: number;
        }
      ).seq;
      const r = await verify();
      fs.writeFileSync(file, original);
      expect(r.exitCode, `segment ${k} byte ${pos}`).toBe(1);
      expect(r.problems[0], `segment ${k} byte ${pos}: ${line.slice(0, 60)}`).toMatchObject({
        segment: k,
        seq,
      });
    }
  });

  it('row 9: a sealed middle segment deleted: exit 1 naming it', async () => {
    await rotatedStore();
    fs.rmSync(segmentPath(t.dir, 2));
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]).toMatchObject({ code: 'SEGMENT_MISSING', segment: 2 });
  });

  it('row 10: newest segment and its checkpoints deleted: exit 1 with the anchor; the writer refuses to open', async () => {
    const n = await rotatedStore();
    const survivors = readLines(segmentPath(t.dir, n - 1));
    const head = seqOf(survivors.at(-1)!);
    fs.rmSync(segmentPath(t.dir, n));
    const log = path.join(t.dir, 'checkpoints.jsonl');
    fs.writeFileSync(
      log,
      readLines(log)
        .filter((l) => JSON.parse(l).size < head)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('ANCHOR_BEYOND_END');
    expect(() => t.open()).toThrow(/behind its anchor|holds a checkpoint at seq/);
  });
});

describe('row 11: whole store rolled back to an older copy', () => {
  it('exit 1 with the anchor; the writer refuses to open the old copy', async () => {
    await closedStore(10);
    const copy = path.join(t.root, 'copy');
    fs.cpSync(t.dir, copy, { recursive: true });
    const store = t.open();
    for (let i = 0; i < 5; i++) await store.append(span('later', i));
    await store.close();
    fs.rmSync(t.dir, { recursive: true, force: true });
    fs.renameSync(copy, t.dir);
    const withoutAnchor = await verify({ anchorPath: false });
    expect(withoutAnchor.exitCode).toBe(2);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('ANCHOR_BEYOND_END');
    expect(() => t.open()).toThrow(expect.objectContaining({ code: 'STORE_BEHIND_ANCHOR' }));
  });

  it('a deleted store directory is not silently recreated behind its anchor', async () => {
    await closedStore(3);
    fs.rmSync(t.dir, { recursive: true, force: true });
    expect(() => t.open()).toThrow(expect.objectContaining({ code: 'STORE_BEHIND_ANCHOR' }));
  });
});

describe('row 12: whole chain rewritten consistently, signed with another key', () => {
  it('exit 1: untrusted key', async () => {
    await closedStore(10);
    const attacker = tempStore();
    extra.push(attacker);
    const forged = attacker.open();
    for (let i = 0; i < 10; i++) await forged.append(span('run-0', i, { principal: 'user:evil' }));
    await forged.close();
    fs.rmSync(path.join(t.dir, 'segments'), { recursive: true, force: true });
    fs.cpSync(path.join(attacker.dir, 'segments'), path.join(t.dir, 'segments'), {
      recursive: true,
    });
    fs.copyFileSync(
      path.join(attacker.dir, 'checkpoints.jsonl'),
      path.join(t.dir, 'checkpoints.jsonl'),
    );
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('CHECKPOINT_UNTRUSTED_KEY');
  });
});

describe('row 13: forged, truncated or zeroed signature; key swapped inside the store', () => {
  for (const [name, forge] of [
    ['forged', (sig: string) => Buffer.from(sig, 'base64').reverse().toString('base64')],
    ['truncated', (sig: string) => sig.slice(0, 40)],
    ['zeroed', () => Buffer.alloc(64).toString('base64')],
  ] as const) {
    it(`${name} signature: exit 1`, async () => {
      await closedStore(10);
      const lines = readLines(seg1());
      const cp = JSON.parse(lines.at(-1)!);
      cp.payload.sig = forge(cp.payload.sig);
      lines[lines.length - 1] = JSON.stringify(cp);
      writeLines(seg1(), rechain(lines));
      const log = path.join(t.dir, 'checkpoints.jsonl');
      const entries = readLines(log).map((l) => JSON.parse(l));
      entries.at(-1).sig = cp.payload.sig;
      fs.writeFileSync(log, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      const r = await verify({ anchorPath: false });
      expect(r.exitCode).toBe(1);
      expect(codes(r)).toContain('CHECKPOINT_BAD_SIGNATURE');
    });
  }

  it('public key swapped inside the store: never trusted, exit 1', async () => {
    await closedStore(5);
    const attacker = generateSigningKeyPair();
    const lines = readLines(seg1());
    // Re-sign the store's checkpoints with the attacker's key and drop their public key in.
    const { signCheckpoint } = await import('../src/checkpoint.js');
    const resigned = lines.map((l) => {
      const r = JSON.parse(l);
      if (r.type !== 'checkpoint') return l;
      r.payload = signCheckpoint({ ...r.payload, keyId: attacker.keyId }, attacker.privateKey);
      return JSON.stringify(r);
    });
    writeLines(seg1(), rechain(resigned));
    fs.writeFileSync(path.join(t.dir, 'public-key.pem'), attacker.publicKeyPem);
    fs.rmSync(path.join(t.dir, 'checkpoints.jsonl'));
    const r = await verify({ anchorPath: false });
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('CHECKPOINT_UNTRUSTED_KEY');
    const pinnedInside = await verify({
      anchorPath: false,
      publicKey: path.join(t.dir, 'public-key.pem'),
    });
    expect(pinnedInside.exitCode).not.toBe(0);
  });
});

describe('row 14: checkpoint copied from another store', () => {
  it('exit 1 (origin mismatch), even when both stores share the signing key', async () => {
    await closedStore(5);
    const other = AuditStore.open({
      dir: path.join(t.root, 'other'),
      trustDir: t.trustDir,
      anchorPath: path.join(t.root, 'other-anchor.jsonl'),
    });
    await other.append(span('x', 1));
    await other.close();
    const foreign = JSON.parse(readLines(segmentPath(path.join(t.root, 'other'), 1)).at(-1)!);
    const lines = readLines(seg1());
    const cp = JSON.parse(lines.at(-1)!);
    cp.payload = foreign.payload;
    lines[lines.length - 1] = JSON.stringify(cp);
    writeLines(seg1(), rechain(lines));
    const r = await verify({ anchorPath: false });
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('CHECKPOINT_ORIGIN_MISMATCH');
  });
});

describe('row 28: wall clock jumps backwards', () => {
  it('order comes from seq and hashes; verify warns on time regression and still exits 0', async () => {
    t = tempStore();
    let clock = Date.parse('2026-01-01T12:00:00Z');
    const store = t.open({
      now: () => {
        clock += 1000;
        return new Date(clock);
      },
    });
    const a = await store.append(span('clock', 1));
    clock -= 3_600_000; // an hour back (NTP step)
    const b = await store.append(span('clock', 2));
    await store.close();
    expect(b.seq).toBe(a.seq + 1);
    const r = await verify();
    expect(r.exitCode).toBe(0);
    expect(r.warnings.map((w) => w.code)).toContain('TIME_REGRESSION');
  });

  it('also inside sealed segments (verified by digest) and across a slow-path record', async () => {
    t = tempStore();
    let clock = Date.parse('2026-01-01T12:00:00Z');
    const store = t.open({
      segmentMaxBytes: 2500,
      now: () => {
        clock += 1000;
        return new Date(clock);
      },
    });
    for (let i = 0; i < 3; i++) await store.append(span('clock', i));
    clock -= 3_600_000;
    for (let i = 3; i < 30; i++) await store.append(span('clock', i));
    await store.close();
    const sealed = readLines(segmentPath(t.dir, 1));
    expect(sealed.at(-1)).toContain('"type":"segment.seal"');
    expect(sealed.some((l) => l.includes('"seq":5,'))).toBe(true);
    const r = await verify();
    expect(r.exitCode).toBe(0);
    const regressions = r.warnings.filter((w) => w.code === 'TIME_REGRESSION');
    expect(regressions).toHaveLength(1);
    expect(regressions[0]).toMatchObject({ segment: 1, seq: 5 });
  });
});
