/**
 * Archive figures (issue 16, section 3), against the real versitygw S3 gateway (tools/versitygw,
 * posix backend with a versioning directory, on 127.0.0.1), all in one run:
 *
 * - archive_push_vs_put_ratio: `pushStore` MB/s (sealed segments with COMPLIANCE retention,
 *   ChecksumSHA256 and If-None-Match (the existence check), plus checkpoints, key, manifest and
 *   run index) over plain PutObject of the same segment bytes to the same server (no lock, no
 *   checksum, no condition), after one warm-up round that is not counted, the arms taking turns
 *   to go first, median of the 5 per-round ratios (goal ≥ 0.8).
 *   Context (not the goal's baseline): archive_push_vs_locked_put_ratio, push MB/s over PUTs
 *   of the same bytes with what every archive PUT must carry (ChecksumSHA256, which the server
 *   checks by hashing every byte, and COMPLIANCE retention), one at a time, median of rounds;
 *   archive_push_vs_parallel_put_ratio, push MB/s over plain PUTs four in flight (the push's
 *   own concurrency), median of rounds.
 * - archive_verify_vs_sha256_ratio: `verifyArchive` bytes/s over the archive pushed above
 *   (list, fetch, SHA-256 against the manifests, the store verifier) over SHA-256 of the same
 *   segment objects read from the archive (GET, hashed as the body arrives, four in flight),
 *   as `verify_vs_sha256_ratio` compares the local verifier with reading the segment files and
 *   SHA-256 (goal ≥ 0.3); one warm-up, then the median of 3. Context:
 *   archive_verify_vs_sha256_in_memory_ratio, over SHA-256 of the bytes already in memory
 *   (what sessions 4–5 reported as the goal's figure; GET alone stays below 0.3 of it here).
 * - archive_query_ms: `archiveRuns` for one principal over 90 days on a synthetic run index of
 *   ARCHIVE_BENCH_SPANS spans (default 10,000,000) from 100 hosts pushing once a day for 90
 *   days (9,000 index objects; runs of 10 spans; 1,000 principals), built once by PUTting
 *   index objects of the exact format `pushStore` writes (the segments themselves are not
 *   made: the query reads only the index), after `compactIndexDay` rolled each day up into 16
 *   principal shards and 16 run-id shards (so the query reads 1 rollup per day, by key, and
 *   lists nothing). Median of 3 queries (goal ≤ 500). archive_query_uncompacted_ms: the same
 *   query once, before compaction (it lists every day and reads all 9,000 push indexes);
 *   archive_query_list_ms: listing every day alone (what the earlier design paid on every
 *   query); archive_trail_lookup_ms: finding one run by id (trail/explain --archive): one
 *   delimited listing and the run-id shard of every day.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  archiveKeys,
  archiveRunRecords,
  archiveRuns,
  compactIndexDay,
  type IndexedRun,
  listKeys,
  type PushIndex,
  parseArchiveUrl,
  pushStore,
  verifyArchive,
} from '@agent-audit/archive';
import { AuditStore } from '@agent-audit/store';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { median } from './bench-support.js';

type Figures = Record<string, number | string>;

const BIN = fileURLToPath(new URL('../../tools/versitygw/bin/versitygw', import.meta.url));
/** Counted rounds of the push arm, after one warm-up round. */
const ROUNDS = 5;
const STORE_MB = Number(process.env.ARCHIVE_BENCH_STORE_MB ?? 48);
const SPANS = Number(process.env.ARCHIVE_BENCH_SPANS ?? 10_000_000);
const HOSTS = 100;
const DAYS = 90;
const SPANS_PER_RUN = 10;
const PRINCIPALS = 1000;

