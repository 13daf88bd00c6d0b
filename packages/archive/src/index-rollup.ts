import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { archiveKeys, parseKey } from './archive-keys.js';
import type { ArchiveLocation } from './archive-location.js';
import type { IndexedRun, PushIndex } from './push-manifest.js';
import { exists, getBytes, isNotFound, putLocked } from './s3-objects.js';

/** Principal (and run-id) shards of a day's rollup: a query reads one of them. */
export const ROLLUP_SHARDS = 16;
export const ROLLUP_FORMAT = 'agent-audit-archive-rollup/1';
export const RUN_ROLLUP_FORMAT = 'agent-audit-archive-run-rollup/1';
/** Days a push index is moved forward at most, looking for a day not rolled up yet. */
const REFILE_DAYS = 400;

/** A run in a rollup: where its records are, and which push index it came from. */
export type RolledRun = IndexedRun & { origin: string; host: string; push: number; store?: string };

/** Where a run's records are, as the run-id shards of a rollup list it. */
export interface RunLocation {
  run_id: string;
  origin: string;
  host: string;
  push: number;
  store?: string;
  segments: number[];
}

/**
 * `index/<day>/rollup/<SS>.json`: the runs of principal shard SS from the push indexes it
 * covers. Once a day has a rollup the query reads it by key and no longer lists the day: a
 * push index written under that day later is moved forward (see `fileIndex`).
 */
export interface IndexRollup {
  format: typeof ROLLUP_FORMAT;
  day: string;
  shard: number;
  /** The push index keys merged in (the same for every shard of the day). */
  covers: string[];
  runs: RolledRun[];
}

/** `index/<day>/rollup/run-<SS>.json`: where the runs of run-id shard SS are. */
export interface RunRollup {
  format: typeof RUN_ROLLUP_FORMAT;
  day: string;
  shard: number;
  covers: string[];
  runs: RunLocation[];
}

function shardBy(value: string): number {
  return createHash('sha256').update(value).digest()[0]! % ROLLUP_SHARDS;
}

export function shardOf(principal: string | null): number {
  return shardBy(principal ?? '');
}

export function runShardOf(runId: string): number {
  return shardBy(`run:${runId}`);
}

export async function listKeys(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of res.Contents ?? []) keys.push(o.Key!);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** The days that have an index folder (one delimited listing per 1,000 days). */
export async function listIndexDays(client: S3Client, loc: ArchiveLocation): Promise<string[]> {
  const days: string[] = [];
  let token: string | undefined;
  do {
    const res = await client.send(
      new ListObjectsV2Command({
        Bucket: loc.bucket,
        Prefix: `${loc.prefix}index/`,
        Delimiter: '/',
        ContinuationToken: token,
      }),
    );
    for (const p of res.CommonPrefixes ?? []) {
      const day = /(\d{4}-\d{2}-\d{2})\/$/.exec(p.Prefix ?? '')?.[1];
      if (day) days.push(day);
    }
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return days.sort();
}

export async function getJson<T>(client: S3Client, bucket: string, key: string): Promise<T> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await res.Body!.transformToString()) as T;
}

