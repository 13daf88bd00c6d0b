/**
 * Attacks on the writer's side of the trust model (issue 9): each attack is made the way a
 * holder of write access to the store directory (and none to the trust directory) would make
 * it, and the writer's verdict is checked before and after a restart. Where the verdict is
 * verify's, the assertion is the one docs/store-format.md gives.
 */
import { createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AuditStore,
  type FsLayer,
  nodeFsLayer,
  type StoreError,
  verifyStore,
} from '../src/index.js';
import { openStoreReader } from '../src/query.js';
import { encodeRecord, FORMAT_VERSION, GENESIS_HASH } from '../src/record-format.js';
import { verifyStatementSignature } from '../src/signed-statement.js';
import {
  cleanupTempStores,
  filledTempStore,
  readLines,
  segmentPath,
  span,
  type TempStore,
  tempStore,
} from './helpers.js';
import { appendChained, swapInOtherStore } from './tamper-tools.js';

let t: TempStore;
afterEach(() => {
  vi.restoreAllMocks();
  cleanupTempStores();
});

async function closedStore(records = 5, extra: Parameters<TempStore['open']>[0] = {}) {
  const filled = await filledTempStore(records, extra);
  t = filled.temp;
  return filled.store;
}

/** Every file under `dir` with its bytes, to show a refused open moved and cut nothing. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p).toString('base64'));
    }
  };
  walk(dir);
  return out;
}

function expectRefused(open: () => unknown, code: string, message?: RegExp): StoreError {
  let error: StoreError | undefined;
  try {
    open();
  } catch (e) {
    error = e as StoreError;
  }
  expect(error, `expected ${code}`).toBeDefined();
  expect(error!.code).toBe(code);
  if (message) expect(error!.message).toMatch(message);
  return error!;
}

describe('store identity (STORE_IDENTITY_MISMATCH)', () => {
  it('history re-chained under a new origin, checkpoints.jsonl emptied: refused before and after a restart', async () => {
    await closedStore(6);
    // The attacker builds a look-alike history with their own key, then swaps it in.
    const fake = path.join(t.root, 'fake');
    const forger = AuditStore.open({ dir: fake, trustDir: path.join(t.root, 'forger-trust') });
    for (let i = 0; i < 6; i++) await forger.append(span('r', i));
    await forger.close();
    fs.rmSync(path.join(t.dir, 'segments'), { recursive: true, force: true });
    fs.cpSync(path.join(fake, 'segments'), path.join(t.dir, 'segments'), { recursive: true });
    fs.writeFileSync(path.join(t.dir, 'checkpoints.jsonl'), '');
    const before = snapshot(t.dir);
    for (let attempt = 0; attempt < 2; attempt++) {
      const e = expectRefused(() => t.open(), 'STORE_IDENTITY_MISMATCH');
      expect(e.message).toContain(t.anchorPath);
      expect(e.message).toContain(forger.origin);
      expect(e.message).toMatch(/restore the original store/);
      expect(snapshot(t.dir)).toEqual(before);
    }
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.exitCode).toBe(1);
    expect(report.problems.map((p) => p.code)).toContain('STORE_IDENTITY_MISMATCH');
  });

  it('a store replaced by another store that shares the trust directory: refused, and a moved store is named as the other one', async () => {
    t = tempStore();
    const { other, originA, originB } = await swapInOtherStore(t);
    fs.rmSync(path.join(t.dir, 'store.lock'), { force: true });
    const e = expectRefused(() => t.open(), 'STORE_IDENTITY_MISMATCH');
    expect(e.message).toContain(originA);
    expect(e.message).toContain(originB);
    expectRefused(() => t.open(), 'STORE_IDENTITY_MISMATCH');
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(1);

    // B's records under a path the anchor never saw: they belong to store B.
    const moved = `${t.dir}-moved`;
    fs.cpSync(other, moved, { recursive: true });
    const m = expectRefused(
      () => AuditStore.open({ dir: moved, trustDir: t.trustDir }),
      'STORE_IDENTITY_MISMATCH',
    );
    expect(m.message).toContain(`belong to store ${other}`);
    const report = await verifyStore({ dir: moved, trustDir: t.trustDir });
    expect(report.exitCode).toBe(1);
    expect(report.problems.map((p) => p.code)).toContain('STORE_IDENTITY_MISMATCH');
    // B itself still opens.
    await AuditStore.open({ dir: other, trustDir: t.trustDir }).close();
  });

  it('a store emptied to one fresh segment header: refused before and after a restart', async () => {
    await closedStore(4);
    fs.rmSync(path.join(t.dir, 'segments'), { recursive: true, force: true });
    fs.mkdirSync(path.join(t.dir, 'segments'));
    const now = new Date().toISOString();
    const header = encodeRecord(
      GENESIS_HASH,
      1,
      now,
      'segment.open',
      '{}',
      JSON.stringify({ created: now, format: FORMAT_VERSION, origin: 'f'.repeat(32), segment: 1 }),
    );
    fs.writeFileSync(segmentPath(t.dir, 1), header.line);
    fs.writeFileSync(path.join(t.dir, 'checkpoints.jsonl'), '');
    expectRefused(() => t.open(), 'STORE_IDENTITY_MISMATCH', /f{32}/);
    expectRefused(() => t.open(), 'STORE_IDENTITY_MISMATCH');
    expect(readLines(segmentPath(t.dir, 1))).toHaveLength(1);
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(1);
  });
});

describe('after a clean close, nothing new appears', () => {
  it('records appended after store.close are refused (STORE_APPENDED_AFTER_CLOSE) and never signed', async () => {
    await closedStore(5);
    const file = segmentPath(t.dir, 1);
    const clean = readLines(file).map((l) => JSON.parse(l));
    expect(clean.at(-2).type).toBe('store.close');
    const beforeVerify = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(beforeVerify.exitCode).toBe(0);
    const forged = appendChained(file, 3);
    const before = snapshot(t.dir);
    const anchorBefore = fs.readFileSync(t.anchorPath, 'utf8');
    for (let attempt = 0; attempt < 2; attempt++) {
      const e = expectRefused(() => t.open(), 'STORE_APPENDED_AFTER_CLOSE');
      expect(e.message).toContain(`seq ${clean.at(-2).seq}`);
      expect(e.message).toContain(`record ${forged[0]}`);
      expect(snapshot(t.dir)).toEqual(before);
      expect(fs.readFileSync(t.anchorPath, 'utf8')).toBe(anchorBefore);
    }
    const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(report.exitCode).toBe(1);
    expect(report.problems.map((p) => p.code)).toContain('RECORD_AFTER_CLOSE');
  });

  it('a session.open forged with another key after the close is refused too', async () => {
    await closedStore(3);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file).map((l) => JSON.parse(l));
    const cp = lines.at(-1);
    const forger = AuditStore.open({
      dir: path.join(t.root, 'forger'),
      trustDir: path.join(t.root, 'forger-trust'),
    });
    forger.closeSync();
    // A well-formed statement, signed with a key the store does not trust.
    const { generateKeyPairSync, sign } = await import('node:crypto');
    const { canonicalJson } = await import('../src/canonical-json.js');
    const { privateKey } = generateKeyPairSync('ed25519');
    const body = {
      after: { hash: cp.hash, seq: cp.seq },
      attested: { hash: cp.hash, seq: cp.seq },
      keyId: 'ed25519:0000000000000000',
      origin: lines[0].payload.origin,
      previous: 'closed',
      time: new Date().toISOString(),
      unattested: null,
    };
    const sig = sign(null, Buffer.from(canonicalJson(body)), privateKey).toString('base64');
    const rec = encodeRecord(
      cp.hash,
      cp.seq + 1,
      body.time,
      'session.open',
      '{}',
      canonicalJson({ ...body, sig }),
    );
    fs.appendFileSync(file, rec.line);
    appendChained(file, 2);
    expectRefused(() => t.open(), 'STORE_APPENDED_AFTER_CLOSE');
    expectRefused(() => t.open(), 'STORE_APPENDED_AFTER_CLOSE');
  });
});

describe('recovery never destroys before it checks', () => {
  async function storeWithTail() {
    t = tempStore();
    // No timer checkpoint: the two last records stay after the anchored checkpoint.
    const store = t.open({ checkpointIntervalMs: 1_000_000_000 });
    for (let i = 0; i < 6; i++) await store.append(span('m', i));
    await store.checkpoint();
    for (let i = 6; i < 8; i++) await store.append(span('m', i));
    // A crashed writer: no clean close, its lock left behind.
    return { file: segmentPath(t.dir, 1), store };
  }

  it('a planted .damaged marker off a line boundary, inside the anchored range, or beyond the file: refused, nothing moved', async () => {
    const { file, store } = await storeWithTail();
    fs.rmSync(path.join(t.dir, 'store.lock'));
    const size = fs.statSync(file).size;
    const lines = readLines(file);
    const offsets = lines.map((_, i) =>
      lines.slice(0, i).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0),
    );
    const anchored = JSON.parse(readLines(t.anchorPath).at(-1)!) as { size: number };
    const cpIndex = lines.findIndex((l) => JSON.parse(l).seq === anchored.size + 1);
    const marker = `${file}.damaged`;
    const cases: Array<[string, unknown]> = [
      ['off a line boundary', offsets[cpIndex + 1]! + 7],
      ['inside the anchored range', offsets[2]],
      ['beyond the file', size + 100],
      ['not an integer', 'soon'],
      // After the anchored checkpoint, but the two records there were acknowledged (the
      // witness names the last): their fdatasync completed, no marker can precede them.
      ['before the end of the witnessed record', offsets[cpIndex + 1]],
    ];
    for (const [what, durableOffset] of cases) {
      fs.writeFileSync(marker, `${JSON.stringify({ durableOffset, reason: 'planted' })}\n`);
      const before = snapshot(t.dir);
      for (let attempt = 0; attempt < 2; attempt++) {
        const e = expectRefused(() => t.open(), 'STORE_DAMAGED');
        expect(e.message, what).toContain(marker);
        expect(snapshot(t.dir), what).toEqual(before);
        expect(fs.existsSync(path.join(t.dir, 'recovered')), what).toBe(false);
      }
    }
    // A valid marker (after the anchored checkpoint, on a boundary) is honoured, with the
    // witness as a failed fdatasync of the last two records leaves it: at the checkpoint.
    const cp = JSON.parse(lines[cpIndex]!) as { seq: number; hash: string; time: string };
    fs.writeFileSync(
      `${t.anchorPath}.${store.origin}.head`,
      `${JSON.stringify({ hash: cp.hash, origin: store.origin, seq: cp.seq, time: cp.time })}\n`,
    );
    fs.writeFileSync(
      marker,
      `${JSON.stringify({ durableOffset: offsets[cpIndex + 1], reason: 'fsync failed' })}\n`,
    );
    await t.open().close();
    expect(fs.readdirSync(path.join(t.dir, 'recovered'))).toHaveLength(1);
  });
});

describe('the writer witness: what a killed writer acknowledged', () => {
  it('is overwritten with the durable head after each group commit, once per commit, never before the append resolves', async () => {
    t = tempStore();
    let witnessWrites = 0;
    let syncs = 0;
    const layer: FsLayer = {
      ...nodeFsLayer,
      writeSync: (fd, b, o, l, p) => {
        if (fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.head')) witnessWrites += 1;
        return nodeFsLayer.writeSync(fd, b, o, l, p);
      },
      fdatasync: (fd) => {
        syncs += 1;
        return nodeFsLayer.fdatasync(fd);
      },
    };
    const store = t.open({ fs: layer });
    const witness = path.join(t.trustDir, `anchor.jsonl.${store.origin}.head`);
    const read = () => JSON.parse(fs.readFileSync(witness, 'utf8'));
    witnessWrites = 0;
    syncs = 0;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => store.append(span('w', i))),
    );
    const last = results.at(-1)!;
    expect(read()).toMatchObject({ origin: store.origin });
    expect(read().seq).toBeGreaterThanOrEqual(last.seq);
    // One pwrite per group commit, not one per record.
    expect(witnessWrites).toBeLessThan(40);
    expect(witnessWrites).toBeLessThanOrEqual(syncs + 1);
    expect((fs.statSync(witness).mode & 0o777).toString(8)).toBe('600');
    await store.close();
  });

  // A power cut during a clean close: the store.close reached the disk, its checkpoint did
  // not, and neither did anything the close would have synced (anchor and log lines, witness).
  async function closeCutShort() {
    t = tempStore();
    const store = t.open({ checkpointIntervalMs: 1_000_000_000 });
    for (let i = 0; i < 3; i++) await store.append(span('c', i));
    await store.checkpoint();
    for (let i = 3; i < 5; i++) await store.append(span('c', i));
    const witness = `${t.anchorPath}.${store.origin}.head`;
    const log = path.join(t.dir, 'checkpoints.jsonl');
    const saved = [witness, t.anchorPath, log].map((f) => [f, fs.readFileSync(f)] as const);
    await store.close();
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    expect(JSON.parse(lines.at(-2)!).type).toBe('store.close');
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, `${lines.slice(0, -1).join('\n')}\n`);
    for (const [f, bytes] of saved) fs.writeFileSync(f, bytes);
    return { file, witness, close: JSON.parse(lines.at(-2)!) as { seq: number; hash: string } };
  }

  it("sets aside only this writer's own unfinished close, after the witness (close-unconfirmed)", async () => {
    const { file, close } = await closeCutShort();
    const before = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(before.exitCode).toBe(2);
    const notices: string[] = [];
    await t.open({ onNotice: (n) => notices.push(n.message) }).close();
    expect(notices.join('\n')).toMatch(/close-unconfirmed/);
    expect(fs.readdirSync(path.join(t.dir, 'recovered'))).toHaveLength(1);
    expect(readLines(file).some((l) => JSON.parse(l).hash === close.hash)).toBe(false);
    const after = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
    expect(after.recoveries[0]!.reason).toBe('close-unconfirmed');
    expect(after.exitCode).toBe(0);
  });

  it('refuses to set aside a close the witness says was acknowledged, and moves nothing', async () => {
    const { witness, close } = await closeCutShort();
    const w = JSON.parse(fs.readFileSync(witness, 'utf8'));
    fs.writeFileSync(witness, `${JSON.stringify({ ...w, hash: close.hash, seq: close.seq })}\n`);
    const before = snapshot(t.dir);
    expectRefused(() => t.open(), 'STORE_DAMAGED', /store\.close at seq \d+ .*acknowledged/);
    expect(snapshot(t.dir)).toEqual(before);
  });
});

describe('nothing lost silently (disk full while not fail-closed)', () => {
  it('one warning per failure episode with counts, a signed loss record per episode once writing works again', async () => {
    t = tempStore();
    let full = false;
    const warnings: string[] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error) => {
      warnings.push(String(w));
    }) as typeof process.emitWarning);
    const notices: string[] = [];
    const store = t.open({
      onNotice: (n) => notices.push(n.code),
      fs: {
        ...nodeFsLayer,
        writeSync: (fd, b, o, l, p) => {
          if (full && !fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.head')) {
            const e = new Error('ENOSPC: no space left on device') as NodeJS.ErrnoException;
            e.code = 'ENOSPC';
            throw e;
          }
          return nodeFsLayer.writeSync(fd, b, o, l, p);
        },
      },
    });
    await store.append(span('ok', 0));
    for (let episode = 0; episode < 2; episode++) {
      full = true;
      const rejected = await Promise.allSettled([
        ...Array.from({ length: 5 }, (_, i) => store.append(span('alpha', i))),
        ...Array.from({ length: 3 }, (_, i) => store.append(span('beta', i))),
        store.append({ type: 'event', payload: { untagged: true } }),
      ]);
      expect(rejected.every((r) => r.status === 'rejected')).toBe(true);
      await new Promise((r) => setImmediate(r));
      await store.append(span('alpha', 99)).catch(() => undefined);
      await new Promise((r) => setImmediate(r));
      full = false;
      await store.append(span('ok', episode + 1));
    }
    await store.close();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /9 audit record\(s\) of 3 run\(s\) could not be written \(STORE_DISK_FULL\)/,
    );
    expect(notices.filter((c) => c === 'RECORDS_LOST')).toHaveLength(2);
    const publicKey = createPublicKey(fs.readFileSync(path.join(t.trustDir, 'public-key.pem')));
    const losses = readLines(segmentPath(t.dir, 1))
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'loss');
    expect(losses).toHaveLength(2);
    for (const loss of losses) {
      expect(loss.payload).toMatchObject({
        origin: store.origin,
        reason: 'STORE_DISK_FULL',
        count: 10,
        runs: [
          { run: '', count: 1 },
          { run: 'alpha', count: 6 },
          { run: 'beta', count: 3 },
        ],
      });
      expect(Date.parse(loss.payload.firstTime)).toBeLessThanOrEqual(
        Date.parse(loss.payload.lastTime),
      );
      expect(verifyStatementSignature(loss.payload, publicKey)).toBe(true);
    }
    // The loss record comes right before the record whose append succeeded.
    const all = readLines(segmentPath(t.dir, 1)).map((l) => JSON.parse(l));
    const i = all.findIndex((r) => r.type === 'loss');
    expect(all[i + 1].tags.run).toBe('ok');
    // Before and after a restart, verify reports the gap, never exit 0, and the runs whose
    // records were lost are listed as incomplete, even those with no record left: from the
    // segments (a reader's first query) and from the index (its second).
    for (let round = 0; round < 2; round++) {
      const report = await verifyStore({ dir: t.dir, trustDir: t.trustDir });
      expect(report.exitCode).toBe(2);
      expect(report.problems.map((p) => p.code)).toContain('RECORDS_LOST');
      const indexWarnings: string[] = [];
      const reader = openStoreReader(t.dir, { onWarning: (w) => indexWarnings.push(w.message) });
      for (const query of ['scan', 'index']) {
        const runs = new Map(reader.listRuns().map((r) => [r.run_id, r]));
        expect(runs.get('alpha'), query).toMatchObject({ incomplete: true, lost_records: 12 });
        expect(runs.get('beta'), query).toMatchObject({ incomplete: true, lost_records: 6 });
        expect(runs.get('ok'), query).toMatchObject({ incomplete: false, status: 'ok' });
        expect(runs.get('ok')?.lost_records, query).toBeUndefined();
      }
      reader.close();
      expect(indexWarnings).toEqual([]);
      await t.open().close();
    }
  });
});

describe('custody on disk', () => {
  it('store directories 0700, files 0600, sealed segments 0400, whatever the umask', async () => {
    const old = process.umask(0);
    try {
      t = tempStore();
      const store = t.open({ segmentMaxBytes: 3000 });
      for (let i = 0; i < 30; i++) await store.append(span('perm', i));
      await store.close();
      // Recovery output too.
      fs.chmodSync(segmentPath(t.dir, 1), 0o600);
      fs.appendFileSync(
        segmentPath(t.dir, fs.readdirSync(path.join(t.dir, 'segments')).length),
        '{"hash":"torn',
      );
      await t.open().close();
    } finally {
      process.umask(old);
    }
    const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
    expect(mode(t.dir)).toBe('700');
    expect(mode(path.join(t.dir, 'segments'))).toBe('700');
    expect(mode(path.join(t.dir, 'recovered'))).toBe('700');
    expect(mode(t.trustDir)).toBe('700');
    expect(mode(path.join(t.dir, 'checkpoints.jsonl'))).toBe('600');
    expect(mode(t.anchorPath)).toBe('600');
    const segments = fs.readdirSync(path.join(t.dir, 'segments')).sort();
    expect(segments.length).toBeGreaterThan(2);
    for (const name of segments.slice(1, -1)) {
      expect(mode(path.join(t.dir, 'segments', name)), name).toBe('400');
    }
    expect(mode(path.join(t.dir, 'segments', segments.at(-1)!))).toBe('600');
    for (const name of fs.readdirSync(path.join(t.dir, 'recovered'))) {
      expect(mode(path.join(t.dir, 'recovered', name))).toBe('400');
    }
  });

  it('a trust directory open to group or others is repaired to 0700 with a warning', async () => {
    await closedStore(1);
    fs.chmodSync(t.trustDir, 0o755);
    const warnings: string[] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error) => {
      warnings.push(String(w));
    }) as typeof process.emitWarning);
    const notices: string[] = [];
    await t.open({ onNotice: (n) => notices.push(n.code) }).close();
    expect((fs.statSync(t.trustDir).mode & 0o777).toString(8)).toBe('700');
    expect(notices).toContain('TRUST_DIR_REPAIRED');
    expect(warnings.join('\n')).toMatch(/was changed to 700/);
  });

  it('a trust directory or anchor inside the store is refused, before anything is written', async () => {
    t = tempStore();
    expectRefused(
      () => AuditStore.open({ dir: t.dir, trustDir: path.join(t.dir, 'trust') }),
      'TRUST_INSIDE_STORE',
      /trust directory/,
    );
    expectRefused(
      () =>
        AuditStore.open({
          dir: t.dir,
          trustDir: t.trustDir,
          anchorPath: path.join(t.dir, 'anchor.jsonl'),
        }),
      'TRUST_INSIDE_STORE',
      /anchor file/,
    );
    expect(fs.existsSync(t.dir)).toBe(false);
  });

  it('segments rotate at their size limit under sustained load (never idle)', async () => {
    t = tempStore();
    const limit = 16 * 1024;
    const store = t.open({ segmentMaxBytes: limit });
    // Keep 64 appends in flight at all times: the commit loop never runs dry.
    const inflight = new Set<Promise<unknown>>();
    let maxBatchBytes = 0;
    let n = 0;
    while (n < 3000) {
      while (inflight.size < 64 && n < 3000) {
        const p = store.append(span('load', n++));
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await store.close();
    const lineBytes = Buffer.byteLength(readLines(segmentPath(t.dir, 1))[1]!) + 1;
    // One commit batch: at most the records in flight (64) plus a checkpoint and a seal.
    maxBatchBytes = 66 * (lineBytes + 200);
    const segments = fs.readdirSync(path.join(t.dir, 'segments')).sort();
    expect(segments.length).toBeGreaterThan(10);
    for (const name of segments.slice(0, -1)) {
      const size = fs.statSync(path.join(t.dir, 'segments', name)).size;
      expect(size, name).toBeLessThanOrEqual(limit + maxBatchBytes);
    }
    expect((await verifyStore({ dir: t.dir, trustDir: t.trustDir })).exitCode).toBe(0);
  });
});