function log(message: string): void {
  process.stderr.write(`  archive: ${message}\n`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function startServer(root: string): Promise<{ client: S3Client; stop: () => void }> {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run pnpm versitygw:build`);
  fs.mkdirSync(path.join(root, 'data'), { recursive: true });
  fs.mkdirSync(path.join(root, 'versions'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(
    BIN,
    [
      '--port',
      `127.0.0.1:${port}`,
      '--access',
      'bench',
      '--secret',
      'benchsecret',
      '--region',
      'us-east-1',
      '--quiet',
      'posix',
      '--versioning-dir',
      path.join(root, 'versions'),
      path.join(root, 'data'),
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error('versitygw did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'benchsecret' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return { client, stop: () => child.kill('SIGTERM') };
}

async function writeStore(dir: string, trustDir: string): Promise<void> {
  const store = AuditStore.open({
    dir,
    trustDir,
    segmentMaxBytes: 4 * 1024 * 1024,
    checkpointEveryRecords: 5000,
  });
  const notes = 'x'.repeat(800);
  const target = STORE_MB * 1024 * 1024;
  let written = 0;
  for (let i = 0; written < target; i++) {
    const run = `run-${Math.floor(i / 20)}`;
    const pending: Promise<unknown>[] = [];
    for (let j = 0; j < 100; j++, i++) {
      pending.push(
        store.append({
          type: 'span.end',
          tags: { run, principal: `user:${i % 50}`, span: `s${i}`, trace: run, status: 'ok' },
          payload: { i, notes },
        }),
      );
      written += 1000;
    }
    await Promise.all(pending);
  }
  await store.close();
}

function segmentBytes(dir: string): Buffer[] {
  const names = fs.readdirSync(path.join(dir, 'segments')).sort();
  return names.slice(0, -1).map((n) => fs.readFileSync(path.join(dir, 'segments', n)));
}

async function buildSyntheticIndex(client: S3Client, bucket: string): Promise<void> {
  const loc = parseArchiveUrl(`s3://${bucket}/synthetic`);
  const runsPerObject = Math.round(SPANS / SPANS_PER_RUN / (HOSTS * DAYS));
  const start = Date.now() - DAYS * 86_400_000;
  const jobs: Array<() => Promise<void>> = [];
  for (let h = 0; h < HOSTS; h++) {
    const origin = createHash('md5').update(`host-${h}`).digest('hex');
    for (let d = 0; d < DAYS; d++) {
      jobs.push(async () => {
        const dayStart = start + d * 86_400_000;
        const runs: IndexedRun[] = [];
        for (let r = 0; r < runsPerObject; r++) {
          const t0 = new Date(dayStart + r * 60_000).toISOString();
          const t1 = new Date(dayStart + r * 60_000 + 5_000).toISOString();
          runs.push({
            run_id: `${origin.slice(0, 8)}-${d}-${r}`,
            principal: `user:${(h * 7919 + d * 104_729 + r * 31) % PRINCIPALS}`,
            agent_id: `agent-${h % 10}`,
            start: t0,
            end: t1,
            status: 'ok',
            spans: SPANS_PER_RUN,
            incomplete: false,
            // A run part as a push writes it (index format 2): its workflow span ended here.
            workflow_status: 'ok',
            workflow_at: t1,
            any_ended: true,
            segments: [d + 1],
          });
        }
        const index: PushIndex = {
          format: 'agent-audit-archive-index/2',
          origin,
          push: d + 1,
          host: `host-${h}`,
          firstTime: runs[0]!.start,
          lastTime: runs.at(-1)!.end,
          runs,
        };
        const key = archiveKeys.index(loc, runs.at(-1)!.end.slice(0, 10), origin, d + 1);
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(index) }),
        );
      });
    }
  }
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < jobs.length) {
        await jobs[next++]!();
        if (++done % 1000 === 0) log(`synthetic index: ${done}/${jobs.length} objects`);
      }
    }),
  );
}

