import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CREDENTIAL_RECORD_TYPES,
  credentialRefsOfLine,
  credentialRefsOfPayload,
} from './credential-index.js';
import { StoreError } from './errors.js';
import { computeLineHash, parseEnvelope } from './record-format.js';
import { lossTagRows, summariseRuns, type TagRow } from './run-summary.js';
import { listSegments, SEGMENTS_DIR, scanLines, segmentFileName } from './segment-files.js';
import { decodeRecord, openSegmentReader, type SegmentReader } from './segment-reader.js';
import {
  chunkFor,
  INDEX_FILE,
  type IndexedRow,
  type IndexProgress,
  isIndexFailure,
  rowDisagreement,
  StoreIndex,
} from './store-index.js';
import { DEFAULT_STORE_DIR } from './store-paths.js';
import type { RecordTags, RunFilter, RunSummary, StoredRecord } from './types.js';

export interface StoreReader extends SegmentReader {
  /** Every record whose `tags.run` is `runId`, in seq order. */
  runRecords(runId: string): StoredRecord[];
  /** One row per run matching the filter, newest start first. */
  listRuns(filter?: RunFilter): RunSummary[];
  /**
   * One page of every run, the runs with the most recent records first (`offset`, `limit` in
   * runs), and how many runs there are: from the index without summarising every run (a
   * landing page on a large store). Without a usable index, from a scan.
   */
  recentRuns(offset: number, limit: number): { runs: RunSummary[]; total: number };
  /**
   * The runs whose span records name `ref` as a `credential.ref` (a credential the span used,
   * or one a `credential.issued` event issued), in the order of their first such record. A
   * superset of where a run's timeline shows the credential: read each run to see how.
   */
  credentialRuns(ref: string): string[];
}

/** Why a query did not use the index as it found it. */
export interface IndexWarning {
  /**
   * `INDEX_DISAGREES`: the index said something the segments do not (rows deleted, changed or
   * pointing elsewhere); the answer came from the segments and the index was rebuilt.
   * `INDEX_UNUSABLE`: the index file is not a usable agent-audit index (garbage, truncated,
   * another application's database); the answer came from the segments, the file is left as it is.
   */
  code: 'INDEX_DISAGREES' | 'INDEX_UNUSABLE';
  message: string;
  file: string;
}

export interface StoreReaderOptions {
  /** Use (and maintain) the SQLite index `index.sqlite` in the store. The default value is true. */
  index?: boolean;
  /** Where the index lives. The default value is `<dir>/index.sqlite`. */
  indexPath?: string;
  /**
   * Told whenever a query could not trust the index. The default value emits a process warning
   * (code `AGENT_AUDIT_INDEX`), printed on stderr.
   */
  onWarning?: (warning: IndexWarning) => void;
  /**
   * Told while the reader builds or catches up its index: before the first segment and after
   * each one (segments looked at of the store's total, records indexed so far by this catch-up).
   * Not called when nothing was appended. The default value is none.
   */
  onIndexProgress?: (progress: IndexProgress) => void;
}

function emitIndexWarning(warning: IndexWarning): void {
  process.emitWarning(warning.message, { code: 'AGENT_AUDIT_INDEX' });
}

/**
 * Read indexed locations back from the segments, checking each line against its own hash and
 * each row against its record (seq, hash, type, time, tags). Returns the records, or where the
 * index and the segments disagree.
 */
function readLocations(root: string, rows: IndexedRow[]): StoredRecord[] | string {
  const out: StoredRecord[] = [];
  const fds = new Map<number, number>();
  try {
    for (const row of rows) {
      let fd = fds.get(row.segment);
      if (fd === undefined) {
        try {
          fd = fs.openSync(path.join(root, SEGMENTS_DIR, segmentFileName(row.segment)), 'r');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            return `row seq ${row.seq} points at segment ${row.segment}, which does not exist`;
          }
          throw error;
        }
        fds.set(row.segment, fd);
      }
      const buf = Buffer.allocUnsafe(row.length + 1);
      const n = fs.readSync(fd, buf, 0, row.length + 1, row.offset);
      if (n !== row.length + 1 || buf[row.length] !== 0x0a) {
        return `row seq ${row.seq} points past the end of a line in segment ${row.segment}`;
      }
      const env = parseEnvelope(buf, 0, row.length);
      if (typeof env === 'string')
        return `row seq ${row.seq} points at a line that is not a record`;
      const record = decodeRecord(buf, 0, row.length, row.segment, row.offset);
      const problem = rowDisagreement(row, record);
      if (problem) return problem;
      out.push(record);
    }
  } finally {
    for (const fd of fds.values()) fs.closeSync(fd);
  }
  return out;
}

