/**
 * The issue 9 attack suite, store classes in one shape: make the attack the way a holder of
 * write access to the store directory (and none to the trust directory) would, take verify's
 * verdict, start an ordinary writer (open, append where it opens, close), take the verdict
 * again, start it once more, and take it a third time. No case may reach exit 0 at any point.
 * The per-class tests with more variants live in writer-trust, verify-statements,
 * verify-format, index-attacks and attack-rotation (see docs/attack-suite.md).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuditStore, type StoreError, type VerifyReport, verifyStore } from '../src/index.js';
import { newestSegment, replaceLineRaw } from './chain-tools.js';
import {
  cleanupTempStores,
  filledTempStore,
  readLines,
  span,
  type TempStore,
  tempStore,
} from './helpers.js';
import { appendChained, swapInOtherStore } from './tamper-tools.js';

let t: TempStore;
afterEach(() => cleanupTempStores());

const codes = (r: VerifyReport) => r.problems.map((p) => p.code);
const verify = () => verifyStore({ dir: t.dir, trustDir: t.trustDir });

/** An ordinary writer start: open, one append, close. Returns the refusal code, if refused. */
async function writerStart(): Promise<string | undefined> {
  let store: AuditStore;
  try {
    store = t.open();
  } catch (error) {
    return (error as StoreError).code;
  }
  await store.append(span('after-restart', 0));
  await store.close();
  return undefined;
}

/**
 * Verdict now, after a writer start, and after another: each must satisfy `expectVerdict`.
 * Returns what the two writer starts said.
 */
async function beforeAndAfterRestarts(
  expectVerdict: (r: VerifyReport, when: string) => void,
): Promise<Array<string | undefined>> {
  expectVerdict(await verify(), 'before a writer restart');
  const starts: Array<string | undefined> = [];
  for (const when of ['after a writer restart', 'after a second writer restart']) {
    starts.push(await writerStart());
    expectVerdict(await verify(), when);
  }
  return starts;
}

async function closedStore(records = 5): Promise<AuditStore> {
  const filled = await filledTempStore(records);
  t = filled.temp;
  return filled.store;
}

/** A writer that died without closing: no closing checkpoint, its lock removed. */
async function crashedStore(records = 6): Promise<string> {
  t = tempStore();
  const store = t.open({ checkpointEveryRecords: 1000, checkpointIntervalMs: 3_600_000 });
  for (let i = 0; i < records; i++) await store.append(span('run', i));
  await store.checkpoint();
  // Two acknowledged records after the anchored checkpoint: the unsigned tail.
  for (let i = records; i < records + 2; i++) await store.append(span('run', i));
  // Stop the writer without its close statement: what kill -9 leaves (bytes, no store.close).
  const file = newestSegment(t.dir);
  const lines = readLines(file);
  const keep = [path.join(t.dir, 'checkpoints.jsonl'), t.anchorPath].map(
    (f) => [f, fs.readFileSync(f)] as const,
  );
  const witnesses = fs
    .readdirSync(t.trustDir)
    .filter((f) => f.endsWith('.head'))
    .map((f) => [path.join(t.trustDir, f), fs.readFileSync(path.join(t.trustDir, f))] as const);
  store.closeSync();
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  for (const [f, bytes] of [...keep, ...witnesses]) fs.writeFileSync(f, bytes);
  return file;
}

