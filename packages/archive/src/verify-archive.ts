import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type VerifyReport, verifySource } from '@agent-audit/store';
import { ListObjectsV2Command, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { archiveKeys, pad, parseKey, storePrefix } from './archive-keys.js';
import { type ArchiveLocation, describeS3Error } from './archive-location.js';
import { eachLimited } from './index-rollup.js';
import type { PushManifest } from './push-manifest.js';
import { type FetchedObject, getBytes, getObject, sha256Hex } from './s3-objects.js';
import { s3SegmentSource } from './s3-segment-source.js';
import { segmentHeader } from './segment-summary.js';

/** Archive-level findings (the store-level ones are the store verifier's codes). */
export type ArchiveProblemCode =
  | 'ARCHIVE_OBJECT_MODIFIED'
  | 'ARCHIVE_OBJECT_DELETED'
  | 'ARCHIVE_OBJECT_MISSING'
  | 'ARCHIVE_OBJECT_MOVED'
  | 'ARCHIVE_UNKNOWN_KEY'
  | 'ARCHIVE_PUSH_MISSING'
  | 'ARCHIVE_PUSH_CHAIN_BROKEN'
  | 'ARCHIVE_SEGMENT_NOT_PUSHED'
  | 'ARCHIVE_HOST_STOPPED'
  | 'ARCHIVE_UNLISTED_OBJECT'
  | 'ARCHIVE_IO_ERROR';

/** Segment objects fetched ahead of the one being checked. */
const PREFETCH = 4;
/** Push manifests of one store fetched at once. */
const MANIFESTS = 16;

const KIND: Record<ArchiveProblemCode, ArchiveProblem['kind']> = {
  ARCHIVE_OBJECT_MODIFIED: 'tampering',
  ARCHIVE_OBJECT_DELETED: 'tampering',
  ARCHIVE_OBJECT_MISSING: 'tampering',
  ARCHIVE_OBJECT_MOVED: 'tampering',
  ARCHIVE_UNKNOWN_KEY: 'tampering',
  ARCHIVE_PUSH_MISSING: 'tampering',
  ARCHIVE_PUSH_CHAIN_BROKEN: 'tampering',
  ARCHIVE_SEGMENT_NOT_PUSHED: 'tampering',
  ARCHIVE_HOST_STOPPED: 'unverifiable',
  ARCHIVE_UNLISTED_OBJECT: 'warning',
  ARCHIVE_IO_ERROR: 'io',
};

export interface ArchiveProblem {
  code: ArchiveProblemCode;
  kind: 'tampering' | 'unverifiable' | 'io' | 'warning';
  message: string;
}

export interface ArchiveStoreReport {
  origin: string;
  host: string | null;
  store: string | null;
  pushes: number;
  lastPush: string | null;
  segments: number;
  exitCode: 0 | 1 | 2 | 3;
  problems: ArchiveProblem[];
  /** The store verifier's report on the archived segments (absent when it could not run). */
  verify?: VerifyReport;
}

export interface ArchiveVerifyReport {
  exitCode: 0 | 1 | 2 | 3;
  url: string;
  objects: number;
  stores: ArchiveStoreReport[];
  /** Findings that belong to no store (unknown keys). */
  problems: ArchiveProblem[];
}

export interface VerifyArchiveOptions {
  client: S3Client;
  location: ArchiveLocation;
  /**
   * Trusted public keys (PEM text or paths). The default: the keys archived with each store,
   * trusted because they were written under COMPLIANCE retention by the store's first push.
   */
  publicKey?: string | string[];
  /** A store whose last push is this much older than the archive's newest push "stopped pushing". The default value is 2 days. */
  staleAfterMs?: number;
  /** Spool directory parent. The default value is the OS temp directory. */
  tmpDir?: string;
  onProgress?: (p: { store: number; stores: number; origin: string; bytes: number }) => void;
  /** Hash every record (see VerifyOptions.full). */
  full?: boolean;
  /** The time records are judged over-age against (see VerifyOptions.now). The default is now. */
  now?: Date;
}

interface Listed {
  versions: Array<{ versionId?: string; latest: boolean }>;
  deleted: boolean;
}

function exitOf(
  problems: Array<{ kind: ArchiveProblem['kind'] }>,
  store?: VerifyReport,
): 0 | 1 | 2 | 3 {
  const kinds = new Set(problems.map((p) => p.kind));
  const codes = store ? [store.exitCode] : [];
  if (kinds.has('tampering') || codes.includes(1)) return 1;
  if (kinds.has('io') || codes.includes(3)) return 3;
  if (kinds.has('unverifiable') || codes.includes(2)) return 2;
  return 0;
}

/** Every object (and its versions) under the prefix. Falls back to a plain listing. */
async function listAll(client: S3Client, loc: ArchiveLocation): Promise<Map<string, Listed>> {
  const out = new Map<string, Listed>();
  const entry = (key: string): Listed => {
    const e = out.get(key) ?? { versions: [], deleted: false };
    out.set(key, e);
    return e;
  };
  try {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const res = await client.send(
        new ListObjectVersionsCommand({
          Bucket: loc.bucket,
          Prefix: loc.prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
        }),
      );
      for (const v of res.Versions ?? [])
        entry(v.Key!).versions.push({ versionId: v.VersionId, latest: v.IsLatest === true });
      for (const d of res.DeleteMarkers ?? []) if (d.IsLatest) entry(d.Key!).deleted = true;
      keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
      versionMarker = res.IsTruncated ? res.NextVersionIdMarker : undefined;
    } while (keyMarker);
    return out;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 501 && (error as { name?: string }).name !== 'NotImplemented') throw error;
  }
  let token: string | undefined;
  do {
    const res = await client.send(
      new ListObjectsV2Command({
        Bucket: loc.bucket,
        Prefix: loc.prefix,
        ContinuationToken: token,
      }),
    );
    for (const o of res.Contents ?? []) entry(o.Key!).versions.push({ latest: true });
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/**
 * Verify a whole archive: per store, the chain of push manifests, every object they name
 * (present, not deleted, not overwritten, same SHA-256, under the right key), then the store
 * verifier itself over the archived segments (hash chain, seals, checkpoint signatures, the
 * last archived checkpoint as anchor), and whether each host still pushes. Exit codes as
 * `verify`: 0 verified, 1 tampering, 2 cannot fully verify, 3 I/O.
 */
export async function verifyArchive(options: VerifyArchiveOptions): Promise<ArchiveVerifyReport> {
  const { client, location: loc } = options;
  let listed: Map<string, Listed>;
  try {
    listed = await listAll(client, loc);
  } catch (error) {
    const problem: ArchiveProblem = {
      code: 'ARCHIVE_IO_ERROR',
      kind: 'io',
      message: describeS3Error(error, `listing ${loc.url}`),
    };
    return { exitCode: 3, url: loc.url, objects: 0, stores: [], problems: [problem] };
  }
  const global: ArchiveProblem[] = [];
  const byOrigin = new Map<string, Map<string, Listed>>();
  for (const [key, l] of listed) {
    const k = parseKey(loc, key);
    if (k.kind === 'unknown') {
      global.push(
        problem(
          'ARCHIVE_UNKNOWN_KEY',
          `s3://${loc.bucket}/${key} is not an object the archive writes (moved here or planted): find who wrote it`,
        ),
      );
      continue;
    }
    if (k.kind === 'index' || k.kind === 'rollup' || k.kind === 'run-rollup') continue; // derived data, checked by rebuilding, not trusted here
    const m = byOrigin.get(k.origin) ?? new Map<string, Listed>();
    byOrigin.set(k.origin, m);
    m.set(key, l);
  }
  const origins = [...byOrigin.keys()].sort();
  const stores: ArchiveStoreReport[] = [];
  for (const [i, origin] of origins.entries()) {
    stores.push(await verifyOne(options, origin, byOrigin.get(origin)!, i, origins.length));
  }
  // A host that stopped pushing: its last push is far behind the archive's newest.
  const newest =
    stores
      .map((s) => s.lastPush ?? '')
      .sort()
      .at(-1) ?? '';
  const staleAfter = options.staleAfterMs ?? 2 * 86_400_000;
  for (const s of stores) {
    if (!s.lastPush || !newest) continue;
    const behind = Date.parse(newest) - Date.parse(s.lastPush);
    if (behind > staleAfter) {
      s.problems.push(
        problem(
          'ARCHIVE_HOST_STOPPED',
          `store ${s.origin} (host ${s.host}, ${s.store}) last pushed at ${s.lastPush}, ${Math.round(behind / 1000)} s before the archive's newest push: the host stopped pushing (check its cron job and whether it still exists); records since then are not archived`,
        ),
      );
      s.exitCode = exitOf(s.problems, s.verify);
    }
  }
  const exitCode = exitOf([...global, ...stores.map((s) => ({ kind: kindOfExit(s.exitCode) }))]);
  return { exitCode, url: loc.url, objects: listed.size, stores, problems: global };
}

function kindOfExit(code: number): ArchiveProblem['kind'] {
  return code === 1 ? 'tampering' : code === 3 ? 'io' : code === 2 ? 'unverifiable' : 'warning';
}

function problem(code: ArchiveProblemCode, message: string): ArchiveProblem {
  return { code, kind: KIND[code], message };
}

async function verifyOne(
  options: VerifyArchiveOptions,
  origin: string,
  objects: Map<string, Listed>,
  index: number,
  count: number,
): Promise<ArchiveStoreReport> {
  const { client, location: loc } = options;
  const bucket = loc.bucket;
  const url = (key: string) => `s3://${bucket}/${key}`;
  const problems: ArchiveProblem[] = [];
  const out: ArchiveStoreReport = {
    origin,
    host: null,
    store: null,
    pushes: 0,
    lastPush: null,
    segments: 0,
    exitCode: 0,
    problems,
  };
  const spool = fs.mkdtempSync(
    path.join(options.tmpDir ?? os.tmpdir(), `agent-audit-archive-${origin.slice(0, 8)}-`),
  );
  try {
    const check = (key: string, what: string): Listed | undefined => {
      const l = objects.get(key);
      if (!l || l.versions.length === 0) {
        problems.push(
          problem(
            'ARCHIVE_OBJECT_MISSING',
            `${what} ${url(key)} is missing from the archive (deleted, or never written): restore it from the host's store if it still exists`,
          ),
        );
        return undefined;
      }
      if (l.deleted)
        problems.push(
          problem(
            'ARCHIVE_OBJECT_DELETED',
            `${what} ${url(key)} has a delete marker: someone deleted it (its locked version is still read)`,
          ),
        );
      if (l.versions.length > 1)
        problems.push(
          problem(
            'ARCHIVE_OBJECT_MODIFIED',
            `${what} ${url(key)} has ${l.versions.length} versions: it was overwritten after the push (the pushed version is verified)`,
          ),
        );
      return l;
    };
    // The push manifests, in order, chained by SHA-256.
    const pushNumbers = [...objects.keys()]
      .map((k) => parseKey(loc, k))
      .filter((k) => k.kind === 'push')
      .map((k) => (k as { n: number }).n)
      .sort((a, b) => a - b);
    const manifests: PushManifest[] = [];
    let prevSha: string | null = null;
    const last = pushNumbers.at(-1) ?? 0;
    // Manifests fetched MANIFESTS at a time (a host pushing hourly for 90 days has 2,160), then
    // checked in order: each must chain to the one before it.
    const numbers = Array.from({ length: last }, (_, i) => i + 1);
    const present = new Map<number, boolean>();
    for (const n of numbers) {
      present.set(
        n,
        check(archiveKeys.push(loc, origin, n), `push manifest ${pad(n)}`) !== undefined,
      );
    }
    const bodies = new Map<number, Buffer | undefined>();
    await eachLimited(
      numbers.filter((n) => present.get(n)),
      MANIFESTS,
      async (n) => {
        const key = archiveKeys.push(loc, origin, n);
        bodies.set(
          n,
          await getBytes(client, bucket, key, objects.get(key)!.versions.at(-1)?.versionId),
        );
      },
    );
    for (const n of numbers) {
      const key = archiveKeys.push(loc, origin, n);
      if (!present.get(n)) {
        problems.push(
          problem(
            'ARCHIVE_PUSH_MISSING',
            `push ${n} of store ${origin} is missing: the continuity from push ${n - 1} to ${n + 1} cannot be checked`,
          ),
        );
        prevSha = null;
        continue;
      }
      const bytes = bodies.get(n);
      if (!bytes) continue;
      let m: PushManifest;
      try {
        m = JSON.parse(bytes.toString('utf8')) as PushManifest;
      } catch {
        problems.push(problem('ARCHIVE_OBJECT_MODIFIED', `push manifest ${url(key)} is not JSON`));
        continue;
      }
      if (m.origin !== origin || m.push !== n) {
        problems.push(
          problem(
            'ARCHIVE_OBJECT_MOVED',
            `${url(key)} is push ${m.push} of store ${m.origin}: it was moved here`,
          ),
        );
        continue;
      }
      if (n > 1 && prevSha !== null && m.prev !== prevSha) {
        problems.push(
          problem(
            'ARCHIVE_PUSH_CHAIN_BROKEN',
            `push ${n} of store ${origin} does not chain to push ${n - 1} (prev ${m.prev}, actual ${prevSha}): a manifest was replaced`,
          ),
        );
      }
      prevSha = sha256Hex(bytes);
      manifests.push(m);
    }
    out.pushes = manifests.length;
    const lastManifest = manifests.at(-1);
    out.host = lastManifest?.host ?? null;
    out.store = lastManifest?.store ?? null;
    out.lastPush = lastManifest?.time ?? null;
    // The segments the manifests name, in order; fetched below while the verifier checks them.
    const listedSegments = new Set<string>();
    const wanted: WantedSegment[] = [];
    let bytesDone = 0;
    for (const m of manifests) {
      for (const n of m.absent ?? []) {
        problems.push(
          problem(
            'ARCHIVE_SEGMENT_NOT_PUSHED',
            `segment ${n} of store ${origin} (host ${m.host}, ${m.store}) was sealed but absent from the store when push ${m.push} ran: it was deleted before it was archived`,
          ),
        );
      }
      for (const seg of m.segments) {
        listedSegments.add(seg.key);
        if (seg.key !== archiveKeys.segment(loc, origin, seg.segment)) {
          problems.push(
            problem(
              'ARCHIVE_OBJECT_MOVED',
              `push ${m.push} names ${seg.key} for segment ${seg.segment}: not its key`,
            ),
          );
        }
        if (check(seg.key, `segment ${seg.segment}`)) wanted.push({ ...seg, push: m.push });
      }
      for (const r of m.recovered ?? []) {
        if (!check(r.key, 'recovery record')) continue;
        const body = await getBytes(client, bucket, r.key, r.versionId);
        if (body && sha256Hex(body) === r.sha256) {
          fs.mkdirSync(path.join(spool, 'recovered'), { recursive: true });
          fs.writeFileSync(path.join(spool, 'recovered', path.basename(r.key)), body);
        } else if (body) {
          problems.push(
            problem(
              'ARCHIVE_OBJECT_MODIFIED',
              `recovery record ${url(r.key)} does not match its SHA-256`,
            ),
          );
        }
      }
    }
    // The head of the segment after the last sealed one: it holds the checkpoint that signs them.
    const head = lastManifest?.head;
    const streamed = wanted.map((seg) => ({ segment: seg.segment, size: seg.size }));
    let headBytes: Buffer | undefined;
    if (head && !wanted.some((seg) => seg.segment === head.segment)) {
      if (check(head.key, `head of segment ${head.segment}`)) {
        const got = await getObject(client, bucket, head.key, head.versionId);
        if (got && got.sha256 === head.sha256) {
          headBytes = got.bytes;
          streamed.push({ segment: head.segment, size: got.bytes.length });
        } else if (got) {
          problems.push(
            problem(
              'ARCHIVE_OBJECT_MODIFIED',
              `${url(head.key)} does not match the SHA-256 push ${lastManifest.push} recorded`,
            ),
          );
        }
      }
    }
    for (const key of objects.keys()) {
      const k = parseKey(loc, key);
      if (k.kind === 'segment' && !listedSegments.has(key)) {
        problems.push(
          problem(
            'ARCHIVE_UNLISTED_OBJECT',
            `${url(key)} is in no push manifest (a push that stopped before its manifest; the next push lists it)`,
          ),
        );
      }
    }
    // The checkpoints as of the last push that had any; its last line is the anchor.
    const withCp = [...manifests].reverse().find((m) => m.checkpoints);
    const trust = path.join(spool, '.trust');
    fs.mkdirSync(trust);
    const location = storePrefix(loc, origin);
    const sourceLocation = `s3://${bucket}/${location}`;
    let anchorPath: string | false = false;
    if (withCp?.checkpoints && check(withCp.checkpoints.key, 'checkpoints')) {
      const cp = await getBytes(
        client,
        bucket,
        withCp.checkpoints.key,
        withCp.checkpoints.versionId,
      );
      if (cp && sha256Hex(cp) === withCp.checkpoints.sha256) {
        fs.writeFileSync(path.join(spool, 'checkpoints.jsonl'), cp);
        const lastLine = cp.toString('utf8').trim().split('\n').at(-1)!;
        anchorPath = path.join(trust, 'anchor.jsonl');
        fs.writeFileSync(
          anchorPath,
          `${JSON.stringify({ ...JSON.parse(lastLine), store: sourceLocation })}\n`,
        );
      } else if (cp) {
        problems.push(
          problem(
            'ARCHIVE_OBJECT_MODIFIED',
            `checkpoints ${url(withCp.checkpoints.key)} do not match their SHA-256`,
          ),
        );
      }
    }
    let keys: string[] = [];
    if (options.publicKey !== undefined) {
      keys = Array.isArray(options.publicKey) ? options.publicKey : [options.publicKey];
    } else {
      for (const m of manifests) {
        for (const k of m.keys ?? []) {
          if (!check(k.key, 'public key')) continue;
          const pem = await getBytes(client, bucket, k.key, k.versionId);
          if (pem && sha256Hex(pem) === k.sha256) keys.push(pem.toString('utf8'));
        }
      }
      keys = [...new Set(keys)];
    }
    if (wanted.length > 0) {
      const segments = new SegmentFetcher(client, bucket, wanted, (seg, got) => {
        if (got.sha256 !== seg.sha256) {
          problems.push(
            problem(
              'ARCHIVE_OBJECT_MODIFIED',
              `segment ${url(seg.key)} does not match the SHA-256 push ${seg.push} recorded: modified after the push`,
            ),
          );
        }
        const header = segmentHeader(got.bytes);
        if (header.origin !== origin || header.segment !== seg.segment) {
          problems.push(
            problem(
              'ARCHIVE_OBJECT_MOVED',
              `${url(seg.key)} holds segment ${header.segment} of store ${header.origin}: it was moved here`,
            ),
          );
        }
        out.segments++;
        bytesDone += got.bytes.length;
        options.onProgress?.({ store: index + 1, stores: count, origin, bytes: bytesDone });
      });
      // The verifier asks for each segment before it reads it; the fetcher keeps PREFETCH
      // segments in flight ahead of it, so fetching overlaps checking.
      out.verify = await verifySource(
        s3SegmentSource({
          location: sourceLocation,
          dir: spool,
          streamed: {
            segments: streamed,
            load: async (n) =>
              n === head?.segment && headBytes ? { bytes: headBytes } : await segments.load(n),
          },
        }),
        {
          ...(keys.length > 0 ? { publicKey: keys } : {}),
          trustDir: trust,
          anchorPath,
          origin,
          ...(options.full ? { full: true } : {}),
          ...(options.now ? { now: options.now } : {}),
        },
      );
      // Every listed segment is checked against its manifest, read by the verifier or not.
      await segments.checkRest();
    }
  } catch (error) {
    problems.push(
      problem(
        'ARCHIVE_IO_ERROR',
        describeS3Error(error, `verifying store ${origin} in ${loc.url}`),
      ),
    );
  } finally {
    fs.rmSync(spool, { recursive: true, force: true });
  }
  out.exitCode = exitOf(problems, out.verify);
  return out;
}

type WantedSegment = PushManifest['segments'][number] & { push: number };

/**
 * The segments of one store, fetched in order as the verifier asks for them, PREFETCH ahead;
 * each is checked (`onFirst`) the first time it arrives. Only the segments ahead of the one
 * asked for are kept: one asked for again (a second pass) is fetched again.
 */
class SegmentFetcher {
  readonly #pending = new Map<number, Promise<FetchedObject>>();
  readonly #checked = new Set<number>();
  readonly #at = new Map<number, number>();

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly list: WantedSegment[],
    private readonly onFirst: (seg: WantedSegment, got: FetchedObject) => void,
  ) {
    for (const [i, seg] of list.entries()) this.#at.set(seg.segment, i);
  }

  async load(n: number): Promise<FetchedObject> {
    const i = this.#at.get(n);
    if (i === undefined) throw new Error(`segment ${n} is in no push manifest`);
    for (const [j] of this.#pending) if (j < i) this.#pending.delete(j);
    for (let j = i; j < Math.min(this.list.length, i + 1 + PREFETCH); j++) this.#start(j);
    const got = await this.#pending.get(i)!;
    this.#pending.delete(i);
    return got;
  }

  /** The segments the verifier never asked for (it stopped early): fetched and checked. */
  async checkRest(): Promise<void> {
    this.#pending.clear();
    const rest = this.list.map((_, i) => i).filter((i) => !this.#checked.has(i));
    await eachLimited(rest, PREFETCH, async (i) => {
      this.#start(i);
      await this.#pending.get(i);
      this.#pending.delete(i);
    });
  }

  #start(i: number): void {
    if (this.#pending.has(i)) return;
    const seg = this.list[i]!;
    const p = getObject(this.client, this.bucket, seg.key, seg.versionId, {
      lastLine: true,
    }).then((got) => {
      if (!got) {
        throw new Error(
          `s3://${this.bucket}/${seg.key} (version ${seg.versionId ?? 'latest'}) could not be read: listed, then not found`,
        );
      }
      if (!this.#checked.has(i)) {
        this.#checked.add(i);
        this.onFirst(seg, got);
      }
      return got;
    });
    p.catch(() => undefined); // a failure is reported where it is awaited
    this.#pending.set(i, p);
  }
}