/**
 * Read-only access to a store with run queries (works on a read-only volume and while a writer
 * appends). Every record returned has had its hash checked against its bytes; a mismatch throws.
 *
 * Queries use the SQLite index when they can, and never take its word: a reader's first query
 * is answered from the segments (a scan costs about what checking the index does) with the
 * index's answer held against it; before the reader answers from the index it checks the whole
 * index against the segments, in the same snapshot as the query (again after another process
 * changed it); and every row a query returns is checked against its record. When they
 * disagree the answer comes from the segments, `onWarning` is told, and the index is rebuilt.
 */
export function openStoreReader(
  dir: string = DEFAULT_STORE_DIR,
  options: StoreReaderOptions = {},
): StoreReader {
  const root = path.resolve(dir);
  const indexFile = options.indexPath ?? path.join(root, INDEX_FILE);
  const warn = options.onWarning ?? emitIndexWarning;
  const segments = openSegmentReader(root);
  // null: no index for this reader (disabled, read-only volume, refused file).
  let index: StoreIndex | undefined | null = options.index === false ? null : undefined;
  // Whether the rows of the index have been checked against the segments by this reader.
  let trusted = false;
  let queries = 0;

  function dropIndex(): void {
    try {
      index?.close();
    } catch {
      // already unusable
    }
    index = null;
  }

  function unusable(error: unknown): undefined {
    warn({
      code: 'INDEX_UNUSABLE',
      file: indexFile,
      message: `${indexFile}: the query index is unusable (${(error as Error).message}); this answer comes from the segments; run agent-audit reindex to rebuild the index`,
    });
    dropIndex();
    return undefined;
  }

  /** Rebuild after a disagreement; the caller answers from the segments either way. */
  function disagrees(problem: string): void {
    warn({
      code: 'INDEX_DISAGREES',
      file: indexFile,
      message: `${indexFile}: the query index disagrees with the segments (${problem}); this answer comes from the segments and the index is rebuilt from them. Nothing in the index is evidence, but if nobody changed it, run agent-audit verify`,
    });
    try {
      index?.rebuild();
      trusted = true;
    } catch (error) {
      if (error instanceof StoreError) throw error;
      dropIndex();
    }
  }

  /** The index, caught up with the segments; undefined when queries must scan. */
  function useIndex(): StoreIndex | undefined {
    if (index === null) return undefined;
    if (index === undefined) {
      const opened = StoreIndex.open(root, indexFile);
      if (opened.problem !== undefined) return unusable(new Error(opened.problem));
      if (!opened.index) {
        index = null; // cannot be written here: queries scan the segments
        return undefined;
      }
      index = opened.index;
    }
    try {
      if (index.changedElsewhere()) trusted = false;
      const { rebuilt } = index.catchUp(options.onIndexProgress);
      if (rebuilt) trusted = true;
      return index;
    } catch (error) {
      return indexFailed(error);
    }
  }

  function indexFailed(error: unknown): undefined {
    // A damaged record is the answer, not a reason to fall back to scanning.
    if (error instanceof StoreError) throw error;
    if (isIndexFailure(error)) return unusable(error);
    dropIndex();
    return undefined;
  }

  /**
   * Run `query` on one snapshot of the index, after checking the whole index against the
   * segments in that same snapshot unless this reader already did (and nobody changed it since).
   * Returns the query's answer, or undefined when the caller must answer from the segments.
   */
  function checked<T>(idx: StoreIndex, query: () => T): T | undefined {
    let problem: string | undefined;
    let answer: T | undefined;
    try {
      idx.read(() => {
        if (idx.changedElsewhere()) trusted = false;
        if (!trusted) {
          problem = idx.audit();
          if (problem !== undefined) return;
          trusted = true;
        }
        answer = query();
      });
    } catch (error) {
      return indexFailed(error);
    }
    if (problem !== undefined) {
      disagrees(problem);
      return undefined;
    }
    return answer;
  }

  /** The run rows of the `loss` records the index points at, each read and checked. */
  function lossRows(rows: IndexedRow[]): TagRow[] | undefined {
    if (rows.length === 0) return [];
    const records = readLocations(root, rows);
    if (typeof records === 'string') {
      disagrees(records);
      return undefined;
    }
    return records.flatMap((r) => lossTagRows(r.seq, r.time, r.payload));
  }

  function scanAll(
    onRecord: (buf: Buffer, start: number, end: number, segment: number, offset: number) => void,
    through?: { segment: number; offset: number },
  ): void {
    for (const s of listSegments(root)) {
      if (through && s.segment > through.segment) break;
      scanLines(s.path, (buf, start, end, offset) => onRecord(buf, start, end, s.segment, offset), {
        chunkSize: chunkFor(s.size),
        ...(through && s.segment === through.segment ? { to: through.offset } : {}),
      });
    }
  }

  function scanRun(runId: string, through?: { segment: number; offset: number }): StoredRecord[] {
    const out: StoredRecord[] = [];
    const needle = Buffer.from(JSON.stringify(runId));
    scanAll((buf, start, end, segment, offset) => {
      // Cheap pre-filter on the raw bytes before decoding.
      if (buf.subarray(start, end).indexOf(needle) < 0) return;
      const record = decodeRecord(buf, start, end, segment, offset);
      if (record.tags.run === runId) out.push(record);
    }, through);
    return out;
  }

  return {
    dir: root,
    recordsFrom: (seq, limit) => segments.recordsFrom(seq, limit),
    head: () => segments.head(),
    runRecords(runId) {
      const idx = useIndex();
      if (!idx) return scanRun(runId);
      queries += 1;
      if (!trusted && queries === 1) {
        // A reader's first query, one run, on an index not yet checked as a whole: scanning for
        // one run (a byte search) costs less than the whole-index check, so a one-shot reader
        // (a CLI trail) scans, and holds the index's rows for this run against what it found.
        // The index was caught up just now; a writer may append meanwhile, so the rows are
        // held against the records up to that point only, and the answer is the whole scan.
        let through: { segment: number; offset: number };
        let rows: IndexedRow[];
        try {
          through = idx.indexedThrough();
          rows = idx.runLocations(runId);
        } catch (error) {
          indexFailed(error);
          return scanRun(runId);
        }
        const found = scanRun(runId);
        const problem = compareRun(
          rows,
          found.filter((r) => before(r, through)),
        );
        if (problem !== undefined) disagrees(problem);
        return found;
      }
      const rows = checked(idx, () => idx.runLocations(runId));
      if (rows === undefined) return scanRun(runId);
      const records = readLocations(root, rows);
      if (typeof records === 'string') {
        disagrees(records);
        return scanRun(runId);
      }
      return records;
    },
    listRuns(filter = {}) {
      const idx = useIndex();
      queries += 1;
      if (idx && !trusted && queries === 1) {
        // A reader's first query on an index not yet checked as a whole: a scan costs about
        // what the check does, so a one-shot reader (a CLI runs/status) answers from the scan
        // and holds the index's answer against it.
        let through: { segment: number; offset: number };
        let claimed: RunSummary[];
        try {
          through = idx.indexedThrough();
          const losses = lossRows(idx.lossLocations());
          claimed =
            losses === undefined ? [] : summariseRuns([...idx.runRows(filter), ...losses], filter);
        } catch (error) {
          indexFailed(error);
          return summariseRuns(scanTags(scanAll), filter);
        }
        // Held against the segments up to where the index was caught up (a writer may append
        // meanwhile); the answer is the whole scan.
        const all = scanTags(scanAll);
        const found = summariseRuns(all, filter);
        const upTo = summariseRuns(
          all.filter((r) => before(r, through)),
          filter,
        );
        if (JSON.stringify(claimed) !== JSON.stringify(upTo)) {
          disagrees('its run list differs from the one in the segments');
        }
        return found;
      }
      const answer =
        idx && checked(idx, () => ({ rows: idx.runRows(filter), losses: idx.lossLocations() }));
      const losses = answer && lossRows(answer.losses);
      if (!answer || losses === undefined) return summariseRuns(scanTags(scanAll), filter);
      return summariseRuns([...answer.rows, ...losses], filter);
    },
    recentRuns(offset, limit) {
      const idx = useIndex();
      queries += 1;
      const answer = idx
        ? checked(idx, () => {
            const ids = idx.recentRunIds(offset, limit);
            return {
              ids,
              total: idx.runCount(),
              rows: idx.runRows({}, ids),
              losses: idx.lossLocations(),
            };
          })
        : undefined;
      const losses = answer ? lossRows(answer.losses) : undefined;
      if (!answer || losses === undefined) {
        // A scan: every run summarised, ordered by their last record (as the index answers).
        const all = summariseRuns(scanTags(scanAll), {}).sort((x, y) =>
          x.end < y.end ? 1 : x.end > y.end ? -1 : 0,
        );
        return { runs: all.slice(offset, offset + limit), total: all.length };
      }
      const wanted = new Set(answer.ids);
      const rows = [...answer.rows, ...losses.filter((r) => wanted.has(r.tags.run!))];
      const byId = new Map(summariseRuns(rows, {}).map((r) => [r.run_id, r]));
      return {
        runs: answer.ids.map((id) => byId.get(id)).filter((r): r is RunSummary => r !== undefined),
        total: answer.total,
      };
    },
    credentialRuns(ref) {
      const idx = useIndex();
      queries += 1;
      if (idx && !trusted && queries === 1) {
        // First query on an unchecked index: the answer is a scan, the index's rows for this
        // credential are held against it up to where the index was caught up.
        let through: { segment: number; offset: number };
        let rows: ReturnType<StoreIndex['credentialLocations']>;
        try {
          through = idx.indexedThrough();
          rows = idx.credentialLocations(ref);
        } catch (error) {
          indexFailed(error);
          return runsOf(scanCredential(scanAll, ref));
        }
        const found = scanCredential(scanAll, ref);
        const claimed = rows.map((r) => `${r.seq}:${r.kind}:${r.run}`).join(',');
        const truth = found
          .filter((r) => before(r, through))
          .map((r) => `${r.seq}:${r.kind}:${r.run}`)
          .join(',');
        if (claimed !== truth) {
          disagrees('its credential rows differ from the records in the segments');
        }
        return runsOf(found);
      }
      const rows = idx ? checked(idx, () => idx.credentialLocations(ref)) : undefined;
      if (rows === undefined) return runsOf(scanCredential(scanAll, ref));
      // Each row read back and checked: its record must name the credential as the row says.
      const records = readLocations(root, rows);
      const problem =
        typeof records === 'string'
          ? records
          : rows.some(
                (row, i) =>
                  !credentialRefsOfPayload(records[i]!.payload).some(
                    (c) => c.ref === ref && c.kind === row.kind,
                  ),
              )
            ? 'a credential row names a credential its record does not'
            : undefined;
      if (problem !== undefined || typeof records === 'string') {
        disagrees(problem ?? 'a credential row does not match its record');
        return runsOf(scanCredential(scanAll, ref));
      }
      return runsOf(
        records.map((r, i) => ({ seq: r.seq, run: r.tags.run ?? null, kind: rows[i]!.kind })),
      );
    },
    close() {
      segments.close();
      dropIndex();
    },
  };
}

