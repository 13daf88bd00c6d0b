import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/jaeger.js';
import { type NodeRun, runNode } from '../support/run-node.js';
import { useLockedBucket, type VersitygwInstance } from '../support/versitygw.js';

const CLI = join(REPO_ROOT, 'packages/cli/dist/bin.js');
const AGENT = join(REPO_ROOT, 'test/integration/fixtures/archive-sdk-agent.mjs');
const BUCKET = 'trail-audit';
const ARCHIVE = `s3://${BUCKET}/fleet`;

let s3: VersitygwInstance;
let root: string;

function run(args: string[]): Promise<NodeRun> {
  return runNode(args, { cwd: root, env: { PATH: process.env.PATH, HOME: root, ...s3.env } });
}

interface Host {
  name: string;
  store: string;
  trust: string;
}

const host = (name: string): Host => ({
  name,
  store: join(root, name, 'store'),
  trust: join(root, name, 'trust'),
});

/** The host's agent: a root run (no caller) or a sub-agent continuing `caller`'s headers. */
async function agent(h: Host, caller: string | null): Promise<string> {
  const out = await run([
    AGENT,
    h.store,
    h.trust,
    h.name,
    caller ?? '-',
    join(root, `${h.name}.headers.json`),
  ]);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout).runId;
}

function push(h: Host): Promise<NodeRun> {
  return run([
    CLI,
    '--store',
    h.store,
    'archive',
    'push',
    '--to',
    ARCHIVE,
    '--trust-dir',
    h.trust,
    '--retain-days',
    '1',
  ]);
}

async function json(args: string[]): Promise<unknown> {
  const out = await run([CLI, '--json', ...args]);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout);
}

useLockedBucket(BUCKET, 'agent-audit-archive-trail-', (server, dir) => {
  s3 = server;
  root = dir;
});

