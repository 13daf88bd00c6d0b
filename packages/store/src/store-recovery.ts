import { createHash, type Hash, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type AnchorEntry, type AnchorRead, readAnchorFile } from './anchor-file.js';
import { StoreError } from './errors.js';
import { computeLineHash, GENESIS_HASH, parseEnvelope } from './record-format.js';
import { findRecord, listSegments, type SegmentFile, scanLines } from './segment-files.js';
import {
  attestedPoint,
  checkClosed,
  type Scanned,
  unconfirmedOwnClose,
  validCheckpoint,
  witnessEnd,
} from './session-checks.js';
import { type ChainPoint, type SeqRange, witnessPath } from './session-records.js';
import { STORE_CHECKPOINTS_FILE } from './store-paths.js';
import type { StoreNotice } from './types.js';

export const DAMAGED_SUFFIX = '.damaged';

export interface RecoveryInput {
  /** Absolute store directory. */
  dir: string;
  anchorPath: string;
  /** The writer's public key: signed records found in the store are checked against it. */
  publicKey: KeyObject;
}

/** A store without segments: the writer creates segment 1 under a fresh origin. */
export interface CreatePlan {
  kind: 'create';
}

/**
 * What the writer must do to open an existing store, worked out by reading only: every check
 * has passed by the time a plan exists, so applying it destroys nothing that was checked.
 */
export interface OpenPlan {
  kind: 'open';
  origin: string;
  /** The newest segment. */
  last: SegmentFile;
  /** Bytes of `last` that stay; `[keepBytes, last.size)` is set aside when non-empty. */
  keepBytes: number;
  reason: 'torn-tail' | 'unsynced-tail' | 'fsync-failed' | 'close-unconfirmed';
  /** A valid `.damaged` marker: the segment is sealed as damaged after recovery. */
  marker?: { path: string; durableOffset: number };
  /** The last record that stays. */
  head: ChainPoint;
  /** Type of the last record that stays in `last` (undefined when none stays). */
  lastType: string | undefined;
  segmentFirstSeq: number;
  segmentRecords: number;
  /** SHA-256 state over the bytes that stay. */
  segmentDigest: Hash;
  /** Creation time of `last` from its header (ms), when it has one. */
  segmentCreated: number | undefined;
  /** `closed` iff what stays ends with `store.close` and its checkpoint. */
  previous: 'closed' | 'crashed';
  /** Highest record the previous writer is known to have acknowledged. */
  attested: ChainPoint;
  /** Records after `attested` no one acknowledged (signed checkpoints excluded), or null. */
  unattested: SeqRange | null;
  /** Notices for the operator (e.g. the anchor holds nothing of this store). */
  notices: StoreNotice[];
}

export type RecoveryPlan = CreatePlan | OpenPlan;

export const KEEP_PAYLOAD = new Set(['checkpoint', 'store.close', 'session.open']);

/**
 * Decide how to open the store at `input.dir`, in the order docs/store-format.md gives
 * ("Recovery"): list segments → read anchor and checkpoint log → origin → identity → scan the
 * newest segment → validate a `.damaged` marker → damaged-line rule → anchor check against the
 * head after the cuts → closed-store rule → attested range. Throws the StoreError that
 * refuses the open; reads only, so it can be called without a lock or a writer.
 */
