import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair, verifyStore, writeKeyPair } from '../src/index.js';
import {
  cleanupTempStores,
  readLines,
  segmentPath,
  span,
  type TempStore,
  tempStore,
  writeLines,
} from './helpers.js';

let t: TempStore;
afterEach(cleanupTempStores);

async function filledStore(records = 20, extra = {}) {
  t = tempStore();
  const store = t.open(extra);
  for (let i = 0; i < records; i++) await store.append(span(`run-${i % 3}`, i));
  await store.close();
  return t;
}

const verify = (opts = {}) => verifyStore({ dir: t.dir, trustDir: t.trustDir, ...opts });

describe('verifyStore basics', () => {
  it('exit 0 on an intact, closed store, with counts', async () => {
    await filledStore(20);
    const report = await verify();
    expect(report.problems).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.status).toBe('verified');
    expect(report.records).toBe(23); // header + 20 + store.close + final checkpoint
    expect(report.signedThrough).toBe(22); // the final checkpoint covers store.close
    expect(report.anchorChecked).toBe(true);
  });

  it('one flipped byte: exit 1 naming the record, the next record reported as chain broken', async () => {
    await filledStore(20);
    const file = segmentPath(t.dir, 1);
    const lines = readLines(file);
    const victim = JSON.parse(lines[5]!);
    lines[5] = lines[5]!.replace('"name":"tool', '"name":"toal');
    writeLines(file, lines);
    const report = await verify();
    expect(report.exitCode).toBe(1);
    expect(report.problems[0]).toMatchObject({
      code: 'RECORD_HASH_MISMATCH',
      segment: 1,
      seq: victim.seq,
    });
    expect(report.problems.some((p) => p.code === 'CHAIN_BROKEN' && p.seq === victim.seq + 1)).toBe(
      true,
    );
  });

  it('no checkpoint at all is never 0', async () => {
    t = tempStore();
    const store = t.open();
    await store.append(span('r', 1));
    const file = segmentPath(t.dir, 1);
    // Keep only the records, as if the writer had been killed before any checkpoint.
    const lines = readLines(file).filter((l) => !l.endsWith('"type":"checkpoint"}'));
    store.closeSync();
    writeLines(file, lines.slice(0, 2));
    fs.rmSync(path.join(t.dir, 'checkpoints.jsonl'));
    // The anchor's volume gone, and with it the writer witness beside it (which names the
    // close's checkpoint removed above).
    fs.rmSync(t.anchorPath);
    fs.rmSync(`${t.anchorPath}.${store.origin}.head`);
    const report = await verify();
    expect(report.exitCode).toBe(2);
    expect(report.problems.map((p) => p.code)).toContain('NO_CHECKPOINT');
  });

  it('without any trusted key the result is at best 2', async () => {
    await filledStore(5);
    fs.rmSync(path.join(t.trustDir, 'public-key.pem'));
    const report = await verify();
    expect(report.exitCode).toBe(2);
    expect(report.problems.map((p) => p.code)).toContain('NO_TRUSTED_KEY');
  });

  it('a pinned key that did not sign the checkpoints: exit 1 (untrusted key)', async () => {
    await filledStore(5);
    const other = generateSigningKeyPair();
    const report = await verify({ publicKey: other.publicKeyPem });
    expect(report.exitCode).toBe(1);
    expect(report.problems.map((p) => p.code)).toContain('CHECKPOINT_UNTRUSTED_KEY');
  });

  it('a key inside the store directory is never trusted', async () => {
    await filledStore(5);
    const inside = path.join(t.dir, 'public-key.pem');
    fs.copyFileSync(path.join(t.trustDir, 'public-key.pem'), inside);
    const report = await verify({ publicKey: inside });
    expect(report.exitCode).toBe(2);
    expect(report.warnings.map((w) => w.code)).toContain('KEY_INSIDE_STORE_IGNORED');
    expect(report.trustedKeys).toEqual([]);
  });

  it('exit 3 for a store that does not exist or an unreadable key', async () => {
    t = tempStore();
    expect((await verify()).exitCode).toBe(3);
    await filledStore(1);
    const report = await verify({ publicKey: path.join(t.root, 'nope.pem') });
    expect(report.exitCode).toBe(3);
    expect(report.problems[0]!.code).toBe('KEY_UNREADABLE');
  });

  it('reports progress while streaming', async () => {
    await filledStore(50);
    const seen: number[] = [];
    await verify({ onProgress: (p: { bytes: number }) => seen.push(p.bytes) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(fs.statSync(segmentPath(t.dir, 1)).size);
  });
});

describe('anchor file robustness', () => {
  it('the writer says so when an existing store has no checkpoint in its anchor', async () => {
    await filledStore(2);
    fs.rmSync(t.anchorPath);
    const notices: string[] = [];
    await t.open({ onNotice: (n) => notices.push(n.code) }).close();
    expect(notices).toContain('ANCHOR_MISSING');
  });

  it('a torn anchor line (crash mid-append) is skipped with a warning and the next checkpoint starts a fresh line', async () => {
    await filledStore(3);
    fs.appendFileSync(t.anchorPath, '{"head":"abc","keyId');
    const store = t.open();
    await store.append(span('after-torn-anchor', 1));
    await store.close();
    const lines = fs.readFileSync(t.anchorPath, 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(JSON.parse(lines.at(-2)!).size).toBeGreaterThan(0);
    const report = await verify();
    expect(report.exitCode).toBe(0);
    expect(report.warnings.map((w) => w.code)).toContain('ANCHOR_MALFORMED');
  });
});

describe('keygen', () => {
  it('writeKeyPair writes a usable pair and refuses to overwrite it', () => {
    t = tempStore();
    const out = path.join(t.root, 'keys');
    const written = writeKeyPair(out);
    expect(written.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
    expect(fs.statSync(written.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(() => writeKeyPair(out)).toThrow(/refusing to overwrite/);
  });
});
