import { createHash, type Hash, type KeyObject } from 'node:crypto';
import * as path from 'node:path';
import { canonicalJson } from './canonical-json.js';
import { signCheckpoint } from './checkpoint.js';
import { type FsLayer, fsyncDirSync, noFollow, writeFullySync } from './fs-layer.js';
import { type EncodedRecord, encodeRecord, FORMAT_VERSION } from './record-format.js';
import { segmentFileName } from './segment-files.js';
import type { ChainPoint } from './session-records.js';
import { DAMAGED_SUFFIX } from './store-recovery.js';
import type { SignedCheckpoint } from './types.js';

/** What a `segment.seal` record states about the segment it closes. */
export interface SealFacts {
  segment: number;
  firstSeq: number;
  lastSeq: number;
  records: number;
  bytes: number;
  sha256: string;
  damaged: boolean;
}

export function encodeSeal(prev: ChainPoint, time: string, facts: SealFacts): EncodedRecord {
  return encodeRecord(prev.hash, prev.seq + 1, time, 'segment.seal', '{}', canonicalJson(facts));
}

/** A checkpoint over `prev`, signed, and its record chained after `prev`. */
export function encodeCheckpoint(
  prev: ChainPoint,
  origin: string,
  time: string,
  keyId: string,
  privateKey: KeyObject,
): { record: EncodedRecord; checkpoint: SignedCheckpoint } {
  const checkpoint = signCheckpoint(
    { origin, size: prev.seq, head: prev.hash, time, keyId },
    privateKey,
  );
  const record = encodeRecord(
    prev.hash,
    prev.seq + 1,
    time,
    'checkpoint',
    '{}',
    canonicalJson(checkpoint),
  );
  return { record, checkpoint };
}

/** The first records of segment `n`: its `segment.open` header and, optionally, a checkpoint. */
export function encodeSegmentStart(
  prev: ChainPoint,
  n: number,
  origin: string,
  now: Date,
  signer: { keyId: string; privateKey: KeyObject } | undefined,
): { records: EncodedRecord[]; checkpoint: SignedCheckpoint | undefined } {
  const time = now.toISOString();
  const header = encodeRecord(
    prev.hash,
    prev.seq + 1,
    time,
    'segment.open',
    '{}',
    canonicalJson({ format: FORMAT_VERSION, origin, segment: n, created: time }),
  );
  if (!signer) return { records: [header], checkpoint: undefined };
  const { record, checkpoint } = encodeCheckpoint(
    header,
    origin,
    time,
    signer.keyId,
    signer.privateKey,
  );
  return { records: [header, record], checkpoint };
}

/** The segment the writer appends to. */
export interface SegmentState {
  segment: number;
  fd: number;
  /** Durable end (everything before it has been fdatasync'd). */
  offset: number;
  firstSeq: number;
  /** Records in the segment so far (its seal states the count). */
  records: number;
  /** Creation time (ms), from its header. */
  created: number;
  /** SHA-256 state over the segment's bytes so far. */
  digest: Hash;
}

/**
 * Create segment `n` (0600) with its header record chained after `prev` and, with a signer, a
 * checkpoint; durable (file and directory synced) before it returns.
 */
export function createSegment(
  layer: FsLayer,
  segDir: string,
  n: number,
  prev: ChainPoint,
  origin: string,
  now: Date,
  signer: { keyId: string; privateKey: KeyObject } | undefined,
): { state: SegmentState; head: ChainPoint; checkpoint: SignedCheckpoint | undefined } {
  const fd = layer.openSync(path.join(segDir, segmentFileName(n)), noFollow('wx'), 0o600);
  const { records, checkpoint } = encodeSegmentStart(prev, n, origin, now, signer);
  const buf = Buffer.from(records.map((r) => r.line).join(''));
  writeFullySync(layer, fd, buf, 0);
  layer.fdatasyncSync(fd);
  fsyncDirSync(layer, segDir);
  const head = records[records.length - 1]!;
  return {
    state: {
      segment: n,
      fd,
      offset: buf.length,
      firstSeq: records[0]!.seq,
      records: records.length,
      created: now.getTime(),
      digest: createHash('sha256').update(buf),
    },
    head: { seq: head.seq, hash: head.hash },
    checkpoint,
  };
}

/**
 * After a failed fdatasync: record, durably, where the trusted bytes of the segment end, so
 * that the next open sets the rest aside and seals the segment as damaged. Best effort: the
 * next open also distrusts an unacknowledged tail without it.
 */
export function writeDamagedMarker(
  layer: FsLayer,
  segDir: string,
  seg: SegmentState,
  reason: string,
): void {
  const marker = path.join(segDir, `${segmentFileName(seg.segment)}${DAMAGED_SUFFIX}`);
  try {
    const text = `${canonicalJson({ durableOffset: seg.offset, reason, time: new Date().toISOString() })}\n`;
    const fd = layer.openSync(marker, noFollow('w'), 0o600);
    try {
      writeFullySync(layer, fd, Buffer.from(text), 0);
      layer.fsyncSync(fd);
    } finally {
      layer.closeSync(fd);
    }
  } catch {
    // See above.
  }
}