export function planRecovery(input: RecoveryInput): RecoveryPlan {
  const { dir, anchorPath } = input;
  const segments = listSegments(dir);
  const anchor = readAnchorFile(anchorPath);
  const storeLog = readAnchorFile(path.join(dir, STORE_CHECKPOINTS_FILE));
  if (segments.length === 0) {
    const behind = anchor?.entries.find((e) => e.store === dir);
    if (behind) {
      throw new StoreError(
        'STORE_BEHIND_ANCHOR',
        `refusing to open audit store ${dir}: it has no segments, but the anchor ${anchorPath} holds a checkpoint of this directory at seq ${behind.size} (origin ${behind.origin}). The store was deleted or rolled back: restore it. To start a new store here on purpose, keep the old anchor as evidence and give the writer another anchor file (anchorPath / trust directory).`,
        { dir },
      );
    }
    return { kind: 'create' };
  }
  const last = segments[segments.length - 1]!;
  const origin = originOf(dir, segments);
  checkIdentity(dir, anchorPath, anchor, origin);

  const logged = [...(anchor?.entries ?? []), ...(storeLog?.entries ?? [])].filter(
    (e) => e.origin === origin,
  );
  let anchored = 0;
  for (const e of logged) anchored = Math.max(anchored, e.size);

  // Scan the newest segment: records, running digest, header, damaged lines.
  let header: { created: number } | undefined;
  const records: Scanned[] = [];
  const digest = createHash('sha256');
  let damagedLine: { offset: number; reason: string; zeros: boolean } | undefined;
  /** Highest seq of the intact records before the first damaged line. */
  let intactSeq: number | undefined;
  let count = 0;
  const lineStarts = new Set<number>([0]);
  const scan = scanLines(last.path, (buf, start, end, offset) => {
    lineStarts.add(offset + end - start + 1);
    digest.update(buf.subarray(start, end + 1));
    count += 1;
    const env = parseEnvelope(buf, start, end);
    // A page a power cut lost reads as zeros: the signature of an unsynced tail.
    const zeros = () => {
      const nul = buf.indexOf(0, start);
      return nul !== -1 && nul < end;
    };
    if (typeof env === 'string') {
      damagedLine ??= { offset, reason: env, zeros: zeros() };
      return;
    }
    if (computeLineHash(buf, start, end) !== env.hash) {
      damagedLine ??= { offset, reason: 'hash mismatch', zeros: zeros() };
    } else if (!damagedLine) intactSeq = env.seq;
    if (count === 1 && env.type === 'segment.open') {
      const h = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as {
        created: string;
      };
      header = { created: Date.parse(h.created) };
    }
    const r: Scanned = {
      seq: env.seq,
      hash: env.hash,
      type: env.type,
      offset,
      end: offset + end - start + 1,
    };
    if (KEEP_PAYLOAD.has(env.type)) {
      r.payload = buf.toString('utf8', env.payloadStart, env.payloadEnd);
    }
    records.push(r);
  });

  // The protected end: the end of the last anchored/logged checkpoint record or of the record
  // the writer witness names, whichever is later (0 when neither lies in this segment). Every
  // record before it was acknowledged by a writer; no cut below it is ever made (the one rule
  // every cut path below is checked against before anything is moved).
  const signedEnd = records.find((r) => r.seq === anchored + 1)?.end ?? 0;
  const witness = witnessEnd(
    dir,
    anchorPath,
    origin,
    records,
    segments,
    damagedLine ? { intactSeq, completeBytes: scan.completeBytes } : undefined,
  );
  const protectedEnd = Math.max(signedEnd, witness.end);
  const protectedBy =
    witness.end > signedEnd
      ? `the record the writer witness ${witnessPath(anchorPath, origin)} names`
      : `the checkpoint the anchor ${anchorPath} confirms`;

  const markerPath = `${last.path}${DAMAGED_SUFFIX}`;
  let marker: OpenPlan['marker'];
  if (fs.existsSync(markerPath)) {
    marker = validateMarker(dir, markerPath, last, lineStarts, protectedEnd, protectedBy);
  }

  if (damagedLine && !isUnsyncedTail(damagedLine, intactSeq, anchored, segments, last.segment)) {
    throw new StoreError(
      'STORE_DAMAGED',
      `refusing to open audit store ${dir}: segment ${last.segment} has a damaged record at byte ${damagedLine.offset} (${damagedLine.reason}); run agent-audit verify`,
      { dir },
    );
  }

  // Where the trusted bytes end: after the last newline, or the durable offset of a segment
  // whose fdatasync failed (later bytes were never acknowledged).
  let keepBytes = scan.completeBytes;
  let reason: OpenPlan['reason'] = 'torn-tail';
  if (damagedLine) {
    // Lines a power cut left with holes, and everything after them, were never
    // acknowledged: an fdatasync that had completed would have covered the holes too.
    keepBytes = damagedLine.offset;
    reason = 'unsynced-tail';
  }
  if (marker && marker.durableOffset < keepBytes) {
    keepBytes = marker.durableOffset;
    reason = 'fsync-failed';
  }
  // A close cut short (a power cut kept its store.close but not the checkpoint after it) is
  // not a close: its store.close goes aside with the rest of the unconfirmed tail. Only this
  // writer's own close, naming the record before it, after everything acknowledged, can be
  // one; any other store.close ending the segment was put there.
  const wholeBefore = records.filter((r) => r.end <= keepBytes);
  const lastWhole = wholeBefore.at(-1);
  if (lastWhole?.type === 'store.close') {
    const prev = wholeBefore.at(-2);
    const before: ChainPoint = prev
      ? { seq: prev.seq, hash: prev.hash }
      : headOfSegmentBefore(segments, last.segment);
    if (
      lastWhole.offset < protectedEnd ||
      !unconfirmedOwnClose(lastWhole, before, input.publicKey, origin)
    ) {
      throw new StoreError(
        'STORE_DAMAGED',
        `refusing to open audit store ${dir}: segment ${last.segment} ends with a store.close at seq ${lastWhole.seq} without the checkpoint that follows every close, and it is not a close this writer left unfinished (${lastWhole.offset < protectedEnd ? `the previous writer had acknowledged it: it lies before the end of ${protectedBy}` : 'not signed by this writer for this store and the record before it'}); nothing was moved. Run agent-audit verify.`,
        { dir },
      );
    }
    keepBytes = lastWhole.offset;
    if (reason === 'torn-tail') reason = 'close-unconfirmed';
  }
  if (keepBytes < protectedEnd) {
    throw new StoreError(
      'STORE_DAMAGED',
      `refusing to open audit store ${dir}: recovery would set aside bytes from offset ${keepBytes} of segment ${last.segment}, before the end of ${protectedBy} (offset ${protectedEnd}): records there were acknowledged by the previous writer, so this is not what a crash or power cut leaves. Nothing was moved. Run agent-audit verify.`,
      { dir },
    );
  }

  const kept = records.filter((r) => r.end <= keepBytes);
  let segmentDigest = digest;
  let segmentRecords = count;
  if (keepBytes < scan.completeBytes) {
    // Rescan the kept prefix for the digest.
    segmentDigest = createHash('sha256');
    segmentRecords = 0;
    scanLines(
      last.path,
      (buf, start, end) => {
        segmentDigest.update(buf.subarray(start, end + 1));
        segmentRecords += 1;
      },
      { to: keepBytes },
    );
  }
  const lastKept = kept[kept.length - 1];
  const head: ChainPoint = lastKept
    ? { seq: lastKept.seq, hash: lastKept.hash }
    : headOfSegmentBefore(segments, last.segment);

  const notices: StoreNotice[] = [];
  checkAnchor(dir, anchorPath, anchor, origin, head, segments, notices);
  // A witness ahead of the store or contradicting it: acknowledged records were cut off or
  // rewritten (after the anchor check, whose refusal says more when both apply).
  if (witness.refusal) throw witness.refusal;

  const previous = checkClosed(
    dir,
    anchored,
    input.publicKey,
    origin,
    kept,
    anchor,
    segments,
    head,
  );

  const attested = attestedPoint(anchorPath, origin, logged, kept, segments, head);
  let unattested: SeqRange | null = null;
  if (previous === 'crashed' && attested.seq < head.seq) {
    const firstKept = kept[0]?.seq ?? head.seq + 1;
    let fromSeq: number | undefined;
    let toSeq: number | undefined;
    if (attested.seq + 1 < firstKept) fromSeq = attested.seq + 1;
    for (const r of kept) {
      if (r.seq <= attested.seq) continue;
      if (r.type === 'checkpoint' && validCheckpoint(r, input.publicKey, origin)) continue;
      fromSeq ??= r.seq;
      toSeq = r.seq;
    }
    if (fromSeq !== undefined) unattested = { fromSeq, toSeq: toSeq ?? head.seq };
  }

  return {
    kind: 'open',
    origin,
    last,
    keepBytes,
    reason,
    ...(marker ? { marker } : {}),
    head,
    lastType: lastKept?.type,
    segmentFirstSeq: records[0]?.seq ?? head.seq + 1,
    segmentRecords,
    segmentDigest,
    segmentCreated: header?.created,
    previous,
    attested,
    unattested,
    notices,
  };
}