describe('trail and explain --archive (real versitygw, Object Lock)', () => {
  const hosts = ['alpha', 'bravo', 'charlie'].map((n) => ({ name: n }) as Host);
  let runId: string;
  let localTrail: { run_id: string; source: string; spans: Array<Record<string, unknown>> };
  let localExplain: unknown;

  it('a run across three hosts, pushed at once, hosts deleted: trail/explain --archive print what the local stores gave', async () => {
    for (const h of hosts) Object.assign(h, host(h.name));
    runId = await agent(hosts[0]!, null);
    expect(await agent(hosts[1]!, join(root, 'alpha.headers.json'))).toBe(runId);
    expect(await agent(hosts[2]!, join(root, 'bravo.headers.json'))).toBe(runId);
    const stores = hosts.flatMap((h) => ['--store', h.store]);
    localTrail = (await json([...stores, 'trail', runId])) as typeof localTrail;
    localExplain = await json([...stores, 'explain', runId]);
    // The run really crosses the hosts: each host's sub-agent sits under its caller's tool call.
    expect(new Set(localTrail.spans.map((s) => s.store)).size).toBe(3);
    const byName = (name: string) => localTrail.spans.find((s) => s.name === name)!;
    expect(byName('invoke_agent bravo').depth).toBe(2);
    expect(byName('invoke_agent charlie').depth).toBe(4);
    expect(byName('invoke_agent charlie').parent_span_id).toBe(
      localTrail.spans.find((s) => s.service === 'bravo' && s.tool === 'delegate')!.span_id,
    );

    const pushes = await Promise.all(hosts.map(push));
    for (const p of pushes) expect(p.code, p.stderr).toBe(0);
    for (const h of hosts) rmSync(join(root, h.name), { recursive: true, force: true });

    const trail = (await json(['trail', runId, '--archive', ARCHIVE])) as typeof localTrail;
    expect(trail.source).toBe('archive');
    expect({ ...trail, source: 'store' }).toEqual(localTrail);
    expect(await json(['explain', runId, '--archive', ARCHIVE])).toEqual(localExplain);
    // The human timeline too, with the sub-agents indented under their callers.
    const text = await run([CLI, 'trail', runId, '--archive', ARCHIVE, '--wide']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('spans from the archive, 3 stores');
    expect(text.stdout).toMatch(/\n\S+ +\S+ +\S+ +\S+ + {8}invoke_agent charlie/);
  }, 180_000);

  it('after the day is rolled up, the same answer from its run-id shard; a push after the rollup is still found', async () => {
    const compact = await run([
      CLI,
      '--json',
      'archive',
      'compact',
      '--to',
      ARCHIVE,
      '--today',
      '--days',
      '1',
      '--retain-days',
      '1',
    ]);
    expect(compact.code, compact.stderr).toBe(0);
    expect(JSON.parse(compact.stdout)[0]).toMatchObject({ covered: 3, written: true });
    const keys = await s3
      .client()
      .send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'fleet/index/' }));
    expect(keys.Contents!.filter((o) => /rollup\/run-\d{2}\.json$/.test(o.Key!))).toHaveLength(16);
    const trail = (await json(['trail', runId, '--archive', ARCHIVE])) as typeof localTrail;
    expect({ ...trail, source: 'store' }).toEqual(localTrail);
    expect(await json(['explain', runId, '--archive', ARCHIVE])).toEqual(localExplain);

    // A host pushes after today's rollup: its index cannot join the rollup, so it is filed
    // under the next day, where runs and trail --archive still find it.
    const delta = host('delta');
    const late = await agent(delta, null);
    expect((await push(delta)).code).toBe(0);
    const after = await s3
      .client()
      .send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'fleet/index/' }));
    const today = new Date().toISOString().slice(0, 10);
    const lateKeys = after
      .Contents!.map((o) => o.Key!)
      .filter((k) => /\/[0-9a-f]{32}-\d{8}\.json$/.test(k));
    expect(lateKeys.filter((k) => !k.includes(`/${today}/`)).length).toBeGreaterThan(0);
    const runs = (await json([
      'runs',
      '--principal',
      'user:fleet-trail',
      '--since',
      '1d',
      '--archive',
      ARCHIVE,
    ])) as Array<{ run_id: string }>;
    expect(runs.map((r) => r.run_id).sort()).toEqual([runId, late].sort());
    const lateTrail = (await json(['trail', late, '--archive', ARCHIVE])) as typeof localTrail;
    expect(lateTrail.spans.map((s) => s.name)).toContain('invoke_agent delta');

    // A push index that lands under today after its rollup without moving itself (a pusher
    // racing the compaction): the next compaction's second listing moves it forward.
    const client = s3.client();
    const lateKey = lateKeys.find((k) => !k.includes(`/${today}/`))!;
    const index = JSON.parse(
      await (
        await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: lateKey }))
      ).Body!.transformToString(),
    );
    const racer = 'f'.repeat(32);
    const raced = {
      ...index,
      origin: racer,
      runs: index.runs.map((r: { run_id: string }) => ({ ...r, run_id: `${r.run_id}-raced` })),
    };
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `fleet/index/${today}/${racer}-${String(index.push).padStart(8, '0')}.json`,
        Body: JSON.stringify(raced),
      }),
    );
    const hidden = (await json([
      'runs',
      '--principal',
      'user:fleet-trail',
      '--since',
      '1d',
      '--archive',
      ARCHIVE,
    ])) as Array<{ run_id: string }>;
    expect(hidden.map((r) => r.run_id)).not.toContain(`${late}-raced`);
    const again = await run([
      CLI,
      'archive',
      'compact',
      '--to',
      ARCHIVE,
      '--today',
      '--days',
      '1',
      '--retain-days',
      '1',
    ]);
    expect(again.code, again.stderr).toBe(0);
    // Two: the racer's, and delta's first copy under today (delta already moved itself; moving
    // it again writes the same bytes under the same key, and the query counts it once).
    expect(again.stdout).toMatch(/2 written meanwhile moved to the next day/);
    const found = (await json([
      'runs',
      '--principal',
      'user:fleet-trail',
      '--since',
      '1d',
      '--archive',
      ARCHIVE,
    ])) as Array<{ run_id: string }>;
    expect(found.map((r) => r.run_id).sort()).toEqual([runId, late, `${late}-raced`].sort());
  }, 120_000);

  it('a segment overwritten in the bucket is read at its pushed version, and named', async () => {
    const origin = (
      await s3.client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'fleet/stores/' }))
    )
      .Contents!.map((o) => o.Key!)
      .filter((k) => k.endsWith('/segments/00000001.jsonl'))
      .map((k) => k.split('/')[2]!);
    // Overwrite every host's first segment with a forged copy (a plain PUT adds a version).
    for (const o of origin) {
      await s3.client().send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `fleet/stores/${o}/segments/00000001.jsonl`,
          Body: 'forged\n',
        }),
      );
    }
    const out = await run([CLI, '--json', 'trail', runId, '--archive', ARCHIVE]);
    expect(out.code, out.stderr).toBe(0);
    expect({ ...JSON.parse(out.stdout), source: 'store' }).toEqual(localTrail);
    expect(out.stderr).toMatch(/segments\/00000001\.jsonl has 2 versions: it was overwritten/);
  }, 60_000);

  it('a run the archive does not hold: exit 4, naming the archive', async () => {
    const out = await run([CLI, 'trail', 'no-such-run', '--archive', ARCHIVE]);
    expect(out.code).toBe(4);
    expect(out.stderr).toContain(`in the archive ${ARCHIVE}/`);
    const both = await run([
      CLI,
      'trail',
      runId,
      '--archive',
      ARCHIVE,
      '--jaeger',
      'http://127.0.0.1:9',
    ]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('--archive and --jaeger cannot be used together');
    const bad = await run([CLI, 'explain', runId, '--archive', 'not-s3']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Configuration: archive is invalid/);
  }, 60_000);
});
