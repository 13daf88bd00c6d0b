import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneStore, verifyStore } from '../src/index.js';
import { lineHash, newestSegment, replaceLineRaw } from './chain-tools.js';
import {
  agedTempStore,
  cleanupTempStores,
  filledTempStore,
  readLines,
  segmentPath,
  span,
  type TempStore,
  tempStore,
  writeLines,
} from './helpers.js';

/**
 * docs/store-format.md is the contract: each test here takes a rule or an example of that
 * page and checks that the product reaches the verdict the page states.
 */
let t: TempStore;
afterEach(cleanupTempStores);

const verify = (opts = {}) => verifyStore({ dir: t.dir, trustDir: t.trustDir, ...opts });
const codes = (r: { problems: Array<{ code: string }> }) => r.problems.map((p) => p.code);
const warnings = (r: { warnings: Array<{ code: string }> }) => r.warnings.map((p) => p.code);

async function closedStore(records: number, extra = {}) {
  t = (await filledTempStore(records, extra, (i) => `run-${i % 3}`)).temp;
}

/** A store whose newest segment ends in records no checkpoint covers yet (a live writer). */
async function storeWithOpenTail() {
  t = tempStore();
  const store = t.open({ checkpointEveryRecords: 1000, checkpointIntervalMs: 3_600_000 });
  for (let i = 0; i < 6; i++) await store.append(span('run', i));
  // Leave without a closing checkpoint (as a crash would); the lock is released.
  const file = newestSegment(t.dir);
  const lines = readLines(file);
  const log = path.join(t.dir, 'checkpoints.jsonl');
  // The writer witness too: as a crash leaves it, naming the last record appended.
  const witness = `${t.anchorPath}.${store.origin}.head`;
  const saved = [log, t.anchorPath, witness].map((f) => [
    f,
    fs.existsSync(f) ? fs.readFileSync(f) : null,
  ]);
  store.closeSync();
  writeLines(file, lines);
  for (const [f, text] of saved as Array<[string, Buffer | null]>) {
    if (text) fs.writeFileSync(f, text);
    else fs.rmSync(f, { force: true });
  }
  return file;
}

describe('the hash formula, exactly as the document writes it', () => {
  it('hash = lowercase_hex(SHA-256("{" || line[75..end])), valid = line[9..73] == hash, chain = prev', async () => {
    await closedStore(5);
    const bytes = fs.readFileSync(segmentPath(t.dir, 1));
    const lines: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const nl = bytes.indexOf(0x0a, at);
      lines.push(bytes.subarray(at, nl));
      at = nl + 1;
    }
    expect(lines.length).toBeGreaterThan(5);
    let prev = '0'.repeat(64);
    for (const line of lines) {
      expect(line.subarray(0, 9).toString()).toBe('{"hash":"');
      const hash = createHash('sha256')
        .update(Buffer.concat([Buffer.from('{'), line.subarray(75)]))
        .digest('hex');
      expect(line.subarray(9, 73).toString('latin1')).toBe(hash);
      const record = JSON.parse(line.toString('utf8'));
      expect(record.prev).toBe(prev);
      prev = hash;
    }
  });
});

