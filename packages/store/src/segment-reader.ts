import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors.js';
import { computeLineHash, parseEnvelope } from './record-format.js';
import { listSegments, type SegmentFile, scanLines } from './segment-files.js';
import { DEFAULT_STORE_DIR } from './store-paths.js';
import type { JsonValue, RecordTags, RecordType, StoredRecord } from './types.js';

/**
 * Sequential access to a store's records, straight from the segments (no index, no native
 * module): what the forwarder and any cursor-style consumer need. Run queries live behind
 * `@agent-audit/store/query` (`openStoreReader`).
 */
export interface SegmentReader {
  readonly dir: string;
  /** Up to `limit` records with seq ≥ `seq`, in order (the forwarder's cursor read). */
  recordsFrom(seq: number, limit?: number): StoredRecord[];
  /** The last complete record, or undefined for an empty store. */
  head(): { seq: number; hash: string } | undefined;
  close(): void;
}

/** Decode a line whose envelope was located, checking its hash against its bytes. */
export function decodeRecord(
  buf: Buffer,
  start: number,
  end: number,
  segment: number,
  offset: number,
): StoredRecord {
  const env = parseEnvelope(buf, start, end);
  if (typeof env === 'string') {
    throw new StoreError(
      'RECORD_MALFORMED',
      `segment ${segment} byte ${offset}: ${env}; run agent-audit verify`,
    );
  }
  if (computeLineHash(buf, start, end) !== env.hash) {
    throw new StoreError(
      'RECORD_HASH_MISMATCH',
      `segment ${segment} seq ${env.seq}: record does not match its hash (tampered); run agent-audit verify`,
    );
  }
  return {
    seq: env.seq,
    prev: env.prev,
    hash: env.hash,
    time: env.time,
    type: env.type as RecordType,
    tags: JSON.parse(buf.toString('utf8', env.tagsStart, env.tagsEnd)) as RecordTags,
    payload: JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as JsonValue,
    segment,
    offset,
    length: end - start,
  };
}

interface SegmentInfo {
  file: SegmentFile;
  firstSeq: number | undefined;
}

/**
 * Read-only sequential access to a store (works on a read-only volume and while a writer
 * appends). Every record returned has had its hash checked against its bytes; a mismatch throws.
 */
export function openSegmentReader(dir: string = DEFAULT_STORE_DIR): SegmentReader {
  const root = path.resolve(dir);
  const infos = new Map<number, SegmentInfo>();
  // Where the last recordsFrom stopped, so a cursor that keeps reading does not rescan.
  let resume: { segment: number; offset: number; seq: number } | undefined;

  function segments(): SegmentInfo[] {
    const files = listSegments(root);
    return files.map((file) => {
      let info = infos.get(file.segment);
      if (!info || info.firstSeq === undefined) {
        let firstSeq: number | undefined;
        scanLines(
          file.path,
          (buf, start, end) => {
            if (firstSeq !== undefined) return;
            const env = parseEnvelope(buf, start, end);
            if (typeof env !== 'string') firstSeq = env.seq;
          },
          { to: Math.min(file.size, 1024 * 1024), chunkSize: 64 * 1024 },
        );
        info = { file, firstSeq };
        infos.set(file.segment, info);
      }
      info.file = file;
      return info;
    });
  }

  return {
    dir: root,
    recordsFrom(seq, limit = 1000) {
      const out: StoredRecord[] = [];
      if (limit <= 0) return out;
      const list = segments();
      let i = list.findIndex((s, k) => {
        const next = list[k + 1];
        return (
          s.firstSeq !== undefined && s.firstSeq <= seq && (!next?.firstSeq || next.firstSeq > seq)
        );
      });
      if (i < 0) i = list.findIndex((s) => s.firstSeq !== undefined && s.firstSeq > seq);
      if (i < 0) return out;
      for (; i < list.length && out.length < limit; i++) {
        const s = list[i]!;
        const from =
          resume && resume.segment === s.file.segment && resume.seq <= seq ? resume.offset : 0;
        let stopOffset: number | undefined;
        try {
          scanLines(
            s.file.path,
            (buf, start, end, offset) => {
              if (out.length >= limit) {
                stopOffset ??= offset;
                return;
              }
              const env = parseEnvelope(buf, start, end);
              if (typeof env !== 'string' && env.seq < seq) return;
              out.push(decodeRecord(buf, start, end, s.file.segment, offset));
            },
            { from, chunkSize: 1024 * 1024 },
          );
        } catch (error) {
          resume = undefined;
          throw error;
        }
        const last = out[out.length - 1];
        if (last) {
          resume = {
            segment: last.segment,
            offset: last.offset + last.length + 1,
            seq: last.seq + 1,
          };
        }
        if (stopOffset !== undefined) break;
      }
      return out;
    },
    head() {
      // Polled by the forwarder: read only the end of the newest segment, not all of it.
      const list = listSegments(root);
      for (let i = list.length - 1; i >= 0; i--) {
        const head = lastRecordOf(list[i]!);
        if (head) return head;
      }
      return undefined;
    },
    close() {
      infos.clear();
      resume = undefined;
    },
  };
}

/** The last complete record of a segment file, from its tail (grows the window for long lines). */
function lastRecordOf(file: SegmentFile): { seq: number; hash: string } | undefined {
  if (file.size === 0) return undefined;
  const fd = fs.openSync(file.path, 'r');
  try {
    for (let window = 64 * 1024; ; window *= 4) {
      const size = Math.min(window, file.size);
      const buf = Buffer.allocUnsafe(size);
      fs.readSync(fd, buf, 0, size, file.size - size);
      const end = buf.lastIndexOf(0x0a);
      if (end >= 0) {
        const start = end === 0 ? 0 : buf.lastIndexOf(0x0a, end - 1) + 1;
        if (start > 0 || size === file.size) {
          const env = parseEnvelope(buf, start, end);
          return typeof env === 'string' ? undefined : { seq: env.seq, hash: env.hash };
        }
      } else if (size === file.size) {
        return undefined;
      }
      if (size === file.size) return undefined;
    }
  } finally {
    fs.closeSync(fd);
  }
}
