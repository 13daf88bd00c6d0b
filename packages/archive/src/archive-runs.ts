import type { RunFilter, RunSummary } from '@agent-audit/store';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ArchiveLocation } from './archive-location.js';
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
 * Runs across every host of the archive, from its run index: one small object per push under
 * `index/<day of the push's last record>/`, so a query lists only the days it covers (a push
 * whose records reach `since` is filed on or after since's day) and fetches those index
 * objects in parallel. Without `since`, every day is listed.
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
  const keys: string[] = [];
  await Promise.all(
    prefixes.map(async (prefix) => {
      let token: string | undefined;
      do {
        const res = await client.send(
          new ListObjectsV2Command({
            Bucket: loc.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        );
        for (const o of res.Contents ?? []) keys.push(o.Key!);
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    }),
  );
  const merged = new Map<string, ArchiveRun>();
  const add = (idx: PushIndex, r: IndexedRun) => {
    if (filter.principal !== undefined && r.principal !== filter.principal) return;
    if (filter.agent !== undefined && r.agent_id !== filter.agent) return;
    const seen = merged.get(r.run_id);
    const where = { origin: idx.origin, host: idx.host, segments: r.segments };
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
    const store = seen.stores.find((s) => s.origin === idx.origin);
    if (store) store.segments.push(...r.segments);
    else seen.stores.push(where);
  };
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const res = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: key }));
      const idx = JSON.parse(await res.Body!.transformToString()) as PushIndex;
      for (const r of idx.runs) add(idx, r);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
  const since = filter.since?.toISOString();
  const until = filter.until?.toISOString();
  const runs = [...merged.values()]
    .filter(
      (r) => (since === undefined || r.end >= since) && (until === undefined || r.start <= until),
    )
    .sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0));
  return { runs, indexObjects: keys.length };
}
