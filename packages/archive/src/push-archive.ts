import { createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { keyIdOf, readStoreRetentionPolicy } from '@agent-audit/store';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { archiveKeys, pad, parseKey, storePrefix } from './archive-keys.js';
import { type ArchiveLocation, describeS3Error } from './archive-location.js';
import { fileIndex } from './index-rollup.js';
import { buildPushIndex, indexDayFor, type SegmentRuns } from './push-index.js';
import {
  type ArchivedObject,
  type ArchivedSegment,
  PUSH_FORMAT,
  type PushManifest,
} from './push-manifest.js';
import { getBytes, putLocked, sha256Hex } from './s3-objects.js';
import { segmentReader } from './segment-reader.js';
import { segmentHeader, summariseSegment } from './segment-summary.js';

/** Default retention of archived objects when neither option nor environment sets it. */
export const DEFAULT_RETAIN_DAYS = 365;
export const RETAIN_DAYS_ENV = 'AGENT_AUDIT_ARCHIVE_RETAIN_DAYS';

export interface PushOptions {
  client: S3Client;
  location: ArchiveLocation;
  /** Store directory. */
  store: string;
  /** Trust directory holding the store's `public-key.pem`. */
  trustDir: string;
  /**
   * Days from now until which every object of this push is locked (COMPLIANCE). The default:
   * the store's recorded retention policy's maxAge (`retainUntilFor`), else `DEFAULT_RETAIN_DAYS`.
   */
  retainDays?: number;
  /** Host name recorded in the manifest (informational). The default is `os.hostname()`. */
  host?: string;
  now?: () => Date;
  onProgress?: (p: { store: string; bytes: number; totalBytes: number; segment: number }) => void;
}

export interface PushResult {
  store: string;
  origin: string;
  push: number;
  segments: number;
  bytes: number;
  /** Objects found already archived (a resumed or concurrent push). */
  alreadyPresent: number;
  absent: number[];
  manifestKey: string;
}

const SEGMENT_NAME = /^(\d{8})\.jsonl$/;
/** Segments uploaded at once by one push. */
const UPLOADS = 4;

function localSegments(store: string): Array<{ segment: number; file: string }> {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(store, 'segments'));
  } catch (error) {
    throw new Error(
      `no audit store at ${store} (${(error as NodeJS.ErrnoException).code}): pass the store directory with --store`,
    );
  }
  return names
    .map((n) => SEGMENT_NAME.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ segment: Number(m[1]), file: path.join(store, 'segments', m[0]) }))
    .sort((a, b) => a.segment - b.segment);
}

const READ_START_BYTES = 65_536;

/** The first 64 KiB of a file (a segment header is one short line). */
function readStart(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(READ_START_BYTES);
    return buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The first two records of the segment after the last sealed one (`segment.open`, then the
 * checkpoint that signs everything before it), when that segment is the next one; else null.
 */
function nextSegmentHead(
  next: { segment: number; file: string },
  lastSegment: number,
): { segment: number; body: Buffer; lastSeq: number } | null {
  if (next.segment !== lastSegment + 1) return null;
  let bytes = readStart(next.file);
  let end = 0;
  for (let line = 0; line < 2; line++) {
    let nl = bytes.indexOf(10, end);
    if (nl < 0 && bytes.length === READ_START_BYTES) {
      // A first record longer than the start read: the whole file.
      bytes = fs.readFileSync(next.file);
      nl = bytes.indexOf(10, end);
    }
    if (nl < 0) break;
    const type = (JSON.parse(bytes.toString('utf8', end, nl)) as { type?: string }).type;
    if (line === 1 && type !== 'checkpoint') break;
    end = nl + 1;
  }
  if (end === 0) return null;
  const body = Buffer.from(bytes.subarray(0, end));
  return { segment: next.segment, body, lastSeq: summariseSegment(body).lastSeq };
}

/** The last push manifest of a store (the cursor), by listing its `pushes/`. */
export async function lastPush(
  client: S3Client,
  location: ArchiveLocation,
  origin: string,
): Promise<{ manifest: PushManifest; sha256: string } | undefined> {
  let token: string | undefined;
  let last: number | undefined;
  do {
    const res = await client.send(
      new ListObjectsV2Command({
        Bucket: location.bucket,
        Prefix: `${storePrefix(location, origin)}pushes/`,
        ContinuationToken: token,
      }),
    );
    for (const o of res.Contents ?? []) {
      const k = parseKey(location, o.Key ?? '');
      if (k.kind === 'push' && (last === undefined || k.n > last)) last = k.n;
    }
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  if (last === undefined) return undefined;
  const bytes = await getBytes(client, location.bucket, archiveKeys.push(location, origin, last));
  if (!bytes) return undefined;
  return { manifest: JSON.parse(bytes.toString('utf8')) as PushManifest, sha256: sha256Hex(bytes) };
}

/**
 * Ship one store's sealed segments (and its checkpoints, recovery records and public key) to
 * the archive. Idempotent and resumable: the cursor is the store's last push manifest in the
 * archive, every object is written once (If-None-Match) and an object already there with the
 * same bytes counts as shipped; two pushes of one store at once race only on the manifest,
 * and the loser starts again from the winner's.
 */
export async function pushStore(options: PushOptions): Promise<PushResult> {
  const store = path.resolve(options.store);
  const where = `archive push of ${store} to ${options.location.url}`;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        return await pushOnce(options, store);
      } catch (error) {
        if ((error as { code?: string }).code !== 'MANIFEST_RACE' || attempt >= 5) throw error;
      }
    }
  } catch (error) {
    if (
      (error as Error).message.startsWith('no audit store') ||
      (error as Error).message.includes('already holds')
    )
      throw error;
    throw new Error(describeS3Error(error, where));
  }
}

