import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors.js';
import { computeLineHash, type Envelope, parseEnvelope } from './record-format.js';
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
  /**
   * The same records as {@link recordsFrom}, hash-checked alike, with the payload as the
   * canonical JSON text it is stored as (not parsed) and no tags: what a consumer that splices
   * payloads into a request needs (the forwarder), without parsing and re-printing each one.
   * Optional: the run-query reader (`openStoreReader`) does not have it.
   */
  rawRecordsFrom?(seq: number, limit?: number): RawRecord[];
  /** The last complete record, or undefined for an empty store. */
  head(): { seq: number; hash: string } | undefined;
  close(): void;
}

/** A record as {@link SegmentReader.rawRecordsFrom} returns it. */
export interface RawRecord {
  seq: number;
  type: RecordType;
  /** The payload exactly as stored (canonical JSON). */
  payloadJson: string;
  segment: number;
  offset: number;
  length: number;
}

/** Locate a line's envelope and check its hash against its bytes; throws when either fails. */
function checkedEnvelope(
  buf: Buffer,
  start: number,
  end: number,
  segment: number,
  offset: number,
): Envelope {
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
  return env;
}

/** A hash-checked line, payload unparsed. */
function decodeRawRecord(
  buf: Buffer,
  start: number,
  end: number,
  segment: number,
  offset: number,
): RawRecord {
  const env = checkedEnvelope(buf, start, end, segment, offset);
  return {
    seq: env.seq,
    type: env.type as RecordType,
    payloadJson: buf.toString('utf8', env.payloadStart, env.payloadEnd),
    segment,
    offset,
    length: end - start,
  };
}

/** Decode a line whose envelope was located, checking its hash against its bytes. */
export function decodeRecord(
  buf: Buffer,
  start: number,
  end: number,
  segment: number,
  offset: number,
): StoredRecord {
  const env = checkedEnvelope(buf, start, end, segment, offset);
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

  /**
   * Up to `limit` records with seq ≥ `seq`, decoded by `decode`. The scan stops at the record
   * after the limit: it used to read and split the rest of the file (decoding none of it), so a
   * cursor reading in batches of 512 rescanned the segment's whole tail per batch. Together
   * with the raw read (the forwarder no longer parses every record and re-prints every span),
   * the audited tool call's CPU including the forwarder's work after it fell from ~150 to
   * ~121 µs per call (1,000-call rounds, store + forwarder on, median of 3 runs).
   */
  function readFrom<R extends { seq: number; segment: number; offset: number; length: number }>(
    seq: number,
    limit: number,
    decode: (buf: Buffer, start: number, end: number, segment: number, offset: number) => R,
  ): R[] {
    const out: R[] = [];
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
      let full = false;
      // Seq of the previous line of this scan: a line that is not a record takes the next one,
      // so a cursor can read past a damaged line it has already been told about.
      let lineSeq = from > 0 ? resume!.seq - 1 : undefined;
      try {
        scanLines(
          s.file.path,
          (buf, start, end, offset) => {
            if (out.length >= limit) {
              full = true;
              return false;
            }
            const env = parseEnvelope(buf, start, end);
            lineSeq = typeof env !== 'string' ? env.seq : lineSeq === undefined ? seq : lineSeq + 1;
            if (lineSeq < seq) return;
            out.push(decode(buf, start, end, s.file.segment, offset));
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
      if (full) break;
    }
    return out;
  }

  return {
    dir: root,
    recordsFrom(seq, limit = 1000) {
      return readFrom(seq, limit, decodeRecord);
    },
    rawRecordsFrom(seq, limit = 1000) {
      return readFrom(seq, limit, decodeRawRecord);
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
