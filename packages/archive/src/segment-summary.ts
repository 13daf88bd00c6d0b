import { createHash } from 'node:crypto';
import {
  lossTagRows,
  type RecordTags,
  type RunPart,
  summariseRunParts,
  type TagRow,
} from '@agent-audit/store';

/** What the archive needs to know of one segment's bytes. */
export interface SegmentSummary {
  sha256: string;
  /** Origin and number from its `segment.open` header; null when the header is unreadable. */
  origin: string | null;
  segment: number | null;
  firstSeq: number;
  lastSeq: number;
  firstTime: string;
  lastTime: string;
  /** True when its last record is the `segment.seal`. */
  sealed: boolean;
  /**
   * The runs of its tagged records, as parts (`summariseRunParts` of this segment alone) that
   * the run index merges across segments: a row per run, not per record, so a push holds
   * little however many records it ships.
   */
  runs: RunPart[];
}

interface Line {
  seq?: unknown;
  time?: unknown;
  type?: unknown;
  tags?: RecordTags;
  payload?: { origin?: unknown; segment?: unknown; runs?: unknown };
}

/**
 * Read a segment's records (no hash checks: that is verify's job; a damaged line only leaves
 * the index short) for its seq and time range and the run index.
 */
export function summariseSegment(bytes: Buffer): SegmentSummary {
  const out: SegmentSummary = {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    origin: null,
    segment: null,
    firstSeq: 0,
    lastSeq: 0,
    firstTime: '',
    lastTime: '',
    sealed: false,
    runs: [],
  };
  const rows: TagRow[] = [];
  let start = 0;
  let lastType = '';
  while (start < bytes.length) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    const rec = readLine(bytes, start, end);
    start = end + 1;
    if (!rec || typeof rec.seq !== 'number' || typeof rec.time !== 'string') continue;
    const type = String(rec.type);
    if (out.firstSeq === 0) {
      out.firstSeq = rec.seq;
      out.firstTime = rec.time;
      if (type === 'segment.open') {
        out.origin = typeof rec.payload?.origin === 'string' ? rec.payload.origin : null;
        out.segment = typeof rec.payload?.segment === 'number' ? rec.payload.segment : null;
      }
    }
    out.lastSeq = rec.seq;
    if (rec.time > out.lastTime) out.lastTime = rec.time;
    lastType = type;
    if (type === 'loss') rows.push(...lossTagRows(rec.seq, rec.time, rec.payload));
    else if (rec.tags?.run) rows.push({ seq: rec.seq, time: rec.time, type, tags: rec.tags });
  }
  out.sealed = lastType === 'segment.seal';
  out.runs = summariseRunParts(rows);
  return out;
}

const PREV = Buffer.from(',"prev":"');
const NEEDS_PAYLOAD = new Set(['segment.open', 'loss']);

/**
 * One record line. Canonical JSON sorts the envelope's keys, so everything after the payload
 * is `"prev":…,"seq":…,"tags":{…},"time":…,"type":…`: that tail alone is parsed (a payload can
 * be large), and the whole line only for the types whose payload the archive reads.
 */
function readLine(bytes: Buffer, start: number, end: number): Line | undefined {
  const at = bytes.lastIndexOf(PREV, end - 1);
  if (at > start) {
    try {
      const tail = JSON.parse(`{${bytes.toString('utf8', at + 1, end)}`) as Line;
      if (typeof tail.seq === 'number' && !NEEDS_PAYLOAD.has(String(tail.type))) return tail;
    } catch {
      // Not the envelope's tail (a tag named "prev"): parse the whole line.
    }
  }
  try {
    return JSON.parse(bytes.toString('utf8', start, end)) as Line;
  } catch {
    return undefined;
  }
}

/** The origin and number of a segment from its first line alone (its `segment.open` header). */
export function segmentHeader(bytes: Buffer): { origin: string | null; segment: number | null } {
  let end = bytes.indexOf(10);
  if (end < 0) end = bytes.length;
  const rec = readLine(bytes, 0, end);
  if (rec?.type !== 'segment.open') return { origin: null, segment: null };
  return {
    origin: typeof rec.payload?.origin === 'string' ? rec.payload.origin : null,
    segment: typeof rec.payload?.segment === 'number' ? rec.payload.segment : null,
  };
}
