import * as fs from 'node:fs';
import * as path from 'node:path';
import { localSegmentSource, type SegmentSource, type SourceSegment } from '@agent-audit/store';
import { pad } from './archive-keys.js';

/** One archived store's objects (see `s3SegmentSource`). */
export interface SpooledStore {
  /** `s3://bucket/prefix/stores/<origin>/`. */
  location: string;
  /** Directory laid out like a store (`checkpoints.jsonl`, `recovered/`, and `segments/` when not streamed). */
  dir: string;
  /**
   * The segments, known from the push manifests before their bytes are fetched (number and
   * size), and how to get the bytes of one: the verifier asks (`ready`) before it reads a
   * segment, in order, and again when it reads one a second time (a record-by-record pass
   * after a failed seal digest, the retention check). Absent: the segments are in the spool.
   */
  streamed?: {
    segments: Array<{ segment: number; size: number }>;
    /** The bytes, and the SHA-256 of those before the last line when the fetch computed it. */
    load(
      n: number,
    ): Promise<{ bytes: Buffer; beforeLastLine?: { offset: number; sha256: string } }>;
  };
}

/**
 * The `SegmentSource` of an archived store. The store's verifier reads synchronously; S3 is
 * asynchronous. The verifier awaits `ready` before it reads a segment: the source then holds
 * that segment's bytes in memory (`load` fetches them, and fetches the next ones meanwhile) and
 * drops the one before, so memory holds a few segments, not the store, and nothing is written
 * to disk and read back. Checkpoints and recovery records (small) come from a private spool
 * directory. Every message names the S3 location.
 */
export function s3SegmentSource(spooled: SpooledStore): SegmentSource {
  const local = localSegmentSource(spooled.dir);
  const root = path.resolve(spooled.dir);
  // Segments are named by their S3 URL in every message; read from their spooled copy.
  const spoolOf = new Map<string, string>();
  const toLocal = (segment: SourceSegment): SourceSegment => ({
    ...segment,
    name: spoolOf.get(segment.name) ?? segment.name,
  });
  const named = (segment: number, file: string, size: number): SourceSegment => {
    const name = `${spooled.location}segments/${path.basename(file)}`;
    spoolOf.set(name, file);
    return { segment, size, name };
  };
  const streamed = spooled.streamed;
  if (!streamed) {
    return {
      location: spooled.location,
      exists: () => fs.existsSync(root),
      segments: () => local.segments().map((s) => named(s.segment, s.name, s.size)),
      scan: (segment, onLine, options) => local.scan(toLocal(segment), onLine, options),
      read: (segment, offset, length) => local.read(toLocal(segment), offset, length),
      sideFile: (relative) => local.sideFile(relative),
      links: () => [],
    };
  }
  let held:
    | { segment: number; bytes: Buffer; beforeLastLine?: { offset: number; sha256: string } }
    | undefined;
  const bytesOf = (segment: SourceSegment): Buffer => {
    if (held?.segment !== segment.segment) {
      throw new Error(`${segment.name} was read before the verifier asked for it (ready)`);
    }
    return held.bytes;
  };
  return {
    location: spooled.location,
    exists: () => fs.existsSync(root),
    segments: () =>
      streamed.segments.map((s) => ({
        segment: s.segment,
        size: s.size,
        name: `${spooled.location}segments/${pad(s.segment)}.jsonl`,
      })),
    ready: async (segment: SourceSegment) => {
      if (held?.segment !== segment.segment) {
        held = undefined;
        held = { segment: segment.segment, ...(await streamed.load(segment.segment)) };
      }
      // The bytes fetched decide: a segment whose length differs from its manifest's is read
      // whole (its SHA-256 mismatch is reported by the archive check).
      segment.size = held.bytes.length;
    },
    scan: (segment, onLine, options) => scanBuffer(bytesOf(segment), onLine, options),
    read: (segment, offset, length) => {
      const bytes = bytesOf(segment);
      const from = Math.min(Math.max(0, offset), bytes.length);
      return bytes.subarray(from, Math.min(bytes.length, from + Math.max(0, length)));
    },
    // Computed by this process over these bytes as they arrived (held, never modified).
    digestBefore: (segment, offset) =>
      held?.segment === segment.segment &&
      held.beforeLastLine?.offset === offset &&
      segment.size === held.bytes.length
        ? held.beforeLastLine.sha256
        : undefined,
    sideFile: (relative) => local.sideFile(relative),
    links: () => [],
  };
}

/** `scanLines` over bytes in memory: one chunk, the complete lines of [0, `to`). */
function scanBuffer(
  bytes: Buffer,
  onLine: Parameters<SegmentSource['scan']>[1],
  options: Parameters<SegmentSource['scan']>[2],
): ReturnType<SegmentSource['scan']> {
  const to = Math.min(options.to, bytes.length);
  if (to <= 0) return { completeBytes: 0, tornBytes: 0 };
  options.onChunk?.(to, bytes.subarray(0, to), 0);
  let lineStart = 0;
  let nl = bytes.indexOf(0x0a, 0);
  while (nl !== -1 && nl < to) {
    if (onLine(bytes, lineStart, nl, lineStart) === false) {
      return { completeBytes: nl + 1, tornBytes: 0 };
    }
    lineStart = nl + 1;
    nl = lineStart < to ? bytes.indexOf(0x0a, lineStart) : -1;
  }
  return { completeBytes: lineStart, tornBytes: to - lineStart };
}