describe('canonical bytes: other bytes fail even when their hash matches them', () => {
  // Each variant is valid JSON with the same meaning, re-hashed over its own bytes and the
  // rest of the segment re-linked by bytes: only the canonical-form rule can catch it.
  const variants: Array<[string, (line: string) => string]> = [
    ['a space', (l) => l.replace('"payload":{', '"payload": {')],
    ['an escape (\\u0041)', (l) => l.replace('"name":"tool', '"name":"\\u0074ool')],
    ['1.0 for 1', (l) => l.replace(/"i":(\d+)/, '"i":$1.0')],
    ['an unrounded big integer', (l) => l.replace(/"i":(\d+)/, '"i":12345678901234567890')],
    ['a duplicate member', (l) => l.replace(/"i":(\d+)/, '"i":0,"i":$1')],
  ];
  for (const [what, change] of variants) {
    it(`${what}: RECORD_NOT_CANONICAL at that seq, in the unsigned tail and with --full`, async () => {
      const file = await storeWithOpenTail();
      const lines = readLines(file);
      const index = lines.length - 2;
      const changed = change(lines[index]!);
      expect(changed).not.toBe(lines[index]);
      replaceLineRaw(file, index, changed);
      const seq = JSON.parse(lines[index]!).seq;
      for (const full of [false, true]) {
        const r = await verify({ full });
        expect(r.exitCode).toBe(1);
        expect(r.problems[0]).toMatchObject({ code: 'RECORD_NOT_CANONICAL', seq });
        expect(codes(r)).not.toContain('CHAIN_BROKEN');
      }
    });
  }

  it('in a sealed segment: the seal digest fails, and the record is named record by record', async () => {
    await closedStore(30, { segmentMaxBytes: 4000 });
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    replaceLineRaw(file, 2, lines[2]!.replace('"payload":{', '"payload": {'));
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]).toMatchObject({ code: 'RECORD_NOT_CANONICAL', seq: 3 });
  });

  it('a tag value that is not a string is RECORD_MALFORMED', async () => {
    const file = await storeWithOpenTail();
    const lines = readLines(file);
    const index = lines.length - 1;
    replaceLineRaw(file, index, lines[index]!.replace('"status":"ok"', '"status":1'));
    const r = await verify();
    expect(r.problems[0]).toMatchObject({
      code: 'RECORD_MALFORMED',
      seq: JSON.parse(lines[index]!).seq,
    });
    expect(r.exitCode).toBe(1);
  });
});

describe('unknown record types', () => {
  it('a chained record of a type this verifier does not know: RECORD_TYPE_UNKNOWN (2), not malformed', async () => {
    const file = await storeWithOpenTail();
    const untouched = await verify();
    expect(untouched.exitCode).toBe(2);
    const lines = readLines(file);
    const index = lines.length - 1;
    replaceLineRaw(
      file,
      index,
      lines[index]!.replace(/"type":"span\.end"\}$/, '"type":"future.kind"}'),
    );
    // As a newer writer would have written it: its witness names this record.
    const witness = fs.readdirSync(path.dirname(t.anchorPath)).find((n) => n.endsWith('.head'))!;
    const witnessFile = path.join(path.dirname(t.anchorPath), witness);
    const w = JSON.parse(fs.readFileSync(witnessFile, 'utf8'));
    fs.writeFileSync(
      witnessFile,
      `${JSON.stringify({ ...w, hash: JSON.parse(readLines(file)[index]!).hash })}\n`,
    );
    const r = await verify();
    expect(codes(r)).toContain('RECORD_TYPE_UNKNOWN');
    expect(codes(r)).not.toContain('RECORD_MALFORMED');
    expect(r.problems.find((p) => p.code === 'RECORD_TYPE_UNKNOWN')!.kind).toBe('unverifiable');
    expect(codes(r).sort()).toEqual([...codes(untouched), 'RECORD_TYPE_UNKNOWN'].sort());
    expect(r.exitCode).toBe(2);
  });
});

describe('the prev rule after a damaged record', () => {
  it('changed bytes: the next record is CHAIN_BROKEN (the chain goes on from the bytes as they are)', async () => {
    await closedStore(10);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    lines[3] = lines[3]!.replace('"name":"tool', '"name":"toal');
    writeLines(file, lines);
    const r = await verify({ full: true });
    expect(r.problems.slice(0, 2)).toMatchObject([
      { code: 'RECORD_HASH_MISMATCH', seq: 4 },
      { code: 'CHAIN_BROKEN', seq: 5 },
    ]);
  });

  it('re-serialised (content intact): reported once, the next record links to the hash it claims', async () => {
    await closedStore(10);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    lines[3] = lines[3]!.replace('"payload":{', '"payload": {');
    writeLines(file, lines);
    const r = await verify({ full: true });
    expect(codes(r)).toEqual(['RECORD_NOT_CANONICAL']);
    expect(r.problems[0]!.seq).toBe(4);
  });

  it('not a record at all: the next record is CHAIN_BROKEN ("follows a damaged record") and starts the chain again', async () => {
    await closedStore(10);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    lines[3] = 'garbage';
    writeLines(file, lines);
    const r = await verify({ full: true });
    expect(r.problems.slice(0, 2)).toMatchObject([
      { code: 'RECORD_MALFORMED' },
      { code: 'CHAIN_BROKEN', seq: 5 },
    ]);
    expect(r.problems[1]!.message).toMatch(/follows a damaged record/);
    expect(codes(r).filter((c) => c === 'CHAIN_BROKEN')).toHaveLength(1);
  });
});

