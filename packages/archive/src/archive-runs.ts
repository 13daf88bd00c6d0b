import {
  mergeRunParts,
  type RunFilter,
  type RunPart,
  type RunSummary,
  runSummaryOf,
} from '@agent-audit/store';
import type { S3Client } from '@aws-sdk/client-s3';
import { archiveKeys } from './archive-keys.js';
import type { ArchiveLocation } from './archive-location.js';
import {
  listIndexDays,
  type RolledRun,
  readIndexDay,
  readIndexDays,
  shardOf,
} from './index-rollup.js';
import { asRunPart } from './push-manifest.js';

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

/** Every day from `since`'s to `until`'s, UTC. */
export function daysBetween(since: Date, until: Date): string[] {
  const out: string[] = [];
  const d = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate()));
  for (; d <= until; d.setUTCDate(d.getUTCDate() + 1)) out.push(d.toISOString().slice(0, 10));
  return out;
}

/**
 * Runs across every host of the archive, from its run index (see archive-keys.ts and
 * docs/deployment.md, "Querying the archive"). A push index is filed under the day it was
 * written, never before its last record's day, so the runs since `since` are in the days from
 * since's to tomorrow (a clock a little ahead). Each day is read by key: one rollup shard (the
 * principal's when one is asked for); only a day without a rollup is listed and its push
 * indexes read. Without `since`, the days come from one delimited listing of `index/`.
 */
export async function archiveRuns(
  options: ArchiveRunsOptions,
): Promise<{ runs: ArchiveRun[]; indexObjects: number }> {
  const { client, location: loc, filter } = options;
  const now = (options.now ?? (() => new Date()))();
  const days = filter.since
    ? daysBetween(filter.since, new Date(now.getTime() + 86_400_000))
    : await listIndexDays(client, loc);
  const concurrency = options.concurrency ?? 32;
  const shard = shardOf(filter.principal ?? null);
  const pick = (r: RolledRun) =>
    (filter.principal === undefined || r.principal === filter.principal) &&
    (filter.agent === undefined || r.agent_id === filter.agent);
  const { runs: found, objects } = await readIndexDays(days, concurrency, async (day) => {
    if (filter.principal !== undefined) {
      return readIndexDay<RolledRun>(
        client,
        loc,
        day,
        archiveKeys.rollup(loc, day, shard),
        pick,
        (idx) =>
          idx.runs.map((r) => ({ ...r, origin: idx.origin, host: idx.host, push: idx.push })),
        concurrency,
      );
    }
    // Every principal: all 16 shards of a rolled-up day (a day without shard 00 is listed).
    const first = await readIndexDay<RolledRun>(
      client,
      loc,
      day,
      archiveKeys.rollup(loc, day, 0),
      pick,
      (idx) => idx.runs.map((r) => ({ ...r, origin: idx.origin, host: idx.host, push: idx.push })),
      concurrency,
    );
    if (!first.rolledUp) return first;
    const rest = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        readIndexDay<RolledRun>(
          client,
          loc,
          day,
          archiveKeys.rollup(loc, day, i + 1),
          pick,
          () => [],
          concurrency,
        ),
      ),
    );
    return {
      ids: first.ids,
      runs: [...first.runs, ...rest.flatMap((r) => r.runs)],
      objects: 1 + rest.reduce((n, r) => n + r.objects, 0),
      rolledUp: true,
    };
  });
  // A run's parts (segments, pushes, hosts) merge to what the stores would give together.
  const merged = new Map<string, { part: RunPart; stores: ArchiveRun['stores'] }>();
  for (const r of found) {
    const { segments, origin, host, push: _p, store: _st, ...part } = asRunPart(r);
    const seen = merged.get(r.run_id);
    if (!seen) {
      merged.set(r.run_id, { part, stores: [{ origin, host, segments: [...segments] }] });
      continue;
    }
    seen.part = mergeRunParts(seen.part, part);
    const store = seen.stores.find((s) => s.origin === origin);
    if (store) store.segments.push(...segments);
    else seen.stores.push({ origin, host, segments: [...segments] });
  }
  const since = filter.since?.toISOString();
  const until = filter.until?.toISOString();
  const runs: ArchiveRun[] = [...merged.values()]
    .map(({ part, stores }) => ({ ...runSummaryOf(part), stores }))
    .filter(
      (r) => (since === undefined || r.end >= since) && (until === undefined || r.start <= until),
    )
    .sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0));
  return { runs, indexObjects: objects };
}
