import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnvelope } from './record-format.js';

export const SEGMENTS_DIR = 'segments';
const SEGMENT_NAME = /^(\d{8})\.jsonl$/;

export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(8, '0')}.jsonl`;
}

export interface SegmentFile {
  segment: number;
  path: string;
  size: number;
}

/** Segment files in number order. Other files in `segments/` are ignored. */
export function listSegments(dir: string): SegmentFile[] {
  const segDir = path.join(dir, SEGMENTS_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(segDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const out: SegmentFile[] = [];
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (!m) continue;
    const file = path.join(segDir, name);
    out.push({ segment: Number(m[1]), path: file, size: fs.statSync(file).size });
  }
  return out.sort((a, b) => a.segment - b.segment);
}

/**
 * Called per complete line: `buf[start, end)` is the line without its newline and `offset` its
 * position in the file. The buffer is reused after the callback returns. Returning `false`
 * stops the scan.
 */
export type LineCallback = (buf: Buffer, start: number, end: number, offset: number) => unknown;

export interface ScanResult {
  /** Bytes of complete lines (up to and including the last newline). */
  completeBytes: number;
  /** Trailing bytes with no newline: a torn write, or tampering when not at the store's end. */
  tornBytes: number;
}

/**
 * Stream a file line by line in large chunks (constant memory, one read per chunk). Lines
 * longer than a chunk grow the buffer.
 */
export function scanLines(
  file: string,
  onLine: LineCallback,
  options: {
    chunkSize?: number;
    from?: number;
    to?: number;
    /** Called after each read with the fresh bytes and their file offset. */
    onChunk?: (bytes: number, chunk: Buffer, fileOffset: number) => void;
  } = {},
): ScanResult {
  const chunkSize = options.chunkSize ?? 4 * 1024 * 1024;
  const fd = fs.openSync(file, 'r');
  try {
    const to = options.to ?? fs.fstatSync(fd).size;
    let buf = Buffer.allocUnsafe(chunkSize);
    let filePos = options.from ?? 0;
    let carry = 0; // bytes of an incomplete line kept at the start of buf
    let carryOffset = filePos;
    while (filePos < to) {
      if (carry === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      }
      const want = Math.min(buf.length - carry, to - filePos);
      const n = fs.readSync(fd, buf, carry, want, filePos);
      if (n === 0) break;
      filePos += n;
      options.onChunk?.(n, buf.subarray(carry, carry + n), filePos - n);
      const filled = carry + n;
      let lineStart = 0;
      let nl = buf.indexOf(0x0a, carry);
      while (nl !== -1 && nl < filled) {
        if (onLine(buf, lineStart, nl, carryOffset + lineStart) === false) {
          return { completeBytes: carryOffset + nl + 1 - (options.from ?? 0), tornBytes: 0 };
        }
        lineStart = nl + 1;
        nl = lineStart < filled ? buf.indexOf(0x0a, lineStart) : -1;
      }
      carryOffset += lineStart;
      carry = filled - lineStart;
      if (carry > 0 && lineStart > 0) buf.copy(buf, 0, lineStart, filled);
    }
    return { completeBytes: carryOffset - (options.from ?? 0), tornBytes: carry };
  } finally {
    fs.closeSync(fd);
  }
}

/** First and last record envelope of a segment file (sealed segments are small to scan). */
export function readFirstAndLast(
  file: string,
):
  | { first: { seq: number }; last: { seq: number; hash: string; time: string; type: string } }
  | undefined {
  let first: { seq: number } | undefined;
  let last: { seq: number; hash: string; time: string; type: string } | undefined;
  scanLines(file, (buf, start, end) => {
    const env = parseEnvelope(buf, start, end);
    if (typeof env === 'string') return;
    first ??= { seq: env.seq };
    last = { seq: env.seq, hash: env.hash, time: env.time, type: env.type };
  });
  return first && last ? { first, last } : undefined;
}

/** A record by seq, searching segments from the newest back. */
export function findRecord(
  segments: SegmentFile[],
  seq: number,
): { hash: string; type: string; payload?: string } | undefined {
  for (let i = segments.length - 1; i >= 0; i--) {
    let found: { hash: string; type: string; payload?: string } | undefined;
    let first: number | undefined;
    scanLines(segments[i]!.path, (buf, start, end) => {
      const env = parseEnvelope(buf, start, end);
      if (typeof env === 'string') return;
      first ??= env.seq;
      if (env.seq === seq) {
        found = {
          hash: env.hash,
          type: env.type,
          payload: buf.toString('utf8', env.payloadStart, env.payloadEnd),
        };
      }
    });
    if (found !== undefined) return found;
    if (first !== undefined && first <= seq) return undefined;
  }
  return undefined;
}