describe('the anchor', () => {
  it('a named anchor file that does not exist: ANCHOR_MISSING (2), and the store is still verified', async () => {
    await closedStore(5);
    const missing = path.join(t.root, 'nowhere.jsonl');
    const intact = await verify({ anchorPath: missing });
    expect(intact.exitCode).toBe(2);
    expect(codes(intact)).toEqual(['ANCHOR_MISSING']);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    lines[2] = lines[2]!.replace('"name":"tool', '"name":"toal');
    writeLines(file, lines);
    const tampered = await verify({ anchorPath: missing });
    expect(tampered.exitCode).toBe(1);
    expect(codes(tampered)).toContain('ANCHOR_MISSING');
  });

  it('an anchor that cannot be read: ANCHOR_UNREADABLE (3), tampering still wins', async () => {
    await closedStore(5);
    const dirAsAnchor = path.join(t.root, 'a-directory');
    fs.mkdirSync(dirAsAnchor);
    expect((await verify({ anchorPath: dirAsAnchor })).exitCode).toBe(3);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    lines[2] = lines[2]!.replace('"name":"tool', '"name":"toal');
    writeLines(file, lines);
    const r = await verify({ anchorPath: dirAsAnchor });
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('ANCHOR_UNREADABLE');
  });

  it('a last line without its newline counts when complete; a cut one is ANCHOR_MALFORMED', async () => {
    await closedStore(5);
    const text = fs.readFileSync(t.anchorPath, 'utf8');
    fs.writeFileSync(t.anchorPath, text.slice(0, -1));
    const complete = await verify();
    expect(complete.exitCode).toBe(0);
    expect(complete.anchorChecked).toBe(true);
    expect(complete.warnings).toEqual([]);
    fs.writeFileSync(t.anchorPath, `${text}{"head":"ab`);
    const cut = await verify();
    expect(cut.exitCode).toBe(0);
    expect(warnings(cut)).toContain('ANCHOR_MALFORMED');
  });
});