/**
 * Retain-until of a push: `retainDays` when given; else now + the maxAge of the retention
 * policy the store records (its default maxAge, else its largest tenant maxAge; read with the
 * trust directory's public key when there is one); else `DEFAULT_RETAIN_DAYS`.
 */
export function retainUntilFor(
  store: string,
  trustDir: string,
  retainDays: number | undefined,
  now: Date,
): Date {
  if (retainDays !== undefined) return new Date(now.getTime() + retainDays * 86_400_000);
  const pem = path.join(trustDir, 'public-key.pem');
  const policy = readStoreRetentionPolicy(
    store,
    fs.existsSync(pem) ? createPublicKey(fs.readFileSync(pem)) : undefined,
  );
  const tenantMax = Object.values(policy?.tenants ?? {})
    .map((t) => t.maxAgeMs)
    .filter((m): m is number => m !== undefined);
  const maxAgeMs =
    policy?.maxAgeMs ??
    (tenantMax.length ? Math.max(...tenantMax) : DEFAULT_RETAIN_DAYS * 86_400_000);
  return new Date(now.getTime() + maxAgeMs);
}

async function pushOnce(options: PushOptions, store: string): Promise<PushResult> {
  const { client, location } = options;
  const bucket = location.bucket;
  const now = (options.now ?? (() => new Date()))();
  const retainUntil = retainUntilFor(store, options.trustDir, options.retainDays, now);
  const segs = localSegments(store);
  if (segs.length === 0)
    throw new Error(`no segments in ${store}/segments: nothing to archive yet`);
  const first = segmentHeader(readStart(segs[0]!.file));
  const origin = first.origin;
  if (!origin) {
    throw new Error(
      `${segs[0]!.file} has no readable segment header: run agent-audit verify --store ${store}`,
    );
  }
  const prev = await lastPush(client, location, origin);
  const pushN = (prev?.manifest.push ?? 0) + 1;
  let lastSegment = prev?.manifest.lastSegment ?? 0;
  let lastSeq = prev?.manifest.lastSeq ?? 0;
  // Sealed = not the newest segment (the writer seals a segment before it opens the next).
  const sealed = segs.slice(0, -1).filter((s) => s.segment > lastSegment);
  const highestSealed = segs.length >= 2 ? segs[segs.length - 2]!.segment : 0;
  const present = new Set(segs.map((s) => s.segment));
  const absent: number[] = [];
  for (let n = lastSegment + 1; n <= highestSealed; n++) if (!present.has(n)) absent.push(n);
  const totalBytes = sealed.reduce((n, s) => n + fs.statSync(s.file).size, 0);
  let bytes = 0;
  let alreadyPresent = 0;
  // Segments go up UPLOADS at a time (reading and indexing one overlaps sending another); the
  // manifest lists them in order and is written only after all of them.
  const shipped: ArchivedSegment[] = new Array(sealed.length);
  const segmentRuns: SegmentRuns[] = new Array(sealed.length);
  let cursor = 0;
  const reader = segmentReader();
  const upload = async () => {
    while (cursor < sealed.length) {
      const i = cursor++;
      const seg = sealed[i]!;
      const { bytes: body, summary: sum, release } = await reader.read(seg.file);
      const size = body.length;
      const key = archiveKeys.segment(location, origin, seg.segment);
      let put: Awaited<ReturnType<typeof putLocked>>;
      try {
        put = await putLocked(
          client,
          bucket,
          key,
          body,
          retainUntil,
          'application/x-ndjson',
          Buffer.from(sum.sha256, 'hex'),
        );
      } finally {
        // The PUT has settled: its bytes go back for the next read, never touched again here.
        release();
      }
      if (put.status === 'present') alreadyPresent++;
      shipped[i] = {
        segment: seg.segment,
        key,
        size,
        sha256: sum.sha256,
        ...(put.versionId ? { versionId: put.versionId } : {}),
        firstSeq: sum.firstSeq,
        lastSeq: sum.lastSeq,
        firstTime: sum.firstTime,
        lastTime: sum.lastTime,
      };
      segmentRuns[i] = { segment: seg.segment, runs: sum.runs };
      bytes += size;
      options.onProgress?.({ store, bytes, totalBytes, segment: seg.segment });
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOADS, sealed.length) }, upload));
  if (sealed.length > 0) {
    lastSegment = sealed.at(-1)!.segment;
    lastSeq = shipped.at(-1)!.lastSeq;
  }
  if (absent.length > 0 && highestSealed > lastSegment) lastSegment = highestSealed;
  const object = async (key: string, body: Buffer, type: string): Promise<ArchivedObject> => {
    const put = await putLocked(client, bucket, key, body, retainUntil, type);
    if (put.status === 'present') alreadyPresent++;
    return {
      key,
      size: body.length,
      sha256: sha256Hex(body),
      ...(put.versionId ? { versionId: put.versionId } : {}),
    };
  };
  // The head of the next segment: the checkpoint that signs the sealed segments is its second
  // record (the writer signs one when it opens a segment).
  const headPart = nextSegmentHead(segs.at(-1)!, lastSegment);
  const signedThrough = headPart?.lastSeq ?? lastSeq;
  // Checkpoints as of this push: the lines within the archived records.
  const cpFile = path.join(store, 'checkpoints.jsonl');
  const cpLines = fs.existsSync(cpFile)
    ? fs
        .readFileSync(cpFile, 'utf8')
        .split('\n')
        .filter((l) => {
          try {
            return l !== '' && (JSON.parse(l) as { size?: number }).size! <= signedThrough;
          } catch {
            return false;
          }
        })
    : [];
  const pemFile = path.join(options.trustDir, 'public-key.pem');
  const pem = fs.existsSync(pemFile) ? fs.readFileSync(pemFile) : undefined;
  const recDir = path.join(store, 'recovered');
  const recoveredFiles = (fs.existsSync(recDir) ? fs.readdirSync(recDir).sort() : [])
    .map((name) => ({ name, file: path.join(recDir, name) }))
    .filter(({ file }) => fs.statSync(file).isFile());
  // These few small objects are independent of one another: sent at once, not one by one.
  const [head, checkpoints, keys, recovered] = await Promise.all([
    headPart
      ? object(
          archiveKeys.head(location, origin, headPart.segment),
          headPart.body,
          'application/x-ndjson',
        ).then((o) => ({ ...o, segment: headPart.segment, lastSeq: headPart.lastSeq }))
      : null,
    cpLines.length > 0
      ? object(
          archiveKeys.checkpoints(location, origin, pushN),
          Buffer.from(`${cpLines.join('\n')}\n`),
          'application/x-ndjson',
        ).then((o) => ({ ...o, lines: cpLines.length }))
      : null,
    pem
      ? (async () => {
          const keyId = keyIdOf(createPublicKey(pem));
          const o = await object(
            archiveKeys.publicKey(location, origin, keyId),
            pem,
            'application/x-pem-file',
          );
          return [{ ...o, keyId }];
        })()
      : [],
    Promise.all(
      recoveredFiles.map(({ name, file }) =>
        object(
          archiveKeys.recovered(location, origin, name),
          fs.readFileSync(file),
          'application/octet-stream',
        ),
      ),
    ),
  ]);
  const manifest: PushManifest = {
    format: PUSH_FORMAT,
    origin,
    push: pushN,
    prev: prev?.sha256 ?? null,
    host: options.host ?? os.hostname(),
    store,
    time: now.toISOString(),
    retainUntil: retainUntil.toISOString(),
    lastSegment,
    lastSeq,
    segments: shipped,
    absent,
    head,
    checkpoints,
    keys,
    recovered,
  };
  const manifestKey = archiveKeys.push(location, origin, pushN);
  const manifestBody = Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`);
  try {
    const put = await putLocked(
      client,
      bucket,
      manifestKey,
      manifestBody,
      retainUntil,
      'application/json',
    );
    if (put.status === 'present') alreadyPresent++;
  } catch (error) {
    if ((error as Error).message.includes('already holds')) {
      throw Object.assign(new Error(`push ${pad(pushN)} of ${origin} raced another push`), {
        code: 'MANIFEST_RACE',
      });
    }
    throw error;
  }
  await putIndex(options, origin, manifest, segmentRuns);
  return {
    store,
    origin,
    push: pushN,
    segments: shipped.length,
    bytes,
    alreadyPresent,
    absent,
    manifestKey,
  };
}

/** The run index of one push: built from its segments alone, so it can always be rebuilt. */
async function putIndex(
  options: PushOptions,
  origin: string,
  manifest: PushManifest,
  perSegment: SegmentRuns[],
): Promise<void> {
  if (manifest.segments.length === 0) return;
  const index = buildPushIndex(origin, manifest, perSegment);
  const day = indexDayFor(index, manifest, (options.now ?? (() => new Date()))());
  try {
    await fileIndex(options.client, options.location, day, index, new Date(manifest.retainUntil));
  } catch (error) {
    const key = archiveKeys.index(options.location, day, origin, manifest.push);
    throw new Error(
      `${describeS3Error(error, `writing s3://${options.location.bucket}/${key}`)} — push ${manifest.push} of ${origin} is archived but its runs are not indexed: run agent-audit archive reindex --archive ${options.location.url}`,
    );
  }
}
