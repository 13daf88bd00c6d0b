import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditStore, generateSigningKeyPair, keyIdOf, verifyStore } from '../src/index.js';
import {
  appendCheckpoint,
  appendRaw,
  head,
  newestSegment,
  type Signer,
  statement,
  trustSigner,
} from './chain-tools.js';
import { cleanupTempStores, span, type TempStore, tempStore } from './helpers.js';

/**
 * The verify rules for the session records (store.close, session.open, loss) and for store
 * identity, attacked as someone with write access to the store directory and none to the
 * trust directory would: records appended by bytes, signatures made with a foreign key, real
 * statements replayed elsewhere. "Valid" statements are signed here with the store's own key,
 * exactly as the writer makes them, to show each rule accepts what the writer writes.
 */
let t: TempStore;
afterEach(cleanupTempStores);

const verify = (opts = {}) => verifyStore({ dir: t.dir, trustDir: t.trustDir, ...opts });
const codes = (r: { problems: Array<{ code: string }> }) => r.problems.map((p) => p.code);

function foreignSigner(): Signer {
  const pair = generateSigningKeyPair();
  return { privateKey: pair.privateKey, keyId: keyIdOf(pair.publicKey) };
}

async function closedStore(records = 4) {
  t = tempStore();
  const store = t.open();
  for (let i = 0; i < records; i++) await store.append(span('run-a', i));
  // Ends with a checkpoint and no store.close (the writer's own close() now writes one): the
  // tests add the session statements themselves. The writer is then gone, as after a crash.
  store.flushSync();
  fs.rmSync(path.join(t.dir, 'store.lock'));
}

/** store.close + its checkpoint, as a clean close writes them. */
function cleanClose(signer: Signer) {
  const h = head(t.dir);
  const close = appendRaw(
    t.dir,
    'store.close',
    statement(t.dir, signer, { lastSeq: h.seq, lastHash: h.hash }),
  );
  const cp = appendCheckpoint(t.dir, signer);
  return { close, cp };
}

/** A session.open right after the chain's current end. */
function sessionOpen(
  signer: Signer,
  over: Partial<{
    after: { seq: number; hash: string };
    previous: 'closed' | 'crashed';
    attested: { seq: number; hash: string };
    unattested: { fromSeq: number; toSeq: number } | null;
  }> = {},
) {
  const h = head(t.dir);
  return appendRaw(
    t.dir,
    'session.open',
    statement(t.dir, signer, {
      after: { seq: h.seq, hash: h.hash },
      previous: 'closed',
      attested: { seq: h.seq, hash: h.hash },
      unattested: null,
      ...over,
    }),
  );
}

/**
 * A writer start on the attacked store: either it refuses to open, or whatever it signs does
 * not turn the verdict into 0. Returns the verdict after the restart (undefined if refused).
 */
async function afterRestart() {
  let store: AuditStore;
  try {
    store = t.open();
  } catch {
    return undefined;
  }
  await store.append(span('after-restart', 1));
  await store.close();
  return verify();
}

describe('store.close and what may follow it', () => {
  it('a clean close as the writer writes it, then a session.open of the next writer: verified', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    cleanClose(own);
    expect((await verify()).exitCode).toBe(0);
    sessionOpen(own);
    appendCheckpoint(t.dir, own);
    const r = await verify();
    expect(r.problems).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.sessions).toHaveLength(1);
    expect(r.sessions[0]).toMatchObject({ previous: 'closed', unattested: null });
  });

  it('records appended after a clean close: RECORD_AFTER_CLOSE (1), before and after a writer restart', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    cleanClose(own);
    const injected = appendRaw(t.dir, 'span.end', { name: 'injected' }, { run: 'run-a' });
    const before = await verify();
    expect(before.exitCode).toBe(1);
    expect(before.problems[0]).toMatchObject({ code: 'RECORD_AFTER_CLOSE', seq: injected.seq });
    const after = await afterRestart();
    if (after) {
      expect(after.exitCode).toBe(1);
      expect(codes(after)).toContain('RECORD_AFTER_CLOSE');
    }
  });

  it('a store.close not followed by its checkpoint: RECORD_AFTER_CLOSE', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    const h = head(t.dir);
    appendRaw(t.dir, 'store.close', statement(t.dir, own, { lastSeq: h.seq, lastHash: h.hash }));
    appendRaw(t.dir, 'event', { x: 1 });
    expect(codes(await verify())).toContain('RECORD_AFTER_CLOSE');
  });

  it('a store.close signed with a foreign key: STATEMENT_BAD_SIGNATURE (1)', async () => {
    await closedStore();
    cleanClose(foreignSigner());
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('STATEMENT_BAD_SIGNATURE');
  });
});

