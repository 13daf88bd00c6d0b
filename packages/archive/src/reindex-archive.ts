import type { S3Client } from '@aws-sdk/client-s3';
import { archiveKeys, parseKey } from './archive-keys.js';
import { type ArchiveLocation, describeS3Error } from './archive-location.js';
import {
  fileIndex,
  getJson,
  indexId,
  indexRevision,
  latestRevisions,
  listKeys,
} from './index-rollup.js';
import { buildPushIndex, indexDayFor, type SegmentRuns } from './push-index.js';
import { EARLIER_INDEX_FORMATS, type PushIndex, type PushManifest } from './push-manifest.js';
import { getBytes, getObject } from './s3-objects.js';
import { summariseSegment } from './segment-summary.js';

export type ReindexProblemCode =
  | 'segment-missing'
  | 'segment-digest'
  | 'index-mismatch'
  | 'manifest-unreadable';

export interface ReindexProblem {
  code: ReindexProblemCode;
  /** The object at fault, `s3://bucket/key` (with `?versionId=` when the manifest names one). */
  object: string;
  origin: string;
  push: number;
  message: string;
}

export interface ReindexOptions {
  client: S3Client;
  location: ArchiveLocation;
  /** Only pushes whose manifest time is at or after this. */
  since?: Date;
  now?: () => Date;
  onProgress?: (p: { checked: number; total: number }) => void;
}

export interface ReindexResult {
  /** Push manifests checked (with `since`, those at or after it). */
  checked: number;
  /** Pushes with segments whose index object was there and matched their segments. */
  indexed: number;
  /** Index objects written: `s3://…` keys of pushes that had none. */
  written: Array<{
    origin: string;
    push: number;
    key: string;
    runs: number;
    /** The index object this one supersedes (a revision written because it differed). */
    corrects?: string;
    /**
     * The index object of an earlier format this one supersedes (a revision written in the
     * current format: not a problem, an upgrade).
     */
    upgrades?: string;
  }>;
  problems: ReindexProblem[];
}

