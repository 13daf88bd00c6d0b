import type { RecordTags } from '@agent-audit/store';
import { ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { archiveKeys } from './archive-keys.js';
import type { ArchiveLocation } from './archive-location.js';
import {
  eachLimited,
  listIndexDays,
  type RunLocation,
  readIndexDay,
  readIndexDays,
  runShardOf,
} from './index-rollup.js';
import { getBytes, isNotFound } from './s3-objects.js';

/** A record of the run, as read from an archived segment. */
export interface ArchiveRunRecord {
  seq: number;
  time: string;
  type: string;
  tags: RecordTags;
  payload: unknown;
  /** The store it was written to: its directory on its host (else its origin). */
  store: string;
  origin: string;
  host: string;
  segment: number;
}

export interface ArchiveRunRecordsOptions {
  client: S3Client;
  location: ArchiveLocation;
  runId: string;
  /** Objects fetched at once. The default value is 16. */
  concurrency?: number;
}

export interface ArchiveRunRecords {
  /** In store order (by origin, then seq). */
  records: ArchiveRunRecord[];
  /** The stores the index names for the run, with the segments read. */
  stores: Array<{ origin: string; host: string; store: string; segments: number[] }>;
  /** What the reader should know: a segment overwritten after its push (its pushed version is read). */
  warnings: string[];
}

/**
 * Every record of one run from every host's archived segments: the run index (the run-id
 * shard of each rolled-up day, the push indexes of the others) says which segments of which
 * stores hold it; each segment is read at the version its push wrote (the oldest: under
 * COMPLIANCE retention no one can delete it, and an overwrite only adds a newer version).
 * The records are not re-verified here: `verify --archive` does that for the whole archive.
 */
export async function archiveRunRecords(
  options: ArchiveRunRecordsOptions,
): Promise<ArchiveRunRecords> {
  const { client, location: loc, runId } = options;
  const concurrency = options.concurrency ?? 16;
  const shard = runShardOf(runId);
  const days = await listIndexDays(client, loc);
  const { runs } = await readIndexDays(days, 32, (day) =>
    readIndexDay<RunLocation>(
      client,
      loc,
      day,
      archiveKeys.runRollup(loc, day, shard),
      (r) => r.run_id === runId,
      (idx) =>
        idx.runs.map((r) => ({
          run_id: r.run_id,
          origin: idx.origin,
          host: idx.host,
          push: idx.push,
          ...(idx.store === undefined ? {} : { store: idx.store }),
          segments: r.segments,
        })),
      32,
    ),
  );
  const stores = new Map<
    string,
    { origin: string; host: string; store: string; segs: Set<number> }
  >();
  for (const r of runs) {
    const s = stores.get(r.origin) ?? {
      origin: r.origin,
      host: r.host,
      store: r.store ?? r.origin,
      segs: new Set<number>(),
    };
    stores.set(r.origin, s);
    for (const n of r.segments) s.segs.add(n);
  }
  const jobs = [...stores.values()]
    .sort((a, b) => (a.origin < b.origin ? -1 : 1))
    .flatMap((s) => [...s.segs].sort((a, b) => a - b).map((segment) => ({ s, segment })));
  const perJob: ArchiveRunRecord[][] = new Array(jobs.length);
  const warnings: string[] = [];
  const needle = Buffer.from(JSON.stringify(runId));
  await eachLimited(
    jobs.map((_, i) => i),
    concurrency,
    async (i) => {
      const { s, segment } = jobs[i]!;
      const key = archiveKeys.segment(loc, s.origin, segment);
      const version = await pushedVersion(client, loc.bucket, key);
      if (version.versions > 1) {
        warnings.push(
          `s3://${loc.bucket}/${key} has ${version.versions} versions: it was overwritten after its push; the pushed version is read (run agent-audit verify --archive)`,
        );
      }
      const body = await getBytes(client, loc.bucket, key, version.versionId);
      if (!body) {
        warnings.push(
          `s3://${loc.bucket}/${key} is missing: the run's records in segment ${segment} of store ${s.origin} cannot be shown (run agent-audit verify --archive)`,
        );
        perJob[i] = [];
        return;
      }
      perJob[i] = runLines(body, needle, runId).map((r) => ({
        ...r,
        store: s.store,
        origin: s.origin,
        host: s.host,
        segment,
      }));
    },
  );
  return {
    records: perJob.flat(),
    stores: [...stores.values()].map(({ segs, ...s }) => ({
      ...s,
      segments: [...segs].sort((a, b) => a - b),
    })),
    warnings,
  };
}

/** The version of `key` its push wrote: the oldest (a versioned bucket lists newest first). */
async function pushedVersion(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<{ versionId?: string; versions: number }> {
  try {
    const res = await client.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, MaxKeys: 1000 }),
    );
    const versions = (res.Versions ?? []).filter((v) => v.Key === key);
    const oldest = versions.reduce<(typeof versions)[number] | undefined>(
      // Newest first, as S3 lists them: on a tie (one-second times) the later entry is older.
      (a, v) => (a === undefined || (v.LastModified ?? 0) <= (a.LastModified ?? 0) ? v : a),
      undefined,
    );
    return {
      ...(oldest?.VersionId && oldest.VersionId !== 'null' ? { versionId: oldest.VersionId } : {}),
      versions: versions.length,
    };
  } catch (error) {
    // A server without versioning listings: the object as it is.
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (
      status === 501 ||
      (error as { name?: string }).name === 'NotImplemented' ||
      isNotFound(error)
    )
      return { versions: 1 };
    throw error;
  }
}

/** The records of a segment tagged with the run (a byte search first, then a parse). */
function runLines(
  body: Buffer,
  needle: Buffer,
  runId: string,
): Array<Pick<ArchiveRunRecord, 'seq' | 'time' | 'type' | 'tags' | 'payload'>> {
  const out: Array<Pick<ArchiveRunRecord, 'seq' | 'time' | 'type' | 'tags' | 'payload'>> = [];
  let at = body.indexOf(needle);
  while (at >= 0) {
    const start = body.lastIndexOf(10, at) + 1;
    let end = body.indexOf(10, at);
    if (end < 0) end = body.length;
    try {
      const rec = JSON.parse(body.toString('utf8', start, end)) as ArchiveRunRecord;
      if (rec.tags?.run === runId) {
        out.push({
          seq: rec.seq,
          time: rec.time,
          type: rec.type,
          tags: rec.tags,
          payload: rec.payload,
        });
      }
    } catch {
      // A damaged line: verify --archive names it.
    }
    at = body.indexOf(needle, end);
  }
  return out;
}