/**
 * The origin bound to a store path is the origin of the first anchor line naming it. Records
 * of another origin, or of an origin the anchor knows only under another path, are another
 * store's: the writer must not sign over them.
 */
function checkIdentity(
  dir: string,
  anchorPath: string,
  anchor: AnchorRead | undefined,
  origin: string,
): void {
  const entries = anchor?.entries ?? [];
  const bound = entries.find((e) => e.store === dir);
  if (bound && bound.origin !== origin) {
    throw new StoreError(
      'STORE_IDENTITY_MISMATCH',
      `refusing to open audit store ${dir}: the anchor ${anchorPath} binds this directory to origin ${bound.origin}, but its segments are of origin ${origin}. The store was replaced or rewritten: restore the original store and run agent-audit verify. To start a new store here on purpose, keep the old anchor as evidence and give the writer another anchor file (anchorPath / trust directory).`,
      { dir },
    );
  }
  if (!bound) {
    const elsewhere = entries.find((e) => e.origin === origin && e.store !== undefined);
    if (elsewhere && !entries.some((e) => e.origin === origin && e.store === undefined)) {
      throw new StoreError(
        'STORE_IDENTITY_MISMATCH',
        `refusing to open audit store ${dir}: its records (origin ${origin}) belong to store ${elsewhere.store} according to the anchor ${anchorPath}. Open that store instead, or, if it was moved on purpose, give the moved store its own anchor file (anchorPath / trust directory) and keep the old anchor as evidence.`,
        { dir },
      );
    }
  }
}

