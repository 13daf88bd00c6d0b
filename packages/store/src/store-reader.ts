import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors.js';
import { computeLineHash, parseEnvelope } from './record-format.js';
import {
  listSegments,
  SEGMENTS_DIR,
  type SegmentFile,
  scanLines,
  segmentFileName,
} from './segment-files.js';
import { type IndexedLocation, StoreIndex } from './store-index.js';
import { DEFAULT_STORE_DIR } from './store-paths.js';
import type {
  JsonValue,
  RecordTags,
  RecordType,
  RunFilter,
  RunSummary,
  StoredRecord,
} from './types.js';

export interface StoreReader {
  readonly dir: string;
  /** Up to `limit` records with seq ≥ `seq`, in order (the forwarder's cursor read). */
  recordsFrom(seq: number, limit?: number): StoredRecord[];
  /** Every record whose `tags.run` is `runId`, in seq order. */
  runRecords(runId: string): StoredRecord[];
  /** One row per run matching the filter, newest start first. */
  listRuns(filter?: RunFilter): RunSummary[];
  /** The last complete record, or undefined for an empty store. */
  head(): { seq: number; hash: string } | undefined;
  close(): void;
}

export interface StoreReaderOptions {
  /** Use (and maintain) the SQLite index `index.sqlite` in the store. The default value is true. */
  index?: boolean;
  /** Where the index lives. The default value is `<dir>/index.sqlite`. */
  indexPath?: string;
}

/**
 * Read indexed locations back from the segments, checking each line against its own hash and
 * against the hash the index recorded, so a stale or forged index cannot return other data.
 */
function readLocations(
  root: string,
  locations: IndexedLocation[],
  accept: (record: StoredRecord) => boolean,
): StoredRecord[] {
  const out: StoredRecord[] = [];
  const fds = new Map<number, number>();
  try {
    for (const loc of locations) {
      let fd = fds.get(loc.segment);
      if (fd === undefined) {
        try {
          fd = fs.openSync(path.join(root, SEGMENTS_DIR, segmentFileName(loc.segment)), 'r');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // pruned
          throw error;
        }
        fds.set(loc.segment, fd);
      }
      const buf = Buffer.allocUnsafe(loc.length);
      const n = fs.readSync(fd, buf, 0, loc.length, loc.offset);
      if (n !== loc.length) {
        throw new StoreError(
          'INDEX_STALE',
          `segment ${loc.segment} is shorter than the index says; run agent-audit reindex`,
        );
      }
      const record = decode(buf, 0, loc.length, loc.segment, loc.offset);
      if (record.hash !== loc.hash || record.seq !== loc.seq) {
        throw new StoreError(
          'INDEX_STALE',
          `the index points seq ${loc.seq} at a different record; run agent-audit reindex, then agent-audit verify`,
        );
      }
      if (accept(record)) out.push(record);
    }
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
  }
  return out;
}

interface SegmentInfo {
  file: SegmentFile;
  firstSeq: number | undefined;
}

