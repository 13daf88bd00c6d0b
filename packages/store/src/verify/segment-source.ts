import * as fs from 'node:fs';
import * as path from 'node:path';
import { storeLinks } from '../custody.js';
import { type LineCallback, listSegments, type ScanResult, scanLines } from '../segment-files.js';

/** One segment as a source lists it. */
export interface SourceSegment {
  segment: number;
  /** Byte length when listed; verification reads exactly this many bytes. */
  size: number;
  /** Where it is, for messages (a file path, an object key). */
  name: string;
}

/**
 * Everything verification reads from a store, so a local directory and an archive (object
 * storage) are verified by the same code. The anchor and the trusted keys are not read through
 * it: they live outside the store by definition.
 */
export interface SegmentSource {
  /** Where the store is, for messages and reports. */
  readonly location: string;
  /** False when there is no store here at all. */
  exists(): boolean;
  /** The segments in number order. */
  segments(): SourceSegment[];
  /**
   * Stream the complete lines of bytes [0, `to`) of a segment. `onLine` returning `false`
   * stops the scan. `onChunk` sees each block of fresh bytes with its offset.
   */
  scan(
    segment: SourceSegment,
    onLine: LineCallback,
    options: { to: number; onChunk?: (bytes: number, chunk: Buffer, offset: number) => void },
  ): ScanResult;
  /**
   * Resolves once a segment can be scanned and read; the verifier awaits it before it scans
   * or reads a segment (every time: a second pass asks again). A source that fetches segments
   * as verification goes (an archive) uses it to overlap fetching with checking and may hold
   * only the segment asked for last. Absent: every segment is readable at once.
   */
  ready?(segment: SourceSegment): Promise<void>;
  /**
   * SHA-256 (hex) of bytes [0, `offset`) of a segment exactly as `scan` serves them, when the
   * source has already computed it over those very bytes (an archive hashes each object as it
   * arrives); undefined otherwise. The sealed-segment check then uses it instead of hashing
   * the same bytes a second time. Absent: the verifier hashes.
   */
  digestBefore?(segment: SourceSegment, offset: number): string | undefined;
  /** Bytes [offset, offset + length) of a segment (length is cut at its end). */
  read(segment: SourceSegment, offset: number, length: number): Buffer;
  /**
   * A file of the store other than a segment (`checkpoints.jsonl`, `recovered/…`), by its
   * path relative to the store; undefined when it does not exist.
   */
  sideFile(relative: string): Buffer | undefined;
  /**
   * Symlinks where the store keeps its evidence (relative paths; `storeLinks`): reported as
   * `STORE_SYMLINK` (1), since what they point at is outside the store's custody.
   */
  links?(): string[];
}

/** A store directory on a local file system. */
export function localSegmentSource(dir: string): SegmentSource {
  const root = path.resolve(dir);
  return {
    location: root,
    exists: () => {
      try {
        return fs.statSync(root).isDirectory();
      } catch {
        return false;
      }
    },
    segments: () =>
      listSegments(root).map((s) => ({ segment: s.segment, size: s.size, name: s.path })),
    scan: (segment, onLine, options) => scanLines(segment.name, onLine, options),
    read: (segment, offset, length) => {
      const fd = fs.openSync(segment.name, 'r');
      try {
        const want = Math.max(0, Math.min(length, segment.size - offset));
        const buf = Buffer.allocUnsafe(want);
        let got = 0;
        while (got < want) {
          const n = fs.readSync(fd, buf, got, want - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        return buf.subarray(0, got);
      } finally {
        fs.closeSync(fd);
      }
    },
    // Evidence only: a linked index.sqlite or lock is refused by the writer, not tampering.
    links: () => storeLinks(root).filter((l) => !/^(store\.lock|index\.sqlite|forwarder)/.test(l)),
    sideFile: (relative) => {
      try {
        return fs.readFileSync(path.join(root, relative));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
  };
}