/** An index's runs as every format lists them: which runs, whose, in which segments. */
function whoWhere(index: PushIndex): unknown[] {
  return (index.runs ?? [])
    .map((r) => [r.run_id, r.principal, r.agent_id, r.segments])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

/** Revisions of one push's index the key scheme allows (`-r01` … `-r99`). */
const MAX_REVISION = 99;

function url(loc: ArchiveLocation, key: string, versionId?: string): string {
  return `s3://${loc.bucket}/${key}${versionId ? `?versionId=${versionId}` : ''}`;
}

/**
 * Rebuild the archive's run index from its push manifests (see docs/deployment.md, "Rebuilding
 * the index"). For every push manifest with segments: read each segment at the version the
 * manifest names and check its SHA-256 against the manifest; build the push's index exactly as
 * the pusher does; then
 *   - no index object for the push anywhere under `index/` → write it (locked until the
 *     manifest's retainUntil, with its checksum, filed as the pusher files it: the day it is
 *     written, never before its last record's day, moved forward past a rolled-up day);
 *   - the latest revision of its index object differs from the rebuilt one → reported
 *     (`index-mismatch`), and, since index objects are write-once under Object Lock, the
 *     rebuilt one is written as the next revision (`<origin>-<n>-r<RR>.json`), which the
 *     queries and `archive compact` prefer to every earlier revision;
 *   - a segment missing or not matching its manifest digest → reported, and that push is not
 *     indexed (records the manifest does not vouch for never enter the index).
 * On a healthy archive it writes nothing.
 */
export async function reindexArchive(options: ReindexOptions): Promise<ReindexResult> {
  const { client, location: loc } = options;
  const now = (options.now ?? (() => new Date()))();
  let where = `archive reindex of ${loc.url}`;
  try {
    where = `listing ${url(loc, `${loc.prefix}stores/`)}`;
    const pushes = (await listKeys(client, loc.bucket, `${loc.prefix}stores/`))
      .map((key) => ({ key, parsed: parseKey(loc, key) }))
      .filter((p) => p.parsed.kind === 'push')
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    where = `listing ${url(loc, `${loc.prefix}index/`)}`;
    const indexKeys = new Map<string, string[]>();
    for (const key of await listKeys(client, loc.bucket, `${loc.prefix}index/`)) {
      if (parseKey(loc, key).kind !== 'index') continue;
      const id = indexId(key);
      indexKeys.set(id, [...(indexKeys.get(id) ?? []), key]);
    }
    const result: ReindexResult = { checked: 0, indexed: 0, written: [], problems: [] };
    const total = pushes.length;
    let seen = 0;
    for (const { key } of pushes) {
      seen++;
      where = `reading ${url(loc, key)}`;
      const bytes = await getBytes(client, loc.bucket, key);
      let manifest: PushManifest;
      try {
        manifest = JSON.parse(bytes!.toString('utf8')) as PushManifest;
      } catch (error) {
        const p = parseKey(loc, key) as { origin: string; n: number };
        result.problems.push({
          code: 'manifest-unreadable',
          object: url(loc, key),
          origin: p.origin,
          push: p.n,
          message: `${url(loc, key)} is not a readable push manifest (${(error as Error).message}): run agent-audit verify --archive ${loc.url}`,
        });
        options.onProgress?.({ checked: seen, total });
        continue;
      }
      if (options.since && manifest.time < options.since.toISOString()) {
        options.onProgress?.({ checked: seen, total });
        continue;
      }
      result.checked++;
      await reindexPush(options, manifest, indexKeys, now, result, (w) => {
        where = w;
      });
      options.onProgress?.({ checked: seen, total });
    }
    return result;
  } catch (error) {
    throw new Error(describeS3Error(error, where));
  }
}

async function reindexPush(
  options: ReindexOptions,
  manifest: PushManifest,
  indexKeys: Map<string, string[]>,
  now: Date,
  result: ReindexResult,
  at: (where: string) => void,
): Promise<void> {
  const { client, location: loc } = options;
  if (manifest.segments.length === 0) return;
  const { origin, push } = manifest;
  const segmentRuns: SegmentRuns[] = [];
  let sound = true;
  for (const seg of manifest.segments) {
    at(`reading ${url(loc, seg.key, seg.versionId)}`);
    const got = await getObject(client, loc.bucket, seg.key, seg.versionId);
    if (!got) {
      sound = false;
      result.problems.push({
        code: 'segment-missing',
        object: url(loc, seg.key, seg.versionId),
        origin,
        push,
        message: `${url(loc, seg.key, seg.versionId)}, named by push ${push} of ${origin}, is missing: its runs are not indexed; run agent-audit verify --archive ${loc.url}`,
      });
      continue;
    }
    if (got.sha256 !== seg.sha256) {
      sound = false;
      result.problems.push({
        code: 'segment-digest',
        object: url(loc, seg.key, seg.versionId),
        origin,
        push,
        message: `${url(loc, seg.key, seg.versionId)} does not match push ${push} of ${origin} (SHA-256 ${got.sha256}, the manifest says ${seg.sha256}): tampered or replaced after the push, its runs are not indexed; run agent-audit verify --archive ${loc.url}`,
      });
      continue;
    }
    segmentRuns.push({ segment: seg.segment, runs: summariseSegment(got.bytes).runs });
  }
  if (!sound) return;
  const index = buildPushIndex(origin, manifest, segmentRuns);
  const body = JSON.stringify(index);
  const id = `${origin}-${String(push).padStart(8, '0')}`;
  const existing = latestRevisions(indexKeys.get(id) ?? []);
  const write = async (first: number, corrects?: string, upgrades?: string) => {
    const day = indexDayFor(index, manifest, now);
    for (let revision = first; ; revision++) {
      at(`writing ${url(loc, archiveKeys.index(loc, day, origin, push, revision))}`);
      try {
        const filed = await fileIndex(
          client,
          loc,
          day,
          index,
          new Date(manifest.retainUntil),
          revision,
        );
        result.written.push({
          origin,
          push,
          key: url(loc, archiveKeys.index(loc, filed, origin, push, revision)),
          runs: index.runs.length,
          ...(corrects ? { corrects } : {}),
          ...(upgrades ? { upgrades } : {}),
        });
        return;
      } catch (error) {
        // 412 on a key no listing shows: a delete marker hides an index written there (a
        // delete without a version); its locked version stays, so the next revision is written.
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
          ?.httpStatusCode;
        if (status !== 412 || revision >= MAX_REVISION) throw error;
      }
    }
  };
  if (existing.length === 0) {
    await write(0);
    return;
  }
  // The latest revision decides (copies of it moved forward past a rolled-up day hold the
  // same bytes; each is checked).
  let wrong: { key: string; runs: number } | undefined;
  let outdated: string | undefined;
  for (const key of existing) {
    at(`reading ${url(loc, key)}`);
    const theirs = await getJson<PushIndex>(client, loc.bucket, key);
    if (EARLIER_INDEX_FORMATS.includes(theirs.format)) {
      // Written by an earlier pusher: its runs, who ran them and where must be these; what
      // the current format computes differently (a run's status and span count across
      // segments) is why it is rewritten.
      if (JSON.stringify(whoWhere(theirs)) === JSON.stringify(whoWhere(index))) outdated ??= key;
      else wrong ??= { key, runs: theirs.runs?.length ?? 0 };
      continue;
    }
    // An index of an earlier format has no `store`: compared without it.
    const ours = theirs.store === undefined ? JSON.stringify({ ...index, store: undefined }) : body;
    if (JSON.stringify(theirs) !== ours) wrong ??= { key, runs: theirs.runs?.length ?? 0 };
  }
  if (!wrong && outdated) {
    // Written by an earlier version of the pusher: rewritten in the current format (queries
    // read both; the current one merges runs across segments and pushes exactly).
    const revision = Math.max(...existing.map(indexRevision)) + 1;
    if (revision <= MAX_REVISION) await write(revision, undefined, url(loc, outdated));
    return;
  }
  if (!wrong) {
    result.indexed++;
    return;
  }
  const revision = indexRevision(wrong.key) + 1;
  if (revision > MAX_REVISION) {
    result.problems.push({
      code: 'index-mismatch',
      object: url(loc, wrong.key),
      origin,
      push,
      message: `${url(loc, wrong.key)} does not list what push ${push} of ${origin} archived, and it is revision ${MAX_REVISION}, the last one the key scheme allows: the archive's index is being rewritten by something else; run agent-audit verify --archive ${loc.url} and find the writer`,
    });
    return;
  }
  result.problems.push({
    code: 'index-mismatch',
    object: url(loc, wrong.key),
    origin,
    push,
    message: `${url(loc, wrong.key)} does not list what push ${push} of ${origin} archived (its segments, checked against the manifest, give ${index.runs.length} run(s); the index lists ${wrong.runs}): index objects are write-once, so it stands, superseded by revision ${revision} written now, which queries and archive compact prefer; run agent-audit verify --archive ${loc.url} to find what else changed`,
  });
  await write(revision, url(loc, wrong.key));
}
