// verify --archive reads segments from memory as they arrive (no spool), takes the seal digest
// from the fetch's own hashing, and fetches a segment again when the verifier reads it a second
// time. Attacked here against the real versitygw: the archive verifier must say exactly what the
// local verifier says of the same store (clean, tampered before its push so that the seal's
// digest fails and the verifier re-reads every segment record by record, over-age records that
// the retention check re-reads after the chain scan), before and after a writer restart.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditStore, type VerifyReport, verifyStore } from '@agent-audit/store';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { useLockedBucket, type VersitygwInstance } from '../../../test/support/versitygw.js';
import { parseArchiveUrl } from '../src/archive-location.js';
import { pushStore } from '../src/push-archive.js';
import { getObject } from '../src/s3-objects.js';
import { verifyArchive } from '../src/verify-archive.js';

const BUCKET = 'streamed';
let s3: VersitygwInstance;
let root: string;

useLockedBucket(BUCKET, 'aa-verify-streamed-', (server, dir) => {
  s3 = server;
  root = dir;
});

async function write(dir: string, trustDir: string, records: number, maxAge?: string) {
  const store = AuditStore.open({
    dir,
    trustDir,
    segmentMaxBytes: 8 * 1024,
    checkpointEveryRecords: 20,
    ...(maxAge ? { retention: { maxAge } } : {}),
  });
  for (let i = 0; i < records; i++) {
    await store.append({
      type: 'span.end',
      tags: { run: `run-${i % 7}`, principal: 'user:p', span: `s${i}` },
      payload: { step: i % 10, notes: 'n'.repeat(200) },
    });
  }
  await store.close();
}

/** What a verdict says, without where it was read from. */
function said(report: VerifyReport) {
  return {
    exitCode: report.exitCode,
    problems: [...report.problems, ...report.warnings].map((p) => ({
      code: p.code,
      segment: p.segment,
      seq: p.seq,
    })),
  };
}

async function both(name: string, dir: string, trustDir: string, now?: Date) {
  const client = s3.client();
  const location = parseArchiveUrl(`s3://${BUCKET}/${name}`);
  await pushStore({ client, location, store: dir, trustDir, retainDays: 1 });
  const archived = await verifyArchive({ client, location, ...(now ? { now } : {}) });
  const local = await verifyStore({ dir, trustDir, ...(now ? { now } : {}) });
  expect(archived.stores).toHaveLength(1);
  return { archived: archived.stores[0]!, local };
}

describe('verify --archive streams segments through memory (real versitygw)', () => {
  it('a clean store: the same verdict as the local verifier, before and after a writer restart', async () => {
    const dir = join(root, 'clean');
    const trust = join(root, 'clean-trust');
    await write(dir, trust, 150);
    let { archived, local } = await both('clean', dir, trust);
    expect(local.exitCode).toBe(0);
    expect(archived.exitCode).toBe(0);
    expect(archived.segments).toBeGreaterThan(5);
    expect(said(archived.verify!)).toEqual(said(local));
    await write(dir, trust, 60); // the writer restarts and writes on
    ({ archived, local } = await both('clean', dir, trust));
    expect(archived.exitCode).toBe(0);
    expect(archived.pushes).toBe(2);
    expect(said(archived.verify!)).toEqual(said(local));
  }, 120_000);

  it('a segment tampered before its push (its seal digest fails): the second, record-by-record pass re-fetches and names the same record', async () => {
    const dir = join(root, 'tampered');
    const trust = join(root, 'tampered-trust');
    await write(dir, trust, 150);
    const segs = readdirSync(join(dir, 'segments')).sort();
    const seg = join(dir, 'segments', segs[3]!);
    const before = readFileSync(seg, 'utf8');
    writeFileSync(seg, before.replace('"notes":"n', '"notes":"m'));
    expect(readFileSync(seg, 'utf8')).not.toBe(before);
    let { archived, local } = await both('tampered', dir, trust);
    expect(local.exitCode).toBe(1);
    expect(archived.exitCode).toBe(1);
    expect(said(archived.verify!)).toEqual(said(local));
    expect(archived.verify!.problems.some((p) => p.segment === 4)).toBe(true);
    await write(dir, trust, 40);
    ({ archived, local } = await both('tampered', dir, trust));
    expect(archived.exitCode).toBe(1);
    expect(said(archived.verify!)).toEqual(said(local));
  }, 120_000);

  it('over-age records: the retention check re-reads segments after the chain scan and names the same record', async () => {
    const dir = join(root, 'aged');
    const trust = join(root, 'aged-trust');
    await write(dir, trust, 120, '1d');
    const later = new Date(Date.now() + 3 * 86_400_000);
    let { archived, local } = await both('aged', dir, trust, later);
    const codes = (r: VerifyReport) => r.warnings.map((p) => p.code);
    expect(codes(local)).toContain('RETENTION_EXCEEDED');
    expect(codes(archived.verify!)).toContain('RETENTION_EXCEEDED');
    expect(said(archived.verify!)).toEqual(said(local));
    expect(archived.verify!.retention.overAge).toEqual(local.retention.overAge);
    await write(dir, trust, 30, '1d');
    ({ archived, local } = await both('aged', dir, trust, later));
    expect(said(archived.verify!)).toEqual(said(local));
    expect(archived.verify!.retention.overAge).toEqual(local.retention.overAge);
  }, 120_000);

  it("getObject's digest before the last line is the SHA-256 of exactly those bytes", async () => {
    const client = s3.client();
    const seal = `{"seal":"${'s'.repeat(300)}"}\n`;
    const cases = [
      Buffer.from(`${'{"a":1}\n'.repeat(200_000)}${seal}`), // many network chunks
      Buffer.from(`{"a":1}\n${seal}`), // smaller than what is held back
      Buffer.from(`{"a":1}\n${'x'.repeat(70 * 1024)}\n`), // a last line over 64 KiB: no digest
      Buffer.from('no newline at the end'),
    ];
    for (const [i, body] of cases.entries()) {
      const key = `objects/${i}`;
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      const got = await getObject(client, BUCKET, key, undefined, { lastLine: true });
      expect(got!.bytes.equals(body)).toBe(true);
      expect(got!.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      const offset = body.lastIndexOf(0x0a, body.length - 2) + 1;
      if (i < 2) {
        expect(got!.beforeLastLine).toEqual({
          offset,
          sha256: createHash('sha256').update(body.subarray(0, offset)).digest('hex'),
        });
      } else {
        expect(got!.beforeLastLine).toBeUndefined();
      }
    }
    expect(await getObject(client, BUCKET, 'objects/none')).toBeUndefined();
  }, 60_000);
});
