import type { RunFilter, RunSummary } from '@agent-audit/store';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseKey } from './archive-keys.js';
import type { ArchiveLocation } from './archive-location.js';
import { eachLimited, getJson, type IndexRollup, listKeys, shardOf } from './index-rollup.js';
import type { IndexedRun, PushIndex } from './push-manifest.js';

export interface ArchiveRun extends RunSummary {
  /** Where its records are: store origin, host, and segment numbers. */
  stores: Array<{ origin: string; host: string; segments: number[] }>;
}

export interface ArchiveRunsOptions {
  client: S3Client;
  location: ArchiveLocation;
  filter: RunFilter;
  /** Index objects fetched at once. The default value is 32. */
  concurrency?: number;
  now?: () => Date;
}

function days(since: Date, until: Date): string[] {
  const out: string[] = [];
  const d = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate()));
  for (; d <= until; d.setUTCDate(d.getUTCDate() + 1)) out.push(d.toISOString().slice(0, 10));
  return out;
}

/**
 * Runs across every host of the archive, from its run index (see archive-keys.ts): per day
 * (the day of a push's last record, so a push whose records reach `since` is filed on or
 * after since's day), the day's rollup when it has one (one shard of 16 when a principal is
 * asked for) plus the push indexes the rollup does not cover, fetched in parallel.
 */
export async function archiveRuns(
  options: ArchiveRunsOptions,
): Promise<{ runs: ArchiveRun[]; indexObjects: number }> {
  const { client, location: loc, filter } = options;
  const now = (options.now ?? (() => new Date()))();
  const prefixes = filter.since
    ? days(filter.since, new Date(now.getTime() + 86_400_000)).map(
        (d) => `${loc.prefix}index/${d}/`,
      )
    : [`${loc.prefix}index/`];
  const listed: string[] = [];
  await eachLimited(prefixes, 16, async (prefix) => {
    listed.push(...(await listKeys(client, loc.bucket, prefix)));
  });
  // Per day: rollup shards and push indexes.
  const byDay = new Map<string, { rollups: string[]; pushes: string[] }>();
  for (const key of listed) {
    const k = parseKey(loc, key);
    if (k.kind !== 'index' && k.kind !== 'rollup') continue;
    const day = byDay.get(k.day) ?? { rollups: [], pushes: [] };
    byDay.set(k.day, day);
    if (k.kind === 'rollup') {
      if (filter.principal === undefined || k.shard === shardOf(filter.principal))
        day.rollups.push(key);
    } else day.pushes.push(key);
  }
  const merged = new Map<string, ArchiveRun>();
  const add = (origin: string, host: string, r: IndexedRun) => {
    if (filter.principal !== undefined && r.principal !== filter.principal) return;
    if (filter.agent !== undefined && r.agent_id !== filter.agent) return;
    const seen = merged.get(r.run_id);
    const where = { origin, host, segments: [...r.segments] };
    if (!seen) {
      const { segments: _s, ...summary } = r;
      merged.set(r.run_id, { ...summary, stores: [where] });
      return;
    }
    seen.principal ??= r.principal;
    seen.agent_id ??= r.agent_id;
    if (r.start < seen.start) seen.start = r.start;
    if (r.end > seen.end) seen.end = r.end;
    seen.spans += r.spans;
    const store = seen.stores.find((s) => s.origin === origin);
    if (store) store.segments.push(...r.segments);
    else seen.stores.push(where);
  };
  let fetched = 0;
  const concurrency = options.concurrency ?? 32;
  // Rollups first: what they cover is not fetched again.
  const rollupKeys = [...byDay.values()].flatMap((d) => d.rollups);
  const covered = new Set<string>();
  await eachLimited(rollupKeys, concurrency, async (key) => {
    const rollup = await getJson<IndexRollup>(client, loc.bucket, key);
    fetched++;
    for (const c of rollup.covers) covered.add(c);
    for (const r of rollup.runs) add(r.origin, r.host, r);
  });
  const pushKeys = [...byDay.values()].flatMap((d) => d.pushes).filter((k) => !covered.has(k));
  await eachLimited(pushKeys, concurrency, async (key) => {
    const idx = await getJson<PushIndex>(client, loc.bucket, key);
    fetched++;
    for (const r of idx.runs) add(idx.origin, idx.host, r);
  });
  const since = filter.since?.toISOString();
  const until = filter.until?.toISOString();
  const runs = [...merged.values()]
    .filter(
      (r) => (since === undefined || r.end >= since) && (until === undefined || r.start <= until),
    )
    .sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0));
  return { runs, indexObjects: fetched };
}