export async function runArchiveBench(): Promise<Figures> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-audit-archive-bench-'));
  const server = await startServer(path.join(root, 's3'));
  try {
    const { client } = server;
    const bucket = 'bench';
    await client.send(
      new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }),
    );
    const dir = path.join(root, 'store');
    const trustDir = path.join(root, 'trust');
    log(`writing a ${STORE_MB} MB store (4 MiB segments)…`);
    await writeStore(dir, trustDir);
    const segs = segmentBytes(dir);
    const bytes = segs.reduce((n, b) => n + b.length, 0);
    log(`${segs.length} sealed segments, ${(bytes / 1048576).toFixed(1)} MB`);
    const ratios: number[] = [];
    const lockedRatios: number[] = [];
    const parallelRatios: number[] = [];
    let pushMBs = 0;
    let putMBs = 0;
    const pushArm = async (round: number) => {
      const t0 = performance.now();
      await pushStore({
        client,
        location: parseArchiveUrl(`s3://${bucket}/push-${round}`),
        store: dir,
        trustDir,
        retainDays: 1,
      });
      return performance.now() - t0;
    };
    const putArm = async (round: number) => {
      const t1 = performance.now();
      for (const [i, body] of segs.entries()) {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: `put-${round}/${i}`, Body: body }),
        );
      }
      return performance.now() - t1;
    };
    // Context, not the goal's baseline: plain PUTs four in flight, as the push sends segments.
    const parallelPutArm = async (round: number) => {
      const t = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < segs.length) {
            const i = next++;
            await client.send(
              new PutObjectCommand({ Bucket: bucket, Key: `put4-${round}/${i}`, Body: segs[i] }),
            );
          }
        }),
      );
      return performance.now() - t;
    };
    // The PUTs the push must make (context, not the goal's baseline): the same bytes with
    // the SHA-256 checksum the server checks and COMPLIANCE retention, one at a time.
    const lockedArm = async (round: number) => {
      const t2 = performance.now();
      const until = new Date(Date.now() + 86_400_000);
      for (const [i, body] of segs.entries()) {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `locked-${round}/${i}`,
            Body: body,
            ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
            ObjectLockMode: 'COMPLIANCE',
            ObjectLockRetainUntilDate: until,
          }),
        );
      }
      return performance.now() - t2;
    };
    // Round 0 warms both arms up (JIT, connections, the push's reader thread) and is not
    // counted; then the arms alternate which goes first, so that neither always runs in the
    // other's wake (the page cache writing back the previous arm's 48 MB).
    for (let round = 0; round <= ROUNDS; round++) {
      let pushMs: number;
      let putMs: number;
      if (round % 2 === 0) {
        pushMs = await pushArm(round);
        putMs = await putArm(round);
      } else {
        putMs = await putArm(round);
        pushMs = await pushArm(round);
      }
      const lockedMs = await lockedArm(round);
      const parallelMs = await parallelPutArm(round);
      const label = round === 0 ? 'warm-up (not counted)' : `round ${round}`;
      log(
        `${label}: push ${(bytes / 1048576 / (pushMs / 1000)).toFixed(1)} MB/s, plain PUT ${(bytes / 1048576 / (putMs / 1000)).toFixed(1)} MB/s, checksummed locked PUT ${(bytes / 1048576 / (lockedMs / 1000)).toFixed(1)} MB/s, plain PUT 4 in flight ${(bytes / 1048576 / (parallelMs / 1000)).toFixed(1)} MB/s`,
      );
      if (round === 0) continue;
      parallelRatios.push(parallelMs / pushMs);
      pushMBs = bytes / 1048576 / (pushMs / 1000);
      putMBs = bytes / 1048576 / (putMs / 1000);
      ratios.push(pushMBs / putMBs);
      lockedRatios.push(lockedMs / pushMs);
    }
    // verify --archive over one pushed copy, against SHA-256 of the same segment objects as
    // they are read from the archive (GET, hashed as the body arrives, four in flight as verify
    // fetches them): the archive's counterpart of verify_vs_sha256_ratio, whose baseline reads
    // the segment files. SHA-256 of the bytes already in memory is reported beside it.
    const segKeys = (await listKeys(client, bucket, `push-0/stores/`)).filter((k) =>
      /\/segments\/\d{8}\.jsonl$/.test(k),
    );
    const verifyOnce = async () => {
      const v0 = performance.now();
      const report = await verifyArchive({
        client,
        location: parseArchiveUrl(`s3://${bucket}/push-0`),
      });
      if (report.exitCode !== 0)
        throw new Error(
          `bench archive did not verify: ${JSON.stringify(report.stores[0]?.problems)}`,
        );
      return performance.now() - v0;
    };
    const getShaOnce = async () => {
      const g0 = performance.now();
      let nextGet = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (nextGet < segKeys.length) {
            const res = await client.send(
              new GetObjectCommand({ Bucket: bucket, Key: segKeys[nextGet++]! }),
            );
            const hash = createHash('sha256');
            for await (const chunk of res.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
            hash.digest();
          }
        }),
      );
      return performance.now() - g0;
    };
    const shaOnce = () => {
      const h0 = performance.now();
      for (const b of segs) createHash('sha256').update(b).digest();
      return performance.now() - h0;
    };
    // One warm-up of each (not counted), then three rounds; medians.
    const verifyRuns: number[] = [];
    const getShaRuns: number[] = [];
    const shaRuns: number[] = [];
    for (let round = 0; round <= 3; round++) {
      const v = await verifyOnce();
      const g = await getShaOnce();
      const h = shaOnce();
      if (round === 0) continue;
      verifyRuns.push(v);
      getShaRuns.push(g);
      shaRuns.push(h);
    }
    const verifyMs = median(verifyRuns);
    const getShaMs = median(getShaRuns);
    const shaMs = median(shaRuns);
    const mbs = (ms: number) => (bytes / 1048576 / (ms / 1000)).toFixed(1);
    log(
      `verify --archive ${mbs(verifyMs)} MB/s, GET + sha256 ${mbs(getShaMs)} MB/s, sha256 in memory ${mbs(shaMs)} MB/s (${segKeys.length} objects, medians of 3)`,
    );
    log(`building the synthetic index: ${SPANS} spans, ${HOSTS} hosts × ${DAYS} days…`);
    const b0 = performance.now();
    await buildSyntheticIndex(client, bucket);
    log(`built in ${((performance.now() - b0) / 1000).toFixed(1)} s`);
    const query = () =>
      archiveRuns({
        client,
        location: parseArchiveUrl(`s3://${bucket}/synthetic`),
        filter: { principal: 'user:42', since: new Date(Date.now() - 90 * 86_400_000) },
      });
    const r0 = performance.now();
    const raw = await query();
    const rawMs = performance.now() - r0;
    log(
      `query before compaction: ${raw.runs.length} runs from ${raw.indexObjects} objects in ${Math.round(rawMs)} ms`,
    );
    const c0 = performance.now();
    const loc = parseArchiveUrl(`s3://${bucket}/synthetic`);
    let day = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (day <= DAYS + 1) {
          const d = new Date(Date.now() - day++ * 86_400_000).toISOString().slice(0, 10);
          await compactIndexDay({ client, location: loc, day: d, retainDays: 1 });
        }
      }),
    );
    const compactS = (performance.now() - c0) / 1000;
    log(`compacted ${DAYS} days in ${compactS.toFixed(1)} s`);
    // What one day of the index weighs: its push indexes and its 32 rollup shards.
    const mid = new Date(Date.now() - 45 * 86_400_000).toISOString().slice(0, 10);
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `synthetic/index/${mid}/` }),
    );
    const sizes = (re: RegExp) =>
      (listed.Contents ?? []).filter((o) => re.test(o.Key!)).map((o) => o.Size ?? 0);
    const pushSizes = sizes(/\/[0-9a-f]{32}-\d{8}\.json$/);
    const principalSizes = sizes(/\/rollup\/\d{2}\.json$/);
    const runSizes = sizes(/\/rollup\/run-\d{2}\.json$/);
    const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / (xs.length || 1));
    log(
      `one day (${mid}): ${pushSizes.length} push indexes of ${avg(pushSizes)} B on average, 16 principal shards of ${avg(principalSizes)} B, 16 run-id shards of ${avg(runSizes)} B`,
    );
    const queryMs: number[] = [];
    let found = 0;
    let objects = 0;
    for (let q = 0; q < 3; q++) {
      const t = performance.now();
      const res = await query();
      queryMs.push(performance.now() - t);
      found = res.runs.length;
      objects = res.indexObjects;
    }
    log(`query: ${found} runs of user:42 from ${objects} index objects`);
    // trail --archive's lookup of one run by id: the run-id shard of every day (the synthetic
    // archive has no segments, so the one segment it names is reported missing).
    const runsPerObject = Math.round(SPANS / SPANS_PER_RUN / (HOSTS * DAYS));
    const runId = `${createHash('md5').update('host-7').digest('hex').slice(0, 8)}-45-${Math.min(3, runsPerObject - 1)}`;
    const lookupMs: number[] = [];
    for (let q = 0; q < 3; q++) {
      const t = performance.now();
      const res = await archiveRunRecords({ client, location: loc, runId });
      lookupMs.push(performance.now() - t);
      if (res.stores.length !== 1) throw new Error(`run ${runId} not found in the index`);
    }
    log(`trail --archive lookup of one run id: ${Math.round(median(lookupMs))} ms`);
    // What listing every day costs (the earlier design listed each day the query spans, 16 at
    // a time; the query now reads each rolled-up day by key and lists none of them).
    const l0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next <= DAYS + 1) {
          const day = new Date(Date.now() - next++ * 86_400_000).toISOString().slice(0, 10);
          await listKeys(client, bucket, `synthetic/index/${day}/`);
        }
      }),
    );
    const listMs = performance.now() - l0;
    log(`listing the ${DAYS + 2} days alone: ${Math.round(listMs)} ms`);
    return {
      archive_push_mb_per_s: Number(pushMBs.toFixed(1)),
      archive_put_mb_per_s: Number(putMBs.toFixed(1)),
      archive_push_vs_put_ratio: Number(median(ratios).toFixed(3)),
      archive_verify_vs_sha256_ratio: Number((getShaMs / verifyMs).toFixed(3)),
      archive_verify_vs_sha256_in_memory_ratio: Number((shaMs / verifyMs).toFixed(3)),
      archive_verify_mb_per_s: Number(mbs(verifyMs)),
      archive_get_sha256_mb_per_s: Number(mbs(getShaMs)),
      archive_push_vs_locked_put_ratio: Number(median(lockedRatios).toFixed(3)),
      archive_push_vs_parallel_put_ratio: Number(median(parallelRatios).toFixed(3)),
      archive_query_ms: Math.round(median(queryMs)),
      ...(Number.isNaN(rawMs) ? {} : { archive_query_uncompacted_ms: Math.round(rawMs) }),
      archive_compact_s: Number(compactS.toFixed(1)),
      archive_query_list_ms: Math.round(listMs),
      archive_trail_lookup_ms: Math.round(median(lookupMs)),
      archive_index_push_object_bytes: avg(pushSizes),
      archive_index_principal_shard_bytes: avg(principalSizes),
      archive_index_run_shard_bytes: avg(runSizes),
      archive_query_runs: found,
      archive_query_index_objects: objects,
      archive_query_spans: SPANS,
    };
  } finally {
    server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