describe('session.open', () => {
  it('signed with another key: STATEMENT_BAD_SIGNATURE (1), before and after a writer restart', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    cleanClose(own);
    const forged = sessionOpen(foreignSigner());
    appendRaw(t.dir, 'span.end', { name: 'injected' }, { run: 'run-a' });
    const before = await verify();
    expect(before.exitCode).toBe(1);
    expect(before.problems).toContainEqual(
      expect.objectContaining({ code: 'STATEMENT_BAD_SIGNATURE', seq: forged.seq }),
    );
    expect(codes(before)).toContain('RECORD_AFTER_CLOSE');
    const after = await afterRestart();
    if (after) expect(after.exitCode).toBe(1);
  });

  it('replayed from another point of the chain: SESSION_MISPLACED (1)', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    cleanClose(own);
    const first = sessionOpen(own);
    appendCheckpoint(t.dir, own);
    expect((await verify()).exitCode).toBe(0);
    // The real, validly signed statement copied to the chain's end.
    const lines = fs
      .readFileSync(path.join(t.dir, 'segments', '00000001.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    const real = JSON.parse(lines.find((l) => JSON.parse(l).seq === first.seq)!);
    appendRaw(t.dir, 'session.open', real.payload);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]).toMatchObject({ code: 'SESSION_MISPLACED', seq: first.seq + 2 });
    expect(r.problems[0]!.message).toMatch(/replayed/);
  });

  it('previous "crashed" after a clean close, or "closed" after a crash: SESSION_MISPLACED', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    cleanClose(own);
    sessionOpen(own, { previous: 'crashed' });
    expect(codes(await verify())).toContain('SESSION_MISPLACED');
    cleanupTempStores();
    await closedStore();
    sessionOpen(trustSigner(t.trustDir), { previous: 'closed' });
    expect(codes(await verify())).toContain('SESSION_MISPLACED');
  });

  it('members missing or of the wrong type: STATEMENT_MALFORMED (1)', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    const h = head(t.dir);
    appendRaw(
      t.dir,
      'session.open',
      statement(t.dir, own, { after: { seq: String(h.seq), hash: h.hash }, previous: 'crashed' }),
    );
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('STATEMENT_MALFORMED');
  });

  it('signing over unacknowledged records after a crash: RECOVERED_UNATTESTED (2) naming the range, never 0', async () => {
    await closedStore(3);
    const own = trustSigner(t.trustDir);
    const attested = head(t.dir);
    const a = appendRaw(t.dir, 'span.end', { name: 'after crash 1' }, { run: 'run-a' });
    const b = appendRaw(t.dir, 'span.end', { name: 'after crash 2' }, { run: 'run-a' });
    sessionOpen(own, {
      previous: 'crashed',
      attested: { seq: attested.seq, hash: attested.hash },
      unattested: { fromSeq: a.seq, toSeq: b.seq },
    });
    appendCheckpoint(t.dir, own);
    const r = await verify();
    expect(r.exitCode).toBe(2);
    expect(codes(r)).toEqual(['RECOVERED_UNATTESTED']);
    expect(r.problems[0]!.seq).toBe(a.seq);
    expect(r.problems[0]!.message).toContain(`${a.seq}–${b.seq}`);
    expect(r.sessions[0]).toMatchObject({
      previous: 'crashed',
      unattested: { fromSeq: a.seq, toSeq: b.seq },
    });
    // A writer restart signs more, but the range stays reported.
    const after = await afterRestart();
    if (after) {
      expect(after.exitCode).toBe(2);
      expect(codes(after)).toContain('RECOVERED_UNATTESTED');
    }
  });
});

describe('loss records', () => {
  const lossBody = {
    reason: 'STORE_DISK_FULL',
    count: 3,
    firstTime: '2026-01-01T00:00:00.000Z',
    lastTime: '2026-01-01T00:00:05.000Z',
    runs: [
      { run: '', count: 1 },
      { run: 'run-a', count: 2 },
    ],
  };

  it('a loss record: RECORDS_LOST (2) with count, runs and time range; listed in losses', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    const loss = appendRaw(t.dir, 'loss', statement(t.dir, own, lossBody));
    appendCheckpoint(t.dir, own);
    const r = await verify();
    expect(r.exitCode).toBe(2);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'RECORDS_LOST', seq: loss.seq })]);
    expect(r.problems[0]!.message).toMatch(/3 records were lost \(STORE_DISK_FULL\)/);
    expect(r.problems[0]!.message).toMatch(/run-a: 2/);
    expect(r.losses).toEqual([
      expect.objectContaining({ seq: loss.seq, count: 3, runs: lossBody.runs }),
    ]);
  });

  it('a forged loss (foreign key, or count changed after signing): STATEMENT_BAD_SIGNATURE (1)', async () => {
    await closedStore();
    appendRaw(t.dir, 'loss', statement(t.dir, foreignSigner(), lossBody));
    expect(codes(await verify())).toContain('STATEMENT_BAD_SIGNATURE');
    cleanupTempStores();
    await closedStore();
    const signed = statement(t.dir, trustSigner(t.trustDir), lossBody);
    appendRaw(t.dir, 'loss', { ...signed, count: 1 });
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toContain('STATEMENT_BAD_SIGNATURE');
    expect(r.losses).toEqual([]);
  });

  it('a loss record of another store: STATEMENT_BAD_SIGNATURE', async () => {
    await closedStore();
    appendRaw(t.dir, 'loss', statement(t.dir, trustSigner(t.trustDir), lossBody, 'e'.repeat(32)));
    expect(codes(await verify())).toContain('STATEMENT_BAD_SIGNATURE');
  });
});

