import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { archiveRunRecords, parseArchiveUrl, pushStore } from '../../packages/archive/src/index.js';
import { REPO_ROOT } from '../support/jaeger.js';
import { type NodeRun, runNode } from '../support/run-node.js';
import { useLockedBucket, type VersitygwInstance } from '../support/versitygw.js';

const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const AGENT = join(REPO_ROOT, 'test/integration/fixtures/archive-agent.mjs');
const BUCKET = 'reindex-audit';

let s3: VersitygwInstance;
let root: string;

function run(args: string[]): Promise<NodeRun> {
  return runNode(args, { cwd: root, env: { PATH: process.env.PATH, HOME: root, ...s3.env } });
}

interface Host {
  name: string;
  store: string;
  trust: string;
  runs: string[];
}

async function agent(name: string, runs = 4): Promise<Host> {
  const host = { name, store: join(root, name, 'store'), trust: join(root, name, 'trust') };
  const out = await run([AGENT, host.store, host.trust, name, String(runs)]);
  expect(out.code, out.stderr).toBe(0);
  return { ...host, runs: JSON.parse(out.stdout).runs };
}

/** A client whose PUTs of run index objects fail, as a network fault after the manifest. */
function failingIndexClient(prefix: string): S3Client {
  const client = s3.client();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const key = String((args.input as { Key?: string }).Key ?? '');
      if (context.commandName === 'PutObjectCommand' && key.startsWith(`${prefix}/index/`)) {
        throw Object.assign(new Error(`injected: PUT ${key} failed`), { name: 'InjectedFault' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'failIndexPut' },
  );
  return client;
}

/** Push with the index PUT failing: the manifest is written, the push fails at its index. */
async function pushWithoutIndex(host: Host, prefix: string): Promise<void> {
  await expect(
    pushStore({
      client: failingIndexClient(prefix),
      location: parseArchiveUrl(`s3://${BUCKET}/${prefix}`),
      store: host.store,
      trustDir: host.trust,
      retainDays: 1,
    }),
  ).rejects.toThrow(
    /writing s3:\/\/.*\/index\/.*injected: PUT .*: run agent-audit archive reindex --archive s3:\/\//,
  );
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

async function archivedRunIds(prefix: string): Promise<string[]> {
  const out = await run([CLI, '--json', 'runs', '--archive', `s3://${BUCKET}/${prefix}`]);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout)
    .map((r: { run_id: string }) => r.run_id)
    .sort();
}

function reindex(prefix: string, ...extra: string[]): Promise<NodeRun> {
  return run([
    CLI,
    '--json',
    'archive',
    'reindex',
    '--archive',
    `s3://${BUCKET}/${prefix}`,
    ...extra,
  ]);
}

function origin(host: Host): string {
  const first = readFileSync(join(host.store, 'segments', '00000001.jsonl'), 'utf8').split(
    '\n',
  )[0]!;
  return JSON.parse(first).payload.origin;
}

async function keys(prefix: string): Promise<string[]> {
  const res = await s3
    .client()
    .send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
  return (res.Contents ?? []).map((o) => o.Key!).sort();
}

/** A wrong index for push 1 of a host (a run its segments do not hold), locked as a pusher's. */
async function putWrongIndex(host: Host, prefix: string, day: string): Promise<string> {
  const key = `${prefix}/index/${day}/${origin(host)}-00000001.json`;
  const now = new Date().toISOString();
  const ghost = {
    run_id: 'ghost-run',
    principal: 'user:echo',
    agent_id: 'ghost',
    start: now,
    end: now,
    status: 'ok',
    spans: 1,
    incomplete: false,
    segments: [1],
  };
  const index = {
    format: 'agent-audit-archive-index/1',
    origin: origin(host),
    push: 1,
    host: host.name,
    store: host.store,
    firstTime: now,
    lastTime: now,
    runs: [ghost],
  };
  await s3.client().send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: key,
      Body: `${JSON.stringify(index)}\n`,
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
    }),
  );
  return key;
}

useLockedBucket(BUCKET, 'agent-audit-reindex-', (server, dir) => {
  s3 = server;
  root = dir;
});

