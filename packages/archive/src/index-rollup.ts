import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { archiveKeys, parseKey } from './archive-keys.js';
import type { ArchiveLocation } from './archive-location.js';
import type { IndexedRun, PushIndex } from './push-manifest.js';
import { putLocked } from './s3-objects.js';

/** Principal shards of a day's rollup: a principal query reads one of them. */
export const ROLLUP_SHARDS = 16;
export const ROLLUP_FORMAT = 'agent-audit-archive-rollup/1';

/** A run in a rollup: where its records are. */
export type RolledRun = IndexedRun & { origin: string; host: string };

/** `index/<day>/rollup/<SS>.json`: the runs of principal shard SS from the push indexes it covers. */
export interface IndexRollup {
  format: typeof ROLLUP_FORMAT;
  day: string;
  shard: number;
  /** The push index keys merged in; newer ones of the day are read on their own. */
  covers: string[];
  runs: RolledRun[];
}

export function shardOf(principal: string | null): number {
  return (
    createHash('sha256')
      .update(principal ?? '')
      .digest()[0]! % ROLLUP_SHARDS
  );
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

export async function getJson<T>(client: S3Client, bucket: string, key: string): Promise<T> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await res.Body!.transformToString()) as T;
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

/**
 * Merge one day's push indexes into 16 principal-sharded rollups (derived data: rebuildable
 * from the push indexes, which are rebuildable from the segments). Written once
 * (If-None-Match); when another compactor wrote them first, theirs stand. A day's pushes
 * after its rollup are read from their own index objects by the query.
 */
export async function compactIndexDay(options: {
  client: S3Client;
  location: ArchiveLocation;
  day: string;
  retainDays: number;
}): Promise<{ covered: number; runs: number; written: boolean }> {
  const { client, location: loc, day } = options;
  const keys = (await listKeys(client, loc.bucket, `${loc.prefix}index/${day}/`)).filter(
    (k) => parseKey(loc, k).kind === 'index',
  );
  keys.sort();
  const shards: RolledRun[][] = Array.from({ length: ROLLUP_SHARDS }, () => []);
  await eachLimited(keys, 32, async (key) => {
    const idx = await getJson<PushIndex>(client, loc.bucket, key);
    for (const r of idx.runs)
      shards[shardOf(r.principal)]!.push({ ...r, origin: idx.origin, host: idx.host });
  });
  const retainUntil = new Date(Date.now() + options.retainDays * 86_400_000);
  let written = true;
  let runs = 0;
  await eachLimited([...shards.keys()], 8, async (shard) => {
    const list = shards[shard]!.sort((a, b) =>
      a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : a.origin < b.origin ? -1 : 1,
    );
    runs += list.length;
    const rollup: IndexRollup = { format: ROLLUP_FORMAT, day, shard, covers: keys, runs: list };
    try {
      await putLocked(
        client,
        loc.bucket,
        archiveKeys.rollup(loc, day, shard),
        Buffer.from(JSON.stringify(rollup)),
        retainUntil,
        'application/json',
      );
    } catch (error) {
      if (!(error as Error).message.includes('already holds')) throw error;
      written = false; // another compactor's rollup stands
    }
  });
  return { covered: keys.length, runs, written };
}
