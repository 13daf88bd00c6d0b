import { hash as oneShotHash } from 'node:crypto';
import { FORMAT_VERSION, parseEnvelope } from '../record-format.js';
import { RECOVERED_DIR } from '../store-paths.js';
import type { VerifyRecovery } from '../types.js';
import type { SegmentSource, SourceSegment } from './segment-source.js';
import { payloadOf, type RecordAt, type VerifyState } from './verify-state.js';

/** A segment header (`segment.open`): first line, this origin, the number of its file. */
export function checkHeader(
  state: VerifyState,
  buf: Buffer,
  env: RecordAt,
  first: boolean,
  segment: number,
): void {
  const p = payloadOf(buf, env);
  if (!first) {
    state.log.add(
      'SEGMENT_HEADER_MISPLACED',
      `segment ${segment} has a header in the middle`,
      segment,
      env.seq,
    );
  }
  if (!p || typeof p.origin !== 'string' || p.format !== FORMAT_VERSION) {
    state.log.add(
      'SEGMENT_HEADER_INVALID',
      `segment ${segment} header is invalid`,
      segment,
      env.seq,
    );
    return;
  }
  if (state.origin === null) {
    state.origin = p.origin;
  } else if (p.origin !== state.origin) {
    state.log.add(
      'ORIGIN_MISMATCH',
      `segment ${segment} belongs to store ${p.origin}, not ${state.origin}`,
      segment,
      env.seq,
    );
  }
  if (p.segment !== segment) {
    state.log.add(
      'SEGMENT_RENAMED',
      `file of segment ${segment} holds segment ${String(p.segment)} (moved or renamed)`,
      segment,
      env.seq,
    );
  }
}

/** A seal (`segment.seal`) against the segment's bytes, record count and last seq. */
export function checkSeal(
  state: VerifyState,
  buf: Buffer,
  env: RecordAt,
  segment: number,
  offset: number,
  recordsBefore: number,
  /** SHA-256 of the segment's bytes before this line; undefined when not computed. */
  actual: string | undefined,
): void {
  const p = payloadOf(buf, env);
  if (
    !p ||
    p.segment !== segment ||
    p.bytes !== offset ||
    p.records !== recordsBefore ||
    p.lastSeq !== env.seq - 1 ||
    p.sha256 !== actual
  ) {
    state.log.add(
      'SEGMENT_SEAL_MISMATCH',
      `segment ${segment}: the seal record does not match the segment's bytes or record count`,
      segment,
      env.seq,
    );
  }
  if (p?.damaged === true) {
    state.log.add(
      'SEGMENT_SEALED_DAMAGED',
      `segment ${segment} was sealed as damaged after an fsync failure; unacknowledged bytes were set aside`,
      segment,
      env.seq,
    );
  }
}

/** A `recovery` record: well-formed, and its set-aside bytes still there and unchanged. */
export function noteRecovery(
  state: VerifyState,
  buf: Buffer,
  env: RecordAt,
  segment: number,
): void {
  const p = payloadOf(buf, env);
  if (
    !p ||
    typeof p.file !== 'string' ||
    typeof p.length !== 'number' ||
    typeof p.sha256 !== 'string'
  ) {
    state.log.add(
      'RECOVERY_MALFORMED',
      `segment ${segment} seq ${env.seq}: malformed recovery record`,
      segment,
      env.seq,
    );
    return;
  }
  const recovery: VerifyRecovery = {
    seq: env.seq,
    segment,
    tornSegment: Number(p.segment),
    offset: Number(p.offset),
    length: p.length,
    sha256: p.sha256,
    file: p.file,
    reason: String(p.reason),
  };
  state.recoveries.push(recovery);
  if (!p.file.startsWith(`${RECOVERED_DIR}/`) || p.file.includes('..')) {
    state.log.add(
      'RECOVERY_MALFORMED',
      `recovery record at seq ${env.seq} names a file outside recovered/`,
      segment,
      env.seq,
    );
    return;
  }
  let bytes: Buffer | undefined;
  try {
    bytes = state.source.sideFile(p.file);
  } catch {
    bytes = undefined;
  }
  if (!bytes) {
    state.log.add(
      'RECOVERED_BYTES_MISSING',
      `the set-aside bytes ${p.file} (recovery at seq ${env.seq}) are missing`,
      segment,
      env.seq,
    );
  } else if (bytes.length !== p.length || oneShotHash('sha256', bytes, 'hex') !== p.sha256) {
    state.log.add(
      'RECOVERED_BYTES_CHANGED',
      `the set-aside bytes ${p.file} do not match recovery record ${env.seq}`,
      segment,
      env.seq,
    );
  }
}

/**
 * Where a sealed segment's seal line starts and the digest it promises, read from the tail of
 * the segment; undefined when the segment does not end in an intact seal (then no fast path).
 */
export function sealOf(
  source: SegmentSource,
  seg: SourceSegment,
): { offset: number; sha256: string } | undefined {
  if (seg.size < 2) return undefined;
  try {
    const tailSize = Math.min(seg.size, 64 * 1024);
    const tail = source.read(seg, seg.size - tailSize, tailSize);
    if (tail.length !== tailSize || tail[tailSize - 1] !== 0x0a) return undefined;
    const lineStart = tail.lastIndexOf(0x0a, tailSize - 2) + 1;
    if (lineStart === 0 && tailSize < seg.size) return undefined;
    const env = parseEnvelope(tail, lineStart, tailSize - 1);
    if (typeof env === 'string' || env.type !== 'segment.seal') return undefined;
    const p = JSON.parse(tail.toString('utf8', env.payloadStart, env.payloadEnd)) as {
      bytes?: unknown;
      sha256?: unknown;
    };
    const offset = seg.size - tailSize + lineStart;
    if (p.bytes !== offset || typeof p.sha256 !== 'string') return undefined;
    return { offset, sha256: p.sha256 };
  } catch {
    return undefined;
  }
}

/** The origin named by a segment's header (its first line), if readable. */
export function peekOrigin(source: SegmentSource, seg: SourceSegment): string | null {
  const head = source.read(seg, 0, 256 * 1024);
  const nl = head.indexOf(0x0a);
  if (nl < 0) return null;
  const env = parseEnvelope(head, 0, nl);
  if (typeof env === 'string' || env.type !== 'segment.open') return null;
  const p = payloadOf(head, env);
  return typeof p?.origin === 'string' ? p.origin : null;
}