function validateMarker(
  dir: string,
  markerPath: string,
  last: SegmentFile,
  lineStarts: ReadonlySet<number>,
  protectedEnd: number,
  protectedBy: string,
): { path: string; durableOffset: number } {
  let durableOffset: unknown;
  try {
    durableOffset = (JSON.parse(fs.readFileSync(markerPath, 'utf8')) as { durableOffset?: unknown })
      .durableOffset;
  } catch {
    durableOffset = undefined;
  }
  const bad = (why: string) =>
    new StoreError(
      'STORE_DAMAGED',
      `refusing to open audit store ${dir}: the recovery marker ${markerPath} is not valid (${why}); nothing was moved. A marker is written only when an fdatasync fails; if this one was planted, remove it and run agent-audit verify.`,
      { dir },
    );
  if (
    typeof durableOffset !== 'number' ||
    !Number.isSafeInteger(durableOffset) ||
    durableOffset < 0
  ) {
    throw bad('durableOffset is not a non-negative integer');
  }
  if (durableOffset > last.size)
    throw bad(`durableOffset ${durableOffset} is beyond the file size ${last.size}`);
  if (!lineStarts.has(durableOffset))
    throw bad(`durableOffset ${durableOffset} is not on a line boundary`);
  if (durableOffset < protectedEnd) {
    throw bad(
      `durableOffset ${durableOffset} is before the end of ${protectedBy} (offset ${protectedEnd}), which was durable when it was acknowledged`,
    );
  }
  return { path: markerPath, durableOffset };
}

