import * as fs from 'node:fs';
import * as path from 'node:path';
import { localSegmentSource, type SegmentSource, type SourceSegment } from '@agent-audit/store';

/** One archived store's objects, fetched one by one into a spool (see `s3SegmentSource`). */
export interface SpooledStore {
  /** `s3://bucket/prefix/stores/<origin>/`. */
  location: string;
  /** Directory laid out like a store (`segments/`, `checkpoints.jsonl`, `recovered/`). */
  dir: string;
}

/**
 * The `SegmentSource` of an archived store. The store's verifier reads synchronously in
 * large chunks; S3 is asynchronous. So the objects of ONE store are streamed first into a
 * private spool directory (each checked against its manifest's SHA-256 on the way), and the
 * verifier reads them through this source, which reports the S3 location in every message.
 * Then the spool is removed and the next store is fetched: disk use is one store at a time.
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
  return {
    location: spooled.location,
    exists: () => fs.existsSync(root),
    segments: () =>
      local.segments().map((s) => {
        const name = `${spooled.location}segments/${path.basename(s.name)}`;
        spoolOf.set(name, s.name);
        return { ...s, name };
      }),
    scan: (segment, onLine, options) => local.scan(toLocal(segment), onLine, options),
    read: (segment, offset, length) => local.read(toLocal(segment), offset, length),
    sideFile: (relative) => local.sideFile(relative),
    links: () => [],
  };
}