/** The JSON of an object; undefined when there is none. */
export async function getJsonIfAny<T>(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<T | undefined> {
  try {
    return await getJson<T>(client, bucket, key);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Run `fn` over `items` with at most `limit` at once. */
export async function eachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The name of a push index object (any revision): `<origin>-<NNNNNNNN>[-r<RR>]`. */
function indexName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).replace(/\.json$/, '');
}

/** The identity of a push index wherever it is filed, whatever its revision: `<origin>-<NNNNNNNN>`. */
export function indexId(key: string): string {
  return indexName(key).replace(/-r\d{2}$/, '');
}

/** The revision of a push index object: 0 as the pusher writes it, 1-99 as reindex corrects it. */
export function indexRevision(key: string): number {
  const m = /-r(\d{2})$/.exec(indexName(key));
  return m ? Number(m[1]) : 0;
}

/**
 * Of push index keys (or names), those of the highest revision of each push: a revision
 * written by `archive reindex` supersedes the ones before it.
 */
export function latestRevisions(keys: string[]): string[] {
  const best = new Map<string, number>();
  for (const k of keys) {
    const id = indexId(k);
    best.set(id, Math.max(best.get(id) ?? 0, indexRevision(k)));
  }
  return keys.filter((k) => indexRevision(k) === best.get(indexId(k)));
}

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/**
 * Write a push index under `day`, or, when that day is already rolled up (a pusher whose clock
 * is behind the compactor's, or a push racing the compaction of its day), under the first later
 * day that is not: the query reads a rolled-up day from its rollup alone. Checked after the
 * write, so that either the compactor's second listing sees the index or this check sees the
 * rollup (see `compactIndexDay`). Returns the day it is filed under.
 */
export async function fileIndex(
  client: S3Client,
  loc: ArchiveLocation,
  day: string,
  index: PushIndex,
  retainUntil: Date,
  revision = 0,
): Promise<string> {
  const body = Buffer.from(`${JSON.stringify(index)}\n`);
  let at = day;
  for (let i = 0; i < REFILE_DAYS; i++, at = nextDay(at)) {
    const key = archiveKeys.index(loc, at, index.origin, index.push, revision);
    await putLocked(client, loc.bucket, key, body, retainUntil, 'application/json');
    if (!(await exists(client, loc.bucket, archiveKeys.rollup(loc, at, 0)))) return at;
  }
  throw new Error(`no day without a rollup within ${REFILE_DAYS} days after ${day}`);
}

/**
 * Merge one day's push indexes into 16 principal-sharded rollups and 16 run-id-sharded ones
 * (derived data: rebuildable from the push indexes, which are rebuildable from the segments).
 * Written once (If-None-Match). Shard 00 is written first and decides which push indexes the
 * day's rollup covers: a compactor that loses that race takes the winner's list, so every shard
 * of a day covers the same indexes. Then the day is listed again: a push index written
 * meanwhile (not covered) is moved forward to a day not rolled up yet, where the query finds it.
 */
export async function compactIndexDay(options: {
  client: S3Client;
  location: ArchiveLocation;
  day: string;
  retainDays: number;
}): Promise<{ covered: number; runs: number; written: boolean; refiled: number }> {
  const { client, location: loc, day } = options;
  const pushKeys = async () =>
    (await listKeys(client, loc.bucket, `${loc.prefix}index/${day}/`))
      .filter((k) => parseKey(loc, k).kind === 'index')
      .sort();
  let keys = await pushKeys();
  if (keys.length === 0) return { covered: 0, runs: 0, written: false, refiled: 0 };
  const retainUntil = new Date(Date.now() + options.retainDays * 86_400_000);
  const indexes = new Map<string, PushIndex>();
  const load = async (list: string[]) => {
    await eachLimited(
      list.filter((k) => !indexes.has(k)),
      32,
      async (key) => {
        indexes.set(key, await getJson<PushIndex>(client, loc.bucket, key));
      },
    );
  };
  const build = (covers: string[]) => {
    const principal: RolledRun[][] = Array.from({ length: ROLLUP_SHARDS }, () => []);
    const byRun: RunLocation[][] = Array.from({ length: ROLLUP_SHARDS }, () => []);
    // Of a push indexed twice in the day (a revision by archive reindex), the latest only.
    for (const key of latestRevisions(covers)) {
      const idx = indexes.get(key)!;
      const where = { origin: idx.origin, host: idx.host, push: idx.push };
      const store = idx.store === undefined ? {} : { store: idx.store };
      for (const r of idx.runs) {
        principal[shardOf(r.principal)]!.push({ ...r, ...where, ...store });
        byRun[runShardOf(r.run_id)]!.push({
          run_id: r.run_id,
          ...where,
          ...store,
          segments: r.segments,
        });
      }
    }
    const order = (a: { run_id: string; origin: string }, b: { run_id: string; origin: string }) =>
      a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : a.origin < b.origin ? -1 : 1;
    const body = (shard: number): Buffer =>
      Buffer.from(
        JSON.stringify({
          format: ROLLUP_FORMAT,
          day,
          shard,
          covers,
          runs: principal[shard]!.sort(order),
        } satisfies IndexRollup),
      );
    const runBody = (shard: number): Buffer =>
      Buffer.from(
        JSON.stringify({
          format: RUN_ROLLUP_FORMAT,
          day,
          shard,
          covers,
          runs: byRun[shard]!.sort(order),
        } satisfies RunRollup),
      );
    return { principal, body, runBody };
  };
  await load(keys);
  let built = build(keys);
  let written = true;
  const first = archiveKeys.rollup(loc, day, 0);
  try {
    await putLocked(client, loc.bucket, first, built.body(0), retainUntil, 'application/json');
  } catch (error) {
    if (!(error as Error).message.includes('already holds')) throw error;
    // Another compactor's shard 00 stands: the day covers what it covers.
    written = false;
    const theirs = JSON.parse(
      (await getBytes(client, loc.bucket, first))!.toString('utf8'),
    ) as IndexRollup;
    keys = theirs.covers;
    await load(keys);
    built = build(keys);
  }
  const puts: Array<{ key: string; body: () => Buffer }> = [];
  for (let s = 0; s < ROLLUP_SHARDS; s++) {
    if (s > 0) puts.push({ key: archiveKeys.rollup(loc, day, s), body: () => built.body(s) });
    puts.push({ key: archiveKeys.runRollup(loc, day, s), body: () => built.runBody(s) });
  }
  await eachLimited(puts, 8, async ({ key, body }) => {
    try {
      await putLocked(client, loc.bucket, key, body(), retainUntil, 'application/json');
    } catch (error) {
      // Only a rollup written from another covers list differs; shard 00 rules that out
      // except for rollups written by an older version: theirs stand.
      if (!(error as Error).message.includes('already holds')) throw error;
    }
  });
  // Push indexes written under this day after its listing: move them forward.
  const covered = new Set(keys);
  const late = (await pushKeys()).filter((k) => !covered.has(k));
  for (const key of late) {
    const idx = await getJson<PushIndex>(client, loc.bucket, key);
    await fileIndex(client, loc, nextDay(day), idx, retainUntil, indexRevision(key));
  }
  const runs = built.principal.reduce((n, list) => n + list.length, 0);
  return { covered: keys.length, runs, written, refiled: late.length };
}

/** One day of the index as a query reads it: its rollup shard by key, else its push indexes. */
export interface IndexDay<R> {
  /** Names (`<origin>-<n>[-r<RR>]`) of the push indexes the day holds, latest revisions only. */
  ids: string[];
  runs: R[];
  /** Index objects read. */
  objects: number;
  /** Read from the day's rollup (else from its listing and push indexes). */
  rolledUp: boolean;
}

/** The identity of the push index a run came from. */
export function runIndexId(run: { origin: string; push: number }): string {
  return `${run.origin}-${String(run.push).padStart(8, '0')}`;
}

/**
 * Read one day: the rollup shard `rollupKey` when the day is rolled up (one GET, no listing),
 * else the day's listing and every push index in it. `pick` keeps what the query wants of the
 * rollup's runs; `fromIndex` maps a push index to the same shape.
 */
export async function readIndexDay<R extends { origin: string; push: number }>(
  client: S3Client,
  loc: ArchiveLocation,
  day: string,
  rollupKey: string,
  pick: (run: R) => boolean,
  fromIndex: (idx: PushIndex) => R[],
  concurrency: number,
): Promise<IndexDay<R>> {
  const rollup = await getJsonIfAny<{ covers: string[]; runs: R[] }>(client, loc.bucket, rollupKey);
  if (rollup) {
    return {
      ids: latestRevisions(rollup.covers).map(indexName),
      runs: rollup.runs.filter(pick),
      objects: 1,
      rolledUp: true,
    };
  }
  const keys = latestRevisions(
    (await listKeys(client, loc.bucket, `${loc.prefix}index/${day}/`)).filter(
      (k) => parseKey(loc, k).kind === 'index',
    ),
  );
  const out: IndexDay<R> = { ids: [], runs: [], objects: 0, rolledUp: false };
  await eachLimited(keys, concurrency, async (key) => {
    const idx = await getJson<PushIndex>(client, loc.bucket, key);
    out.objects++;
    out.ids.push(indexName(key));
    for (const r of fromIndex(idx)) if (pick(r)) out.runs.push(r);
  });
  return out;
}

/**
 * Days read in parallel, each push index counted once: a push index moved forward (see
 * `fileIndex`) can be in two days, and a push can have revisions (see `archive reindex`) in
 * other days than its first index. Its highest revision supplies its runs, from the earliest
 * day that holds it.
 */
export async function readIndexDays<R extends { origin: string; push: number }>(
  days: string[],
  concurrency: number,
  readDay: (day: string) => Promise<IndexDay<R>>,
): Promise<{ runs: R[]; objects: number }> {
  const read = new Map<string, IndexDay<R>>();
  let objects = 0;
  await eachLimited(days, concurrency, async (day) => {
    const got = await readDay(day);
    objects += got.objects;
    read.set(day, got);
  });
  const ordered = [...read.keys()].sort();
  const chosen = new Map<string, { revision: number; day: string }>();
  for (const day of ordered) {
    for (const name of read.get(day)!.ids) {
      const id = indexId(name);
      const revision = indexRevision(name);
      const seen = chosen.get(id);
      if (!seen || revision > seen.revision) chosen.set(id, { revision, day });
    }
  }
  const runs: R[] = [];
  for (const day of ordered) {
    // A rollup of an earlier format names no push: its runs count as its own.
    for (const r of read.get(day)!.runs)
      if (r.push === undefined || chosen.get(runIndexId(r))?.day === day) runs.push(r);
  }
  return { runs, objects };
}