describe('store identity', () => {
  it('a store replaced by another store sharing the trust directory: STORE_IDENTITY_MISMATCH (1)', async () => {
    await closedStore();
    const original = head(t.dir).origin;
    // A second store writes through the same trust directory (same key, same anchor)...
    const otherDir = path.join(t.root, 'other-store');
    const other = AuditStore.open({ dir: otherDir, trustDir: t.trustDir });
    await other.append(span('other-run', 1));
    await other.close();
    // ...and is moved into the first one's place.
    fs.rmSync(t.dir, { recursive: true, force: true });
    fs.renameSync(otherDir, t.dir);
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]).toMatchObject({ code: 'STORE_IDENTITY_MISMATCH' });
    expect(r.problems[0]!.message).toContain(original);
    // The auditor who knows which store this is can still say so.
    const vouched = await verify({ origin: head(t.dir).origin });
    expect(codes(vouched)).not.toContain('STORE_IDENTITY_MISMATCH');
  });

  it('a history rewritten under a fresh origin in the same directory: STORE_IDENTITY_MISMATCH, also after a writer restart', async () => {
    await closedStore();
    fs.rmSync(path.join(t.dir, 'segments'), { recursive: true, force: true });
    fs.rmSync(path.join(t.dir, 'checkpoints.jsonl'));
    // A fresh store in that directory, anchored elsewhere, then pointed back at the real anchor.
    const fresh = AuditStore.open({
      dir: t.dir,
      trustDir: t.trustDir,
      anchorPath: path.join(t.root, 'elsewhere.jsonl'),
    });
    await fresh.append(span('rewritten', 1));
    await fresh.close();
    const before = await verify();
    expect(before.exitCode).toBe(1);
    expect(codes(before)).toContain('STORE_IDENTITY_MISMATCH');
    const after = await afterRestart();
    if (after) {
      expect(after.exitCode).toBe(1);
      expect(codes(after)).toContain('STORE_IDENTITY_MISMATCH');
    }
  });

  it('a copy verified at another path needs --origin; with the right one it verifies', async () => {
    await closedStore();
    const copy = path.join(t.root, 'copy');
    fs.cpSync(t.dir, copy, { recursive: true });
    const r = await verifyStore({ dir: copy, trustDir: t.trustDir });
    expect(r.exitCode).toBe(1);
    expect(r.problems[0]!.code).toBe('STORE_IDENTITY_MISMATCH');
    expect(r.problems[0]!.message).toContain(t.dir);
    const ok = await verifyStore({ dir: copy, trustDir: t.trustDir, origin: r.origin! });
    expect(ok.exitCode).toBe(0);
    await expect(verifyStore({ dir: copy, trustDir: t.trustDir, origin: 'nope' })).rejects.toThrow(
      /Configuration: origin is invalid/,
    );
  });

  it('an empty store whose path the anchor binds: ANCHOR_BEYOND_END (1), not STORE_EMPTY', async () => {
    await closedStore();
    fs.rmSync(path.join(t.dir, 'segments'), { recursive: true, force: true });
    const r = await verify();
    expect(r.exitCode).toBe(1);
    expect(codes(r)).toEqual(['ANCHOR_BEYOND_END']);
  });
});

describe('a close that a power cut interrupted', () => {
  it('store.close whose checkpoint was lost, then the next writer: accepted when it says crashed, tampering when it says closed', async () => {
    await closedStore();
    const own = trustSigner(t.trustDir);
    const h = head(t.dir);
    appendRaw(t.dir, 'store.close', statement(t.dir, own, { lastSeq: h.seq, lastHash: h.hash }));
    const base = fs.readFileSync(newestSegment(t.dir));
    sessionOpen(own, { previous: 'crashed' });
    appendCheckpoint(t.dir, own);
    const crashed = await verify();
    expect(codes(crashed)).not.toContain('RECORD_AFTER_CLOSE');
    expect(codes(crashed)).not.toContain('SESSION_MISPLACED');
    fs.writeFileSync(newestSegment(t.dir), base);
    sessionOpen(own, { previous: 'closed' });
    appendCheckpoint(t.dir, own);
    expect(codes(await verify())).toContain('SESSION_MISPLACED');
  });
});