/** Run ids, each once, in the order of their first row. */
function runsOf(rows: Array<{ run: string | null }>): string[] {
  const out = new Set<string>();
  for (const r of rows) if (r.run !== null) out.add(r.run);
  return [...out];
}

/** Every span record naming `ref`, once per kind, in seq order (hash checked). */
function scanCredential(
  scanAll: (
    cb: (buf: Buffer, start: number, end: number, segment: number, offset: number) => void,
  ) => void,
  ref: string,
): Array<{ seq: number; kind: string; run: string | null; segment: number; offset: number }> {
  const out: Array<{
    seq: number;
    kind: string;
    run: string | null;
    segment: number;
    offset: number;
  }> = [];
  scanAll((buf, start, end, segment, offset) => {
    const env = parseEnvelope(buf, start, end);
    if (typeof env === 'string') {
      throw new StoreError(
        'RECORD_MALFORMED',
        `segment ${segment} byte ${offset}: ${env}; run agent-audit verify`,
      );
    }
    if (!CREDENTIAL_RECORD_TYPES.has(env.type)) return;
    const refs = credentialRefsOfLine(buf, env).filter((c) => c.ref === ref);
    if (refs.length === 0) return;
    if (computeLineHash(buf, start, end) !== env.hash) {
      throw new StoreError(
        'RECORD_HASH_MISMATCH',
        `segment ${segment} seq ${env.seq}: record does not match its hash`,
      );
    }
    const tags = JSON.parse(buf.toString('utf8', env.tagsStart, env.tagsEnd)) as RecordTags;
    const run = typeof tags.run === 'string' ? tags.run : null;
    // The order the index returns them in: seq, then kind.
    for (const kind of ['issued', 'used']) {
      if (refs.some((c) => c.kind === kind)) out.push({ seq: env.seq, kind, run, segment, offset });
    }
  });
  return out;
}