describe('issue 9 attack suite: verdict before and after writer restarts', () => {
  it('class 1, store identity: the store replaced by another store sharing its trust directory', async () => {
    t = tempStore();
    await swapInOtherStore(t);
    const starts = await beforeAndAfterRestarts((r, when) => {
      expect(r.exitCode, when).toBe(1);
      expect(codes(r), when).toContain('STORE_IDENTITY_MISMATCH');
    });
    expect(starts).toEqual(['STORE_IDENTITY_MISMATCH', 'STORE_IDENTITY_MISMATCH']);
  });

  it('class 2, after a clean close: correctly chained records appended after store.close', async () => {
    await closedStore();
    appendChained(newestSegment(t.dir), 3);
    const starts = await beforeAndAfterRestarts((r, when) => {
      expect(r.exitCode, when).toBe(1);
      expect(codes(r), when).toContain('RECORD_AFTER_CLOSE');
    });
    expect(starts).toEqual(['STORE_APPENDED_AFTER_CLOSE', 'STORE_APPENDED_AFTER_CLOSE']);
  });

  it('class 2, after a crash: records appended by someone else before the restart are signed as recovered-unattested, never 0', async () => {
    const file = await crashedStore();
    const forged = appendChained(file, 2);
    const before = await verify();
    expect(before.exitCode).toBe(2);
    expect(codes(before)).toEqual(['UNSIGNED_TAIL']);
    const starts: Array<string | undefined> = [];
    for (const when of ['after a writer restart', 'after a second writer restart']) {
      starts.push(await writerStart());
      const r = await verify();
      expect(r.exitCode, when).toBe(2);
      expect(codes(r), when).toContain('RECOVERED_UNATTESTED');
      const problem = r.problems.find((p) => p.code === 'RECOVERED_UNATTESTED')!;
      expect(problem.message, when).toContain(`${forged[0]}–${forged[1]}`);
    }
    expect(starts).toEqual([undefined, undefined]);
  });

  it('class 3, recovery checks before it moves: a planted .damaged marker inside the anchored range', async () => {
    const file = await crashedStore();
    const lines = readLines(file);
    const crashed = await verify();
    expect(crashed.exitCode).toBe(2);
    expect(codes(crashed)).toEqual(['UNSIGNED_TAIL']);
    fs.writeFileSync(
      `${file}.damaged`,
      `${JSON.stringify({ durableOffset: Buffer.byteLength(lines[0]!) + 1, reason: 'planted' })}\n`,
    );
    const segmentBytes = fs.readFileSync(file);
    const starts = await beforeAndAfterRestarts((r, when) => {
      // The marker is a writer matter: verify's verdict on the records is unchanged by it.
      expect(r.exitCode, when).toBe(2);
      expect(codes(r), when).toEqual(['UNSIGNED_TAIL']);
      expect(fs.readFileSync(file), when).toEqual(segmentBytes);
      expect(fs.existsSync(path.join(t.dir, 'recovered')), when).toBe(false);
    });
    expect(starts).toEqual(['STORE_DAMAGED', 'STORE_DAMAGED']);
  });

  it('class 9, the format is the contract: a non-canonical record (same meaning, own hash) in the unsigned tail', async () => {
    const file = await crashedStore();
    const lines = readLines(file);
    const index = lines.length - 2;
    const seq = JSON.parse(lines[index]!).seq as number;
    replaceLineRaw(file, index, lines[index]!.replace('"payload":{', '"payload": {'));
    const starts = await beforeAndAfterRestarts((r, when) => {
      expect(r.exitCode, when).toBe(1);
      expect(r.problems.find((p) => p.code === 'RECORD_NOT_CANONICAL')?.seq, when).toBe(seq);
    });
    // The rewritten record is the one the killed writer's witness names (its last
    // acknowledged record): the writer refuses to sign over it, and verify stays 1.
    expect(starts).toEqual(['STORE_WITNESS_MISMATCH', 'STORE_WITNESS_MISMATCH']);
  });
  it('class 6, custody: a public key planted inside the store is never trusted; modes hold under umask 000', async () => {
    const old = process.umask(0);
    try {
      await closedStore();
      const inside = path.join(t.dir, 'public-key.pem');
      fs.copyFileSync(path.join(t.trustDir, 'public-key.pem'), inside);
      const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
      for (const when of ['before', 'after a writer restart', 'after a second writer restart']) {
        if (when !== 'before') expect(await writerStart(), when).toBeUndefined();
        const r = await verifyStore({ dir: t.dir, trustDir: t.trustDir, publicKey: inside });
        expect(r.exitCode, when).toBe(2);
        expect(codes(r), when).toContain('NO_TRUSTED_KEY');
        expect(
          r.warnings.map((w) => w.code),
          when,
        ).toContain('KEY_INSIDE_STORE_IGNORED');
        expect(mode(t.dir), when).toBe('700');
        expect(mode(path.join(t.dir, 'segments')), when).toBe('700');
        expect(mode(newestSegment(t.dir)), when).toBe('600');
        expect(mode(t.trustDir), when).toBe('700');
      }
    } finally {
      process.umask(old);
    }
  });
});