describe('archive reindex (real versitygw, Object Lock)', () => {
  let alpha: Host;
  let bravo: Host;

  it('a push whose index PUT failed is missing from runs --archive; reindex writes its index and only that', async () => {
    [alpha, bravo] = await Promise.all([agent('alpha'), agent('bravo')]);
    await pushWithoutIndex(alpha, 'fleet');
    const pushed = await push(bravo, 'fleet');
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(
      (await keys('fleet')).some((k) => k.includes(`/index/`) && k.includes(origin(alpha))),
    ).toBe(false);
    // The query misses alpha's runs: its push has a manifest but no index object.
    const before = await archivedRunIds('fleet');
    expect(before).toEqual([...bravo.runs].sort());

    const r = await reindex('fleet');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.checked).toBe(2);
    expect(summary.indexed).toBe(1);
    expect(summary.problems).toEqual([]);
    expect(summary.written).toHaveLength(1);
    expect(summary.written[0]).toMatchObject({ origin: origin(alpha), push: 1, runs: 4 });
    expect(summary.written[0].key).toMatch(
      new RegExp(
        `^s3://${BUCKET}/fleet/index/\\d{4}-\\d{2}-\\d{2}/${origin(alpha)}-00000001\\.json$`,
      ),
    );
    expect(r.stderr).toMatch(/2\/2 pushes checked/);

    expect(await archivedRunIds('fleet')).toEqual([...alpha.runs, ...bravo.runs].sort());
    // The rebuilt index is locked like every archive object.
    const head = await s3.client().send(
      new HeadObjectCommand({
        Bucket: BUCKET,
        Key: summary.written[0].key.slice(`s3://${BUCKET}/`.length),
      }),
    );
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
  }, 180_000);

  it('reindex on a healthy archive writes nothing (idempotent); archive compact then covers the rebuilt index', async () => {
    const objects = await keys('fleet');
    const again = await reindex('fleet');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      checked: 2,
      indexed: 2,
      written: [],
      problems: [],
    });
    expect(await keys('fleet')).toEqual(objects);
    // --since: only pushes made since then are checked.
    const recent = await reindex('fleet', '--since', '1d');
    expect(JSON.parse(recent.stdout)).toMatchObject({ checked: 2, written: [] });
    const none = await reindex('fleet', '--since', '2099-01-01');
    expect(JSON.parse(none.stdout)).toMatchObject({ checked: 0, written: [], problems: [] });
    const bad = await reindex('fleet', '--since', 'yesterday');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid --since value "yesterday"/);
    const badUrl = await run([CLI, 'archive', 'reindex', '--archive', 'http://x/']);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toMatch(/Configuration: archive is invalid/);

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
    expect(compact.stdout).toMatch(/2 push index\(es\), 8 run\(s\) rolled up/);
    expect(await archivedRunIds('fleet')).toEqual([...alpha.runs, ...bravo.runs].sort());
    const one = await run([
      CLI,
      '--json',
      'runs',
      '--principal',
      'user:alpha',
      '--since',
      '1d',
      '--archive',
      `s3://${BUCKET}/fleet`,
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(
      JSON.parse(one.stdout)
        .map((r: { run_id: string }) => r.run_id)
        .sort(),
    ).toEqual(alpha.runs.slice(1).sort());
  }, 120_000);

  it('a segment overwritten in the bucket after the push: reindex reads the version the manifest names', async () => {
    const charlie = await agent('charlie');
    await pushWithoutIndex(charlie, 'overwritten');
    const key = `overwritten/stores/${origin(charlie)}/segments/00000001.jsonl`;
    const original = readFileSync(join(charlie.store, 'segments', '00000001.jsonl'), 'utf8');
    const forged = original.replaceAll(charlie.runs[0]!, 'forged-run');
    expect(forged).not.toBe(original);
    await s3.client().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: forged }));
    const r = await reindex('overwritten');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).written).toHaveLength(1);
    const ids = await archivedRunIds('overwritten');
    expect(ids).toEqual([...charlie.runs].sort());
    expect(ids).not.toContain('forged-run');
  }, 120_000);

  it('a segment whose stored bytes no longer match the manifest digest is reported by key and not indexed', async () => {
    const delta = await agent('delta');
    await pushWithoutIndex(delta, 'tampered');
    const key = `tampered/stores/${origin(delta)}/segments/00000002.jsonl`;
    // Tampering below the S3 API (the gateway's own files): the version the manifest names
    // now holds other bytes.
    const file = join(s3.dataDir, BUCKET, key);
    const size = statSync(file).size;
    const bytes = readFileSync(file, 'utf8');
    const changed = bytes.replace(/"step":\d/, '"step":9');
    expect(changed).not.toBe(bytes);
    expect(changed.length).toBe(size);
    writeFileSync(file, changed);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await reindex('tampered');
      expect(r.code, r.stdout).toBe(1);
      const summary = JSON.parse(r.stdout);
      expect(summary.written).toEqual([]);
      expect(summary.problems).toHaveLength(1);
      expect(summary.problems[0]).toMatchObject({
        code: 'segment-digest',
        origin: origin(delta),
        push: 1,
      });
      expect(summary.problems[0].object).toContain(`s3://${BUCKET}/${key}`);
      expect(r.stderr).toContain(`s3://${BUCKET}/${key}`);
      expect(r.stderr).toMatch(/verify --archive/);
      expect(await archivedRunIds('tampered')).toEqual([]);
    }
    expect(readdirSync(join(s3.dataDir, BUCKET, 'tampered'))).not.toContain('index');
  }, 120_000);

  it('an index that differs from its segments is reported and superseded by a revision that runs --archive and compact prefer', async () => {
    const echo = await agent('echo');
    await pushWithoutIndex(echo, 'wrong');
    // A wrong index for the push (as a buggy pusher would write it), locked, then rolled up.
    const today = new Date().toISOString().slice(0, 10);
    const wrongKey = await putWrongIndex(echo, 'wrong', today);
    const compact = () =>
      run([
        CLI,
        'archive',
        'compact',
        '--to',
        `s3://${BUCKET}/wrong`,
        '--today',
        '--days',
        '1',
        '--retain-days',
        '1',
      ]);
    expect((await compact()).code).toBe(0);
    expect(await archivedRunIds('wrong')).toEqual(['ghost-run']);

    const r = await reindex('wrong');
    expect(r.code, r.stderr).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.problems).toHaveLength(1);
    expect(summary.problems[0]).toMatchObject({
      code: 'index-mismatch',
      object: `s3://${BUCKET}/${wrongKey}`,
    });
    expect(r.stderr).toContain(`s3://${BUCKET}/${wrongKey}`);
    expect(summary.written).toHaveLength(1);
    expect(summary.written[0].key).toMatch(new RegExp(`/${origin(echo)}-00000001-r01\\.json$`));
    expect(summary.written[0].corrects).toBe(`s3://${BUCKET}/${wrongKey}`);
    // Today is rolled up: the revision is filed under a later day, where queries find it.
    expect(summary.written[0].key).not.toContain(`/${today}/`);
    expect(await archivedRunIds('wrong')).toEqual([...echo.runs].sort());
    const mine = await run([
      CLI,
      '--json',
      'runs',
      '--principal',
      'user:echo',
      '--since',
      '1d',
      '--archive',
      `s3://${BUCKET}/wrong`,
    ]);
    expect(
      JSON.parse(mine.stdout)
        .map((x: { run_id: string }) => x.run_id)
        .sort(),
    ).toEqual(echo.runs.slice(1).sort());
    // The run-id lookup (what trail/explain --archive read) finds its records through the
    // revision too. (The fixture's records are not OTel spans, so the library is asked.)
    const records = await archiveRunRecords({
      client: s3.client(),
      location: parseArchiveUrl(`s3://${BUCKET}/wrong`),
      runId: echo.runs[1]!,
    });
    expect(records.records).toHaveLength(8);
    expect(records.stores.map((x) => x.origin)).toEqual([origin(echo)]);
    // Healthy now: a second reindex writes nothing and exits 0; verify --archive is clean.
    const again = await reindex('wrong');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      checked: 1,
      indexed: 1,
      written: [],
      problems: [],
    });
    const verify = await run([CLI, '--json', 'verify', '--archive', `s3://${BUCKET}/wrong`]);
    expect(verify.code, verify.stdout).toBe(0);
  }, 120_000);

  it('a wrong index and its revision in one day: the query and the rollup take the revision only', async () => {
    const foxtrot = await agent('foxtrot');
    await pushWithoutIndex(foxtrot, 'same-day');
    const today = new Date().toISOString().slice(0, 10);
    const wrongKey = await putWrongIndex(foxtrot, 'same-day', today);
    expect(await archivedRunIds('same-day')).toEqual(['ghost-run']);
    const r = await reindex('same-day');
    expect(r.code, r.stderr).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.problems.map((p: { object: string }) => p.object)).toEqual([
      `s3://${BUCKET}/${wrongKey}`,
    ]);
    expect(summary.written[0].key).toBe(
      `s3://${BUCKET}/same-day/index/${today}/${origin(foxtrot)}-00000001-r01.json`,
    );
    expect(await archivedRunIds('same-day')).toEqual([...foxtrot.runs].sort());
    const compact = await run([
      CLI,
      'archive',
      'compact',
      '--to',
      `s3://${BUCKET}/same-day`,
      '--today',
      '--days',
      '1',
      '--retain-days',
      '1',
    ]);
    expect(compact.code, compact.stderr).toBe(0);
    // Both objects are covered; only the revision's runs are rolled up.
    expect(compact.stdout).toMatch(/2 push index\(es\), 4 run\(s\) rolled up/);
    expect(await archivedRunIds('same-day')).toEqual([...foxtrot.runs].sort());
    const again = await reindex('same-day');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ indexed: 1, written: [], problems: [] });
  }, 120_000);

  it('an index object hidden by a delete marker (a delete without a version): reindex makes its runs found again', async () => {
    const golf = await agent('golf');
    const pushed = await push(golf, 'deleted');
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(await archivedRunIds('deleted')).toEqual([...golf.runs].sort());
    const indexKey = (await keys('deleted')).find((k) => k.includes('/index/'))!;
    await s3.client().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: indexKey }));
    expect(await archivedRunIds('deleted')).toEqual([]);
    const r = await reindex('deleted');
    expect(r.code, r.stderr).toBe(0);
    const written = JSON.parse(r.stdout).written;
    expect(written).toHaveLength(1);
    // The hidden key's locked version still refuses If-None-Match: the next revision is written.
    expect(written[0].key).toBe(`s3://${BUCKET}/${indexKey.replace(/\.json$/, '-r01.json')}`);
    expect(await archivedRunIds('deleted')).toEqual([...golf.runs].sort());
    const again = await reindex('deleted');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ indexed: 1, written: [], problems: [] });
  }, 120_000);

  it('an index an earlier pusher wrote (format 1) listing the right runs is rewritten in the current format, not reported', async () => {
    const golf = await agent('golf');
    // The reference: the same store pushed by this pusher, under another prefix.
    expect((await push(golf, 'current')).code).toBe(0);
    const currentKey = (await keys('current')).find((k) => k.includes('/index/'))!;
    const current = JSON.parse(
      (await (
        await s3.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: currentKey }))
      ).Body!.transformToString()) as string,
    );
    expect(current.format).toBe('agent-audit-archive-index/2');
    // What an earlier pusher wrote for it: summaries only, and a run it took for incomplete
    // (its status was the first segment's).
    await pushWithoutIndex(golf, 'earlier');
    const day = currentKey.split('/')[2]!;
    const earlierRuns = current.runs.map(
      (
        {
          open: _o,
          closes: _c,
          workflow_status: _w,
          workflow_at: _t,
          any_ended: _a,
          ...r
        }: Record<string, unknown>,
        i: number,
      ) => (i === 0 ? { ...r, status: 'incomplete', incomplete: true } : r),
    );
    await s3.client().send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `earlier/index/${day}/${origin(golf)}-00000001.json`,
        Body: `${JSON.stringify({ ...current, format: 'agent-audit-archive-index/1', runs: earlierRuns })}\n`,
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
      }),
    );
    const runsOf = async (prefix: string) => {
      const out = await run([CLI, '--json', 'runs', '--archive', `s3://${BUCKET}/${prefix}`]);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout).map(({ stores: _s, ...r }: Record<string, unknown>) => r);
    };
    // Read as it is until rewritten: its incomplete run stays incomplete.
    const before = await runsOf('earlier');
    expect(before.find((r: { run_id: string }) => r.run_id === earlierRuns[0].run_id).status).toBe(
      'incomplete',
    );
    const r = await reindex('earlier');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.problems).toEqual([]);
    expect(summary.written).toHaveLength(1);
    expect(summary.written[0].upgrades).toMatch(/-00000001\.json$/);
    expect(summary.written[0].key).toMatch(/-00000001-r01\.json$/);
    expect(await runsOf('earlier')).toEqual(await runsOf('current'));
    // A format-1 index whose runs are not the segments' is still a mismatch (a ghost run).
    const ghostKey = await putWrongIndex(golf, 'ghost', day);
    await pushWithoutIndex(golf, 'ghost');
    const g = await reindex('ghost');
    expect(JSON.parse(g.stdout).problems).toMatchObject([
      { code: 'index-mismatch', object: `s3://${BUCKET}/${ghostKey}` },
    ]);
  }, 180_000);
});