/** Whether a record lies before the position an index was caught up to. */
function before(
  r: { segment: number; offset: number },
  through: { segment: number; offset: number },
): boolean {
  return (
    r.segment < through.segment || (r.segment === through.segment && r.offset < through.offset)
  );
}

/** Where the index's rows for one run and the run's records in the segments disagree. */
function compareRun(rows: IndexedRow[], records: StoredRecord[]): string | undefined {
  if (rows.length !== records.length) {
    return `the index has ${rows.length} rows for a run the segments hold ${records.length} records of`;
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const record = records[i]!;
    if (
      row.segment !== record.segment ||
      row.offset !== record.offset ||
      row.length !== record.length
    ) {
      return `row seq ${row.seq} does not point at its record`;
    }
    const problem = rowDisagreement(row, record);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** A tag row with where its record lies, so a scan can be cut where an index was caught up. */
interface LocatedTagRow extends TagRow {
  segment: number;
  offset: number;
}

function scanTags(
  scanAll: (
    cb: (buf: Buffer, start: number, end: number, segment: number, offset: number) => void,
  ) => void,
): LocatedTagRow[] {
  const rows: LocatedTagRow[] = [];
  scanAll((buf, start, end, segment, offset) => {
    const env = parseEnvelope(buf, start, end);
    if (typeof env === 'string') {
      throw new StoreError(
        'RECORD_MALFORMED',
        `segment ${segment} byte ${offset}: ${env}; run agent-audit verify`,
      );
    }
    const isLoss = env.type === 'loss';
    if (!isLoss && env.type !== 'span.start' && env.type !== 'span.end' && env.type !== 'event')
      return;
    if (computeLineHash(buf, start, end) !== env.hash) {
      throw new StoreError(
        'RECORD_HASH_MISMATCH',
        `segment ${segment} seq ${env.seq}: record does not match its hash`,
      );
    }
    if (isLoss) {
      const payload = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd));
      for (const r of lossTagRows(env.seq, env.time, payload)) rows.push({ ...r, segment, offset });
      return;
    }
    const tags = JSON.parse(buf.toString('utf8', env.tagsStart, env.tagsEnd)) as RecordTags;
    if (tags.run === undefined) return;
    rows.push({ seq: env.seq, time: env.time, type: env.type, tags, segment, offset });
  });
  return rows;
}
