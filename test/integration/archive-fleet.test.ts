import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/jaeger.js';
import { type NodeRun, runNode } from '../support/run-node.js';
import { useLockedBucket, type VersitygwInstance } from '../support/versitygw.js';

const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const AGENT = join(REPO_ROOT, 'test/integration/fixtures/archive-agent.mjs');
const BUCKET = 'fleet-audit';

let s3: VersitygwInstance;
let root: string;

function run(args: string[], cwd = root): Promise<NodeRun> {
  return runNode(args, { cwd: cwd, env: { PATH: process.env.PATH, HOME: root, ...s3.env } });
}

interface Host {
  name: string;
  store: string;
  trust: string;
  runs: string[];
}

async function agent(name: string, runs = 6): Promise<Host> {
  const host = {
    name,
    store: join(root, name, 'store'),
    trust: join(root, name, 'trust'),
    runs: [],
  };
  const out = await run([AGENT, host.store, host.trust, name, String(runs)]);
  expect(out.code, out.stderr).toBe(0);
  return { ...host, runs: JSON.parse(out.stdout).runs };
}

function push(host: Host, prefix: string): Promise<NodeRun> {
  return run([
    CLI,
    '--store',
    host.store,
    'archive',
    'push',
    '--to',
    `s3://${BUCKET}/${prefix}`,
    '--trust-dir',
    host.trust,
    '--retain-days',
    '1',
  ]);
}

function verifyArchive(prefix: string, ...extra: string[]): Promise<NodeRun> {
  return run([CLI, '--json', 'verify', '--archive', `s3://${BUCKET}/${prefix}`, ...extra]);
}

function origin(host: Host): string {
  const first = readFileSync(join(host.store, 'segments', '00000001.jsonl'), 'utf8').split(
    '\n',
  )[0]!;
  return JSON.parse(first).payload.origin;
}

useLockedBucket(BUCKET, 'agent-audit-archive-', (server, dir) => {
  s3 = server;
  root = dir;
});

