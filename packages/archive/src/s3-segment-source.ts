import * as fs from 'node:fs';
import * as path from 'node:path';
import { localSegmentSource, type SegmentSource, type SourceSegment } from '@agent-audit/store';
import { pad } from './archive-keys.js';

/** One archived store's objects, fetched into a spool (see `s3SegmentSource`). */
export interface SpooledStore {
  /** `s3://bucket/prefix/stores/<origin>/`. */
  location: string;
  /** Directory laid out like a store (`segments/`, `checkpoints.jsonl`, `recovered/`). */
  dir: string;
  /**
   * The segments, known from the push manifests before their bytes are fetched (number and
   * size), and a promise per segment that resolves once its bytes are in the spool. Absent:
   * the segments already in the spool.
   */
  streamed?: {
    segments: Array<{ segment: number; size: number }>;
    /** Resolves with the segment's size in the spool once it is there. */
    ready(n: number): Promise<number>;
  };
}

/**
 * The `SegmentSource` of an archived store. The store's verifier reads synchronously in
 * large chunks; S3 is asynchronous. So the objects of ONE store are streamed into a private
 * spool directory (each checked against its manifest's SHA-256 on the way) while the verifier
 * reads them through this source — it awaits `ready` before each segment, so fetching the next
 * segments overlaps checking this one — and every message names the S3 location. Then the
 * spool is removed and the next store is fetched: disk use is one store at a time.
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
  return {
    location: spooled.location,
    exists: () => fs.existsSync(root),
    segments: () =>
      streamed
        ? streamed.segments.map((s) =>
            named(s.segment, path.join(root, 'segments', `${pad(s.segment)}.jsonl`), s.size),
          )
        : local.segments().map((s) => named(s.segment, s.name, s.size)),
    ...(streamed
      ? {
          ready: async (segment: SourceSegment) => {
            // The bytes fetched decide: a segment whose length differs from its manifest's is
            // read whole (its SHA-256 mismatch is reported by the archive check).
            segment.size = await streamed.ready(segment.segment);
          },
        }
      : {}),
    scan: (segment, onLine, options) => local.scan(toLocal(segment), onLine, options),
    read: (segment, offset, length) => local.read(toLocal(segment), offset, length),
    sideFile: (relative) => local.sideFile(relative),
    links: () => [],
  };
}
