import { createHash } from 'node:crypto';
import { lossTagRows, type RecordTags, type TagRow } from '@agent-audit/store';

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
  /** Tagged records, for the run index. */
  rows: TagRow[];
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
    rows: [],
  };
  let start = 0;
  let lastType = '';
  while (start < bytes.length) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    let rec: Line | undefined;
    try {
      rec = JSON.parse(bytes.toString('utf8', start, end)) as Line;
    } catch {
      rec = undefined;
    }
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
    if (type === 'loss') out.rows.push(...lossTagRows(rec.seq, rec.time, rec.payload));
    else if (rec.tags?.run) out.rows.push({ seq: rec.seq, time: rec.time, type, tags: rec.tags });
  }
  out.sealed = lastType === 'segment.seal';
  return out;
}