describe('the checkpoint log (checkpoints.jsonl)', () => {
  const log = () => path.join(t.dir, 'checkpoints.jsonl');

  it('a line of another origin is tampering: CHECKPOINT_ORIGIN_MISMATCH (1), also after a writer restart', async () => {
    await closedStore(5);
    const other = JSON.parse(fs.readFileSync(log(), 'utf8').split('\n')[0]!);
    other.origin = 'f'.repeat(32);
    fs.appendFileSync(log(), `${JSON.stringify(other)}\n`);
    const before = await verify();
    expect(before.exitCode).toBe(1);
    expect(codes(before)).toEqual(['CHECKPOINT_ORIGIN_MISMATCH']);
    const store = t.open();
    await store.append(span('after', 1));
    await store.close();
    const after = await verify();
    expect(after.exitCode).toBe(1);
    expect(codes(after)).toContain('CHECKPOINT_ORIGIN_MISMATCH');
  });

  it('deleted or emptied: CHECKPOINT_LOG_MISSING (1), also after a writer restart (the anchor proves the lines were written)', async () => {
    for (const damage of [() => fs.rmSync(log()), () => fs.writeFileSync(log(), '')]) {
      await closedStore(12, { checkpointEveryRecords: 4 });
      damage();
      const before = await verify();
      expect(before.exitCode).toBe(1);
      expect(codes(before)).toEqual(['CHECKPOINT_LOG_MISSING']);
      // Without the anchor the chain's checkpoint records still show it.
      const noAnchor = await verify({ anchorPath: false });
      expect(codes(noAnchor)).toContain('CHECKPOINT_LOG_MISSING');
      expect(noAnchor.exitCode).toBe(1);
      const store = t.open();
      await store.append(span('after', 1));
      await store.close();
      const after = await verify();
      expect(after.exitCode).toBe(1);
      expect(codes(after)).toContain('CHECKPOINT_LOG_MISSING');
      cleanupTempStores();
    }
  });

  it('only the newest line missing (a crash before its append) is no problem; an older one is a warning without the anchor', async () => {
    await closedStore(12, { checkpointEveryRecords: 4 });
    const lines = fs.readFileSync(log(), 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(2);
    fs.writeFileSync(log(), `${lines.slice(0, -1).join('\n')}\n`);
    const anchorLines = fs.readFileSync(t.anchorPath, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(t.anchorPath, `${anchorLines.slice(0, -1).join('\n')}\n`);
    const newest = await verify();
    expect(newest.problems).toEqual([]);
    expect(newest.exitCode).toBe(0);
    fs.writeFileSync(log(), `${[lines[0], ...lines.slice(2)].join('\n')}\n`);
    const older = await verify({ anchorPath: false });
    expect(warnings(older)).toContain('CHECKPOINT_LOG_INCOMPLETE');
    expect(codes(older)).toEqual(['ANCHOR_NOT_CHECKED']);
    // With the anchor holding that line, its absence from the log is tampering.
    expect(codes(await verify())).toContain('CHECKPOINT_LOG_MISSING');
  });
});

describe('retention: prune and double prune accounting', () => {
  async function agedStore() {
    const aged = await agedTempStore();
    t = aged.temp;
    return aged.now;
  }

  it('two prunes: both records listed, contiguous, and every removed segment accounted for', async () => {
    const now = await agedStore();
    const first = await pruneStore({
      dir: t.dir,
      trustDir: t.trustDir,
      now,
      before: new Date('2026-01-04T00:00:00Z'),
    });
    const second = await pruneStore({
      dir: t.dir,
      trustDir: t.trustDir,
      now,
      before: new Date('2026-01-08T00:00:00Z'),
    });
    expect(second.segments[0]).toBe(first.segments.at(-1)! + 1);
    const r = await verify();
    expect(r.problems).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.pruned.map((p) => p.segments)).toEqual([first.segments, second.segments]);
    expect(r.pruned[1]!.firstSeq).toBe(r.pruned[0]!.lastSeq + 1);
    // One more segment removed without a prune record: not accounted for.
    const next = second.segments.at(-1)! + 1;
    fs.rmSync(segmentPath(t.dir, next));
    const cut = await verify();
    expect(cut.exitCode).toBe(1);
    expect(cut.problems[0]).toMatchObject({ code: 'SEGMENT_MISSING', segment: next });
  });
});

describe('the hash-formula helper used by these tests is the document formula', () => {
  it('lineHash equals the stored hash of a real line', async () => {
    await closedStore(2);
    for (const line of readLines(segmentPath(t.dir, 1))) {
      expect(lineHash(line)).toBe(JSON.parse(line).hash);
    }
  });
});

describe('trusted keys are never read from inside the store', () => {
  it('a key path inside the store, a symbolic link into it, or a trust directory inside it: refused, never 0', async () => {
    await closedStore(3);
    const inside = path.join(t.dir, 'public-key.pem');
    fs.copyFileSync(path.join(t.trustDir, 'public-key.pem'), inside);
    const link = path.join(t.root, 'link.pem');
    fs.symlinkSync(inside, link);
    const innerTrust = path.join(t.dir, 'trust');
    fs.mkdirSync(innerTrust);
    fs.copyFileSync(
      path.join(t.trustDir, 'public-key.pem'),
      path.join(innerTrust, 'public-key.pem'),
    );
    fs.copyFileSync(t.anchorPath, path.join(innerTrust, 'anchor.jsonl'));
    for (const opts of [
      { publicKey: inside },
      { publicKey: link },
      { trustDir: innerTrust, anchorPath: t.anchorPath },
    ]) {
      const r = await verify(opts);
      expect(r.trustedKeys, JSON.stringify(opts)).toEqual([]);
      expect(warnings(r)).toContain('KEY_INSIDE_STORE_IGNORED');
      expect(codes(r)).toContain('NO_TRUSTED_KEY');
      expect(r.exitCode).toBe(2);
    }
    // The same key from the trust directory outside the store is trusted.
    expect((await verify()).exitCode).toBe(0);
  });
});