/**
 * Whether damage in the newest segment is what a power cut leaves, which recovery may cut
 * off: the damaged line holds zeros (a lost page) and lies after every record the anchor (or
 * the store's checkpoint log) confirms. An anchored checkpoint was durable before it was
 * anchored, so damage at or before it, or damage without zeros, is tampering.
 */
function isUnsyncedTail(
  damage: { zeros: boolean },
  intactSeq: number | undefined,
  anchored: number,
  segments: SegmentFile[],
  lastSegment: number,
): boolean {
  if (!damage.zeros) return false;
  if (anchored === 0) return true;
  const before = intactSeq ?? headOfSegmentBefore(segments, lastSegment).seq;
  // The anchored checkpoint record itself is seq `anchored + 1`.
  return before >= anchored + 1;
}

/** Refuse to write behind the anchor: that would bury a truncation or rollback. */
function checkAnchor(
  dir: string,
  anchorPath: string,
  anchor: AnchorRead | undefined,
  origin: string,
  head: ChainPoint,
  segments: SegmentFile[],
  notices: StoreNotice[],
): void {
  let newest: AnchorEntry | undefined;
  for (const e of anchor?.entries ?? []) {
    if (e.origin === origin && (!newest || e.size > newest.size)) newest = e;
  }
  if (!newest) {
    // Not fatal (a new anchor location, an upgrade), but the rollback check it provides
    // starts over from here: say so, since an unmounted anchor volume looks the same.
    notices.push({
      code: 'ANCHOR_MISSING',
      message: `audit store ${dir} already has records but its anchor ${anchorPath} holds no checkpoint of it; truncation or rollback before now cannot be detected through this anchor`,
    });
    return;
  }
  if (newest.size > head.seq) {
    throw new StoreError(
      'STORE_BEHIND_ANCHOR',
      `refusing to open audit store ${dir}: its anchor ${anchorPath} holds a checkpoint at seq ${newest.size}, but the store ends at seq ${head.seq}. Records were truncated or the store was rolled back; restore the missing segments, then run agent-audit verify.`,
      { dir },
    );
  }
  const at = newest.size === head.seq ? head.hash : findRecord(segments, newest.size)?.hash;
  if (at !== undefined && at !== newest.head) {
    throw new StoreError(
      'STORE_ANCHOR_MISMATCH',
      `refusing to open audit store ${dir}: the record at seq ${newest.size} does not match the checkpoint in the anchor ${anchorPath}; the store was rewritten. Run agent-audit verify.`,
      { dir },
    );
  }
}

/** The origin from the newest segment's header, else from the earliest segment that has one. */
function originOf(dir: string, segments: SegmentFile[]): string {
  const ordered = [segments[segments.length - 1]!, ...segments.slice(0, -1)];
  for (const s of ordered) {
    let origin: string | undefined;
    let first = true;
    scanLines(
      s.path,
      (buf, start, end) => {
        if (!first) return;
        first = false;
        const env = parseEnvelope(buf, start, end);
        if (typeof env !== 'string' && env.type === 'segment.open') {
          origin = (
            JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as { origin: string }
          ).origin;
        }
      },
      { to: Math.min(s.size, 64 * 1024) },
    );
    if (origin) return origin;
  }
  throw new StoreError(
    'STORE_DAMAGED',
    `audit store ${dir}: no segment header found; run agent-audit verify`,
    { dir },
  );
}

/** The last record of the segment before `segment` (genesis when there is none). */
export function headOfSegmentBefore(segments: SegmentFile[], segment: number): ChainPoint {
  const before = segments.filter((s) => s.segment < segment);
  const prevSeg = before[before.length - 1];
  let head: ChainPoint = { seq: 0, hash: GENESIS_HASH };
  if (!prevSeg) return head;
  scanLines(prevSeg.path, (buf, start, end) => {
    const env = parseEnvelope(buf, start, end);
    if (typeof env !== 'string') head = { seq: env.seq, hash: env.hash };
  });
  return head;
}