describe('archive fleet (real versitygw, Object Lock)', () => {
  let hosts: Host[];

  it('three agent processes push concurrently (and one twice at once); verify --archive exits 0', async () => {
    hosts = await Promise.all(['alpha', 'bravo', 'charlie'].map((n) => agent(n)));
    const pushes = await Promise.all([
      ...hosts.map((h) => push(h, 'fleet')),
      push(hosts[0]!, 'fleet'),
    ]);
    for (const p of pushes) expect(p.code, p.stderr).toBe(0);
    const v = await verifyArchive('fleet');
    const report = JSON.parse(v.stdout);
    expect(report.stores.map((s: { exitCode: number }) => s.exitCode)).toEqual([0, 0, 0]);
    expect(v.code, v.stdout).toBe(0);
    expect(report.stores.map((s: { origin: string }) => s.origin).sort()).toEqual(
      hosts.map(origin).sort(),
    );
    // Pushing again is idempotent: nothing new, the archive still verifies.
    const again = await push(hosts[1]!, 'fleet');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/0 segment\(s\)/);
    expect((await verifyArchive('fleet')).code).toBe(0);
  }, 180_000);

  it('runs --principal P --since 90d --archive finds the runs of all three hosts', async () => {
    const out = await run([
      CLI,
      '--json',
      'runs',
      '--principal',
      'user:fleet',
      '--since',
      '90d',
      '--archive',
      `s3://${BUCKET}/fleet`,
    ]);
    expect(out.code, out.stderr).toBe(0);
    const ids = JSON.parse(out.stdout)
      .map((r: { run_id: string }) => r.run_id)
      .sort();
    expect(ids).toEqual(hosts.map((h) => h.runs[0]).sort());
    // After the day's index is rolled up (principal shards), the same answer from the rollup.
    const compact = await run([
      CLI,
      'archive',
      'compact',
      '--to',
      `s3://${BUCKET}/fleet`,
      '--today',
      '--days',
      '1',
      '--retain-days',
      '1',
    ]);
    expect(compact.code, compact.stderr).toBe(0);
    expect(compact.stdout).toMatch(/rolled up/);
    const rolled = await run([
      CLI,
      '--json',
      'runs',
      '--principal',
      'user:fleet',
      '--since',
      '90d',
      '--archive',
      `s3://${BUCKET}/fleet`,
    ]);
    expect(
      JSON.parse(rolled.stdout)
        .map((r: { run_id: string }) => r.run_id)
        .sort(),
    ).toEqual(ids);
    const one = await run([
      CLI,
      '--json',
      'runs',
      '--principal',
      'user:bravo',
      '--archive',
      `s3://${BUCKET}/fleet`,
    ]);
    expect(JSON.parse(one.stdout)).toHaveLength(5);
  }, 60_000);

  it('the server refuses deleting a locked version and shortening its retention; an overwrite is named MODIFIED', async () => {
    const client = s3.client();
    const key = `fleet/stores/${origin(hosts[2]!)}/segments/00000001.jsonl`;
    const versions = await client.send(
      new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: key }),
    );
    const pushed = versions.Versions!.find((v) => v.Key === key)!;
    await expect(
      client.send(
        new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: pushed.VersionId }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(
      client.send(
        new PutObjectRetentionCommand({
          Bucket: BUCKET,
          Key: key,
          VersionId: pushed.VersionId,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 1000) },
        }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    // A plain PUT over the key adds a version (as on AWS); the pushed version is unchanged.
    const original = readFileSync(join(hosts[2]!.store, 'segments', '00000001.jsonl'));
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: original.toString().replace('charlie', 'mallory'),
      }),
    );
    const kept = await client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: key, VersionId: pushed.VersionId }),
    );
    expect(Buffer.from(await kept.Body!.transformToByteArray()).equals(original)).toBe(true);
    // A delete without a version adds a delete marker: named DELETED.
    await client.send(
      new DeleteObjectCommand({ Bucket: BUCKET, Key: key.replace('00000001', '00000002') }),
    );
    const v = await verifyArchive('fleet');
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout);
    const charlie = report.stores.find((s: { origin: string }) => s.origin === origin(hosts[2]!));
    const codes = charlie.problems.map((p: { code: string }) => p.code);
    expect(codes).toContain('ARCHIVE_OBJECT_MODIFIED');
    expect(codes).toContain('ARCHIVE_OBJECT_DELETED');
    expect(
      charlie.problems.find((p: { code: string }) => p.code === 'ARCHIVE_OBJECT_MODIFIED').message,
    ).toContain(key);
    // The locked versions still verify record by record: the store's own verdict is clean.
    expect(charlie.verify.exitCode).toBe(0);
    // The other hosts are untouched.
    expect(report.stores.filter((s: { exitCode: number }) => s.exitCode === 0)).toHaveLength(2);
  }, 120_000);

  it('a store tampered with before its push is named, before and after a writer restart', async () => {
    const host = await agent('delta');
    const seg = join(host.store, 'segments', '00000002.jsonl');
    const before = readFileSync(seg, 'utf8');
    const after = before.replace(/"step":\d/, '"step":9');
    expect(after).not.toBe(before);
    writeFileSync(seg, after);
    expect((await push(host, 'tampered')).code).toBe(0);
    let v = await verifyArchive('tampered');
    expect(v.code).toBe(1);
    let store = JSON.parse(v.stdout).stores[0];
    expect(store.origin).toBe(origin(host));
    expect(store.verify.exitCode).toBe(1);
    expect(store.verify.problems[0].segment).toBe(2);
    // The writer restarts, writes more and pushes again: still named.
    const more = await run([AGENT, host.store, host.trust, 'delta', '3']);
    expect(more.code, more.stderr).toBe(0);
    expect((await push(host, 'tampered')).code).toBe(0);
    v = await verifyArchive('tampered');
    expect(v.code).toBe(1);
    store = JSON.parse(v.stdout).stores[0];
    expect(store.pushes).toBe(2);
    expect(store.verify.problems.some((p: { segment?: number }) => p.segment === 2)).toBe(true);
  }, 120_000);

  it('a segment deleted before its push is named', async () => {
    const host = await agent('echo');
    unlinkSync(join(host.store, 'segments', '00000003.jsonl'));
    const p = await push(host, 'missing');
    expect(p.code).toBe(0);
    expect(p.stderr).toMatch(/sealed segment\(s\) 3 are missing/);
    const v = await verifyArchive('missing');
    expect(v.code).toBe(1);
    const store = JSON.parse(v.stdout).stores[0];
    expect(store.problems.map((x: { code: string }) => x.code)).toContain(
      'ARCHIVE_SEGMENT_NOT_PUSHED',
    );
    expect(store.verify.problems.map((x: { code: string }) => x.code)).toContain('SEGMENT_MISSING');
  }, 120_000);

  it('a host that stopped pushing is named (exit 2), while the others keep pushing after restarts', async () => {
    const [a, b] = await Promise.all([agent('foxtrot'), agent('golf')]);
    await Promise.all([push(a, 'stale'), push(b, 'stale')]);
    expect((await verifyArchive('stale', '--stale-after', '2s')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2500));
    // foxtrot's writer restarts, writes, pushes; golf is gone.
    expect((await run([AGENT, a.store, a.trust, 'foxtrot', '3'])).code).toBe(0);
    expect((await push(a, 'stale')).code).toBe(0);
    const v = await verifyArchive('stale', '--stale-after', '2s');
    expect(v.code).toBe(2);
    const report = JSON.parse(v.stdout);
    const golf = report.stores.find((s: { origin: string }) => s.origin === origin(b));
    expect(golf.problems.map((x: { code: string }) => x.code)).toEqual(['ARCHIVE_HOST_STOPPED']);
    expect(golf.problems[0].message).toContain(b.store);
    const fox = report.stores.find((s: { origin: string }) => s.origin === origin(a));
    expect(fox.exitCode).toBe(0);
    expect(fox.pushes).toBe(2);
  }, 120_000);

  it('an object planted under the prefix is named as an unknown key', async () => {
    await s3
      .client()
      .send(new PutObjectCommand({ Bucket: BUCKET, Key: 'stale/stores/notes.txt', Body: 'x' }));
    const v = await verifyArchive('stale', '--stale-after', '1d');
    expect(v.code).toBe(1);
    expect(JSON.parse(v.stdout).problems[0].code).toBe('ARCHIVE_UNKNOWN_KEY');
    expect(readdirSync(root).length).toBeGreaterThan(0);
  }, 60_000);
});