/** Decode a line whose envelope was located, checking its hash against its bytes. */
function decode(
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

/**
 * Read-only access to a store (works on a read-only volume and while a writer appends).
 * Every record returned has had its hash checked against its bytes; a mismatch throws.
 */
export function openStoreReader(
  dir: string = DEFAULT_STORE_DIR,
  options: StoreReaderOptions = {},
): StoreReader {
  const root = path.resolve(dir);
  // The SQLite index is optional: on a read-only volume queries scan the segments instead.
  let index: StoreIndex | undefined | null = options.index === false ? null : undefined;
  function useIndex(): StoreIndex | undefined {
    if (index === null) return undefined;
    if (index === undefined) {
      index = StoreIndex.open(root, options.indexPath) ?? null;
      if (index === null) return undefined;
    }
    try {
      index.catchUp();
      return index;
    } catch (error) {
      // A damaged record is the answer, not a reason to fall back to scanning.
      if (error instanceof StoreError) throw error;
      index.close();
      index = null;
      return undefined;
    }
  }
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

  function scanAll(
    onRecord: (buf: Buffer, start: number, end: number, segment: number, offset: number) => void,
  ): void {
    for (const s of segments()) {
      scanLines(s.file.path, (buf, start, end, offset) =>
        onRecord(buf, start, end, s.file.segment, offset),
      );
    }
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
        if (stopOffset !== undefined) break;
      }
      return out;
    },
    runRecords(runId) {
      const idx = useIndex();
      if (idx) return readLocations(root, idx.runLocations(runId), (r) => r.tags.run === runId);
      const out: StoredRecord[] = [];
      const needle = Buffer.from(JSON.stringify(runId));
      scanAll((buf, start, end, segment, offset) => {
        // Cheap pre-filter on the raw bytes before decoding.
        if (buf.subarray(start, end).indexOf(needle) < 0) return;
        const record = decode(buf, start, end, segment, offset);
        if (record.tags.run === runId) out.push(record);
      });
      return out;
    },
    listRuns(filter = {}) {
      const idx = useIndex();
      if (idx) return summariseRuns(idx.runRows(filter), filter);
      return summariseRuns(scanTags(scanAll), filter);
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
      if (index) index.close();
      index = null;
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

export interface TagRow {
  seq: number;
  time: string;
  type: string;
  tags: RecordTags;
}

function scanTags(
  scanAll: (
    cb: (buf: Buffer, start: number, end: number, segment: number, offset: number) => void,
  ) => void,
): TagRow[] {
  const rows: TagRow[] = [];
  scanAll((buf, start, end, segment, offset) => {
    const env = parseEnvelope(buf, start, end);
    if (typeof env === 'string') {
      throw new StoreError(
        'RECORD_MALFORMED',
        `segment ${segment} byte ${offset}: ${env}; run agent-audit verify`,
      );
    }
    if (env.type !== 'span.start' && env.type !== 'span.end' && env.type !== 'event') return;
    if (computeLineHash(buf, start, end) !== env.hash) {
      throw new StoreError(
        'RECORD_HASH_MISMATCH',
        `segment ${segment} seq ${env.seq}: record does not match its hash`,
      );
    }
    const tags = JSON.parse(buf.toString('utf8', env.tagsStart, env.tagsEnd)) as RecordTags;
    if (tags.run === undefined) return;
    rows.push({ seq: env.seq, time: env.time, type: env.type, tags });
  });
  return rows;
}

/** Aggregate tagged records into run rows (shared with the SQLite index). */
export function summariseRuns(rows: Iterable<TagRow>, filter: RunFilter): RunSummary[] {
  interface Acc {
    run: string;
    principal: string | null;
    agent: string | null;
    start: string;
    end: string;
    started: Set<string>;
    ended: Set<string>;
    spans: Set<string>;
    tools: Set<string>;
    tenants: Set<string>;
    principals: Set<string>;
    agents: Set<string>;
    rootStatus: string | undefined;
    anyError: boolean;
    anyEnd: boolean;
  }
  const runs = new Map<string, Acc>();
  for (const r of rows) {
    const id = r.tags.run!;
    let a = runs.get(id);
    if (!a) {
      a = {
        run: id,
        principal: null,
        agent: null,
        start: r.time,
        end: r.time,
        started: new Set(),
        ended: new Set(),
        spans: new Set(),
        tools: new Set(),
        tenants: new Set(),
        principals: new Set(),
        agents: new Set(),
        rootStatus: undefined,
        anyError: false,
        anyEnd: false,
      };
      runs.set(id, a);
    }
    if (r.time < a.start) a.start = r.time;
    if (r.time > a.end) a.end = r.time;
    const t = r.tags;
    if (t.principal) {
      a.principal ??= t.principal;
      a.principals.add(t.principal);
    }
    if (t.agent) {
      a.agent ??= t.agent;
      a.agents.add(t.agent);
    }
    if (t.tool) a.tools.add(t.tool);
    if (t.tenant) a.tenants.add(t.tenant);
    const spanKey = t.span ?? `seq:${r.seq}`;
    if (r.type === 'span.start') {
      a.started.add(spanKey);
      a.spans.add(spanKey);
    } else if (r.type === 'span.end') {
      a.ended.add(spanKey);
      a.spans.add(spanKey);
      a.anyEnd = true;
      if (t.status === 'error') a.anyError = true;
      if (!t.parent && t.status) a.rootStatus = t.status;
    }
  }
  const out: RunSummary[] = [];
  for (const a of runs.values()) {
    if (filter.principal !== undefined && !a.principals.has(filter.principal)) continue;
    if (filter.agent !== undefined && !a.agents.has(filter.agent)) continue;
    if (filter.tool !== undefined && !a.tools.has(filter.tool)) continue;
    if (filter.tenant !== undefined && !a.tenants.has(filter.tenant)) continue;
    if (filter.since && Date.parse(a.end) < filter.since.getTime()) continue;
    if (filter.until && Date.parse(a.start) > filter.until.getTime()) continue;
    let incomplete = false;
    for (const s of a.started) if (!a.ended.has(s)) incomplete = true;
    const status: RunSummary['status'] =
      a.rootStatus === 'error' || a.anyError
        ? 'error'
        : a.rootStatus === 'ok' || (a.anyEnd && !incomplete)
          ? 'ok'
          : incomplete
            ? 'incomplete'
            : 'unknown';
    out.push({
      run_id: a.run,
      principal: a.principal,
      agent_id: a.agent,
      start: a.start,
      end: a.end,
      status,
      spans: a.spans.size,
      incomplete,
    });
  }
  return out.sort((x, y) => (x.start < y.start ? 1 : x.start > y.start ? -1 : 0));
}
