// Over ~600 lines on purpose: the query index is one SQLite schema with its build, its
// consistency checks against the segments and its queries, which must change together (a
// schema bump touches all three); the run summaries and the query API live in their own files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import {
  type CredentialKind,
  CredentialTable,
  createCredentialTable,
  credentialRefsOfLine,
} from './credential-index.js';
import { StoreError } from './errors.js';
import { computeLineHash, type Envelope, parseEnvelope } from './record-format.js';
import { listSegments, scanLines } from './segment-files.js';
import type { RecordTags, RunFilter } from './types.js';

export const INDEX_FILE = 'index.sqlite';
/** Bumped whenever the table layout changes: an index of another version is rebuilt. */
const SCHEMA_VERSION = '4';
/** `PRAGMA application_id` of an agent-audit index ("AAIX"): any other SQLite file is foreign. */
const APPLICATION_ID = 0x41414958;
/** The tag keys the index keeps as columns, in column order. */
export const INDEXED_TAGS = [
  'run',
  'principal',
  'agent',
  'tool',
  'tenant',
  'span',
  'parent',
  'status',
  'trace',
] as const;

export interface IndexedRow {
  seq: number;
  segment: number;
  offset: number;
  length: number;
  hash: string;
  type: string;
  time: string;
  run: string | null;
  principal: string | null;
  agent: string | null;
  tool: string | null;
  tenant: string | null;
  span: string | null;
  parent: string | null;
  status: string | null;
  trace: string | null;
}

export interface IndexedTagRow {
  seq: number;
  time: string;
  type: string;
  tags: RecordTags;
}

/** What `StoreIndex.open` found: an index, nothing usable (silently), or a file it refuses. */
/** How far a `catchUp` got: segments of the store looked at so far, and records indexed by this call. */
export interface IndexProgress {
  segmentsDone: number;
  segmentsTotal: number;
  records: number;
}

export type IndexOpenResult =
  | { index: StoreIndex; problem?: undefined }
  | { index?: undefined; problem?: string };

type Db = Database.Database;

/** SQLite failures that mean "cannot write here" (a read-only volume), not "damaged". */
const UNAVAILABLE = new Set(['SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH']);

/** A failure of the index file itself (damaged, truncated, locked), as opposed to a record. */
export function isIndexFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    (code.startsWith('SQLITE_') || (error as Error).name === 'SqliteError')
  );
}

/**
 * The tags of a record as the index stores them. Tags that are not valid JSON (impossible in a
 * record that passed its hash check) count as none.
 */
export function tagsOf(buf: Buffer, env: Envelope): RecordTags {
  if (env.tagsEnd - env.tagsStart <= 2) return {};
  try {
    return JSON.parse(buf.toString('utf8', env.tagsStart, env.tagsEnd)) as RecordTags;
  } catch {
    return {};
  }
}

/** The tags a row's columns claim. */
function rowTags(row: IndexedRow): RecordTags {
  const tags: RecordTags = {};
  for (const key of INDEXED_TAGS) {
    const value = row[key];
    if (value !== null) tags[key] = value;
  }
  return tags;
}

/** Indexed tag keys in canonical (UTF-16 code unit) order, as the writer sorts them. */
const CANONICAL_TAG_ORDER = [...INDEXED_TAGS].sort();

/**
 * The canonical JSON the writer produces for exactly the row's tags (RFC 8785: sorted keys;
 * JSON.stringify escapes a string the same way for the strings tags hold).
 */
function canonicalTags(row: IndexedRow): string {
  let out = '';
  for (const key of CANONICAL_TAG_ORDER) {
    const value = row[key];
    if (value === null) continue;
    out += `${out === '' ? '{' : ','}"${key}":${JSON.stringify(value)}`;
  }
  return out === '' ? '{}' : `${out}}`;
}

/**
 * Where an index row and the record it points to disagree (undefined when they agree). Names
 * the field only, never the values: both may come from a hostile file.
 */
export function rowDisagreement(
  row: IndexedRow,
  record: { seq: number; hash: string; type: string; time: string; tags: RecordTags },
): string | undefined {
  if (row.seq !== record.seq) return `row seq ${row.seq} points at the record of seq ${record.seq}`;
  if (row.hash !== record.hash) return `row seq ${row.seq}: hash differs from the record`;
  if (row.type !== record.type) return `row seq ${row.seq}: type differs from the record`;
  if (row.time !== record.time) return `row seq ${row.seq}: time differs from the record`;
  for (const key of INDEXED_TAGS) {
    const tag = record.tags[key];
    if ((typeof tag === 'string' ? tag : null) !== row[key]) {
      return `row seq ${row.seq}: ${key} differs from the record`;
    }
  }
  return undefined;
}

/**
 * Run id / principal / agent / tool / tenant / time → record locations, in SQLite, and
 * credential refs → records (credential-index.ts). A cache,
 * never evidence: anyone who can write the store directory can write this file, so the reader
 * checks it against the segments before answering from it (`audit`), every row it returns
 * against the record it points to, and rebuilds it from the segments when they disagree.
 * Indexing is incremental: each query first indexes records appended since.
 */
export class StoreIndex {
  readonly file: string;
  readonly #dir: string;
  readonly #db: Db;
  readonly #insert: Database.Statement;
  readonly #credentials: CredentialTable;
  #dataVersion: number;

  private constructor(dir: string, file: string, db: Db) {
    this.#dir = dir;
    this.file = file;
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO records (seq, segment, offset, length, hash, type, time, run, principal, agent, tool, tenant, span, parent, status, trace)
       VALUES (@seq, @segment, @offset, @length, @hash, @type, @time, @run, @principal, @agent, @tool, @tenant, @span, @parent, @status, @trace)`,
    );
    this.#credentials = new CredentialTable(db);
    this.#dataVersion = this.#readDataVersion();
  }

  /**
   * Open (creating if needed) the index of `dir`. `{}` when it cannot be written (a read-only
   * volume: queries scan the segments); `{problem}` when the file exists but is not an
   * agent-audit index (garbage, truncated, another application's database).
   */
  static open(dir: string, file = path.join(dir, INDEX_FILE)): IndexOpenResult {
    const root = path.resolve(dir);
    let db: Db | undefined;
    if (isSymlink(file)) {
      // Never written through a link planted in the store (it could point at the anchor).
      return {
        problem: `${file} is a symlink; the index is never opened through a link in the store. Move it aside (agent-audit reindex then rebuilds it)`,
      };
    }
    try {
      db = new Database(file);
      db.pragma('busy_timeout = 10000');
      const problem = adopt(db);
      if (problem) {
        db.close();
        return { problem };
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = OFF'); // derived data: a lost index is rebuilt
      createTables(db);
      return { index: new StoreIndex(root, file, db) };
    } catch (error) {
      try {
        db?.close();
      } catch {
        // already unusable
      }
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && UNAVAILABLE.has(code)) return {};
      if (!fs.existsSync(file)) return {};
      return { problem: (error as Error).message };
    }
  }

  close(): void {
    this.#db.close();
  }

  #readDataVersion(): number {
    return Number(this.#db.pragma('data_version', { simple: true }));
  }

  /** True once since another connection (process) last changed the file. */
  changedElsewhere(): boolean {
    const now = this.#readDataVersion();
    const changed = now !== this.#dataVersion;
    this.#dataVersion = now;
    return changed;
  }

  #meta(key: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  #setMeta(key: string, value: string): void {
    this.#db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  /** Drop everything; the next catchUp rebuilds from the segments. */
  reset(): void {
    this.#memoKey = '';
    this.#db.exec('DELETE FROM records; DELETE FROM meta;');
    this.#credentials.clear();
  }

  /** Run `fn` in one read transaction: everything it reads comes from one snapshot. */
  read(fn: () => void): void {
    this.#db.transaction(fn).deferred();
  }

  /** Drop everything and index every record again, in one transaction. Returns the count. */
  rebuild(): number {
    return this.#db
      .transaction(() => {
        this.reset();
        return this.catchUp().added;
      })
      .immediate();
  }

  /**
   * Index records appended since the last call. `rebuilt` is true when every row now in the
   * index was written by this call from records whose hash it checked.
   */
  catchUp(onProgress?: (progress: IndexProgress) => void): { added: number; rebuilt: boolean } {
    const segments = listSegments(this.#dir);
    // Nothing appended since the last call (the common case for a query): no write
    // transaction at all, only one small read to confirm the indexed tail is unchanged.
    const last = segments[segments.length - 1];
    if (
      last &&
      this.#meta('segment') === String(last.segment) &&
      this.#meta('offset') === String(last.size) &&
      this.#meta('first_segment') === String(segments[0]!.segment) &&
      this.#consistent(segments)
    ) {
      return { added: 0, rebuilt: false };
    }
    let added = 0;
    let rebuilt = false;
    const run = this.#db.transaction(() => {
      if (!this.#consistent(segments)) this.reset();
      rebuilt = this.#meta('segment') === undefined;
      if (rebuilt) {
        this.#db.exec('DELETE FROM records;');
        this.#credentials.clear();
      }
      this.#setMeta('schema', SCHEMA_VERSION);
      const first = segments[0];
      if (first) {
        this.#db.prepare('DELETE FROM records WHERE segment < ?').run(first.segment);
        this.#credentials.dropBefore(first.segment);
      }
      let segment = Number(this.#meta('segment') ?? 0);
      let offset = Number(this.#meta('offset') ?? 0);
      let lastHash = this.#meta('last_hash');
      let lastLoc = this.#meta('last_loc');
      // Told before the first segment and after each one (inside the transaction: what it
      // reports is not committed until catchUp returns, and is rolled back if it throws).
      let done = 0;
      const tell = () =>
        onProgress?.({ segmentsDone: done, segmentsTotal: segments.length, records: added });
      tell();
      for (const s of segments) {
        done += 1;
        if (s.segment < segment) continue;
        const from = s.segment === segment ? offset : 0;
        if (from >= s.size) {
          tell();
          continue;
        }
        const scan = scanLines(
          s.path,
          (buf, start, end, at) => {
            const env = parseEnvelope(buf, start, end);
            // Run summaries come from the index alone, so nothing unverified gets in.
            if (typeof env === 'string') {
              throw new StoreError(
                'RECORD_MALFORMED',
                `segment ${s.segment} byte ${at}: ${env}; run agent-audit verify`,
              );
            }
            if (computeLineHash(buf, start, end) !== env.hash) {
              throw new StoreError(
                'RECORD_HASH_MISMATCH',
                `segment ${s.segment} seq ${env.seq}: record does not match its hash (tampered); run agent-audit verify`,
              );
            }
            const tags = tagsOf(buf, env);
            this.#insert.run({
              seq: env.seq,
              segment: s.segment,
              offset: at,
              length: end - start,
              hash: env.hash,
              type: env.type,
              time: env.time,
              run: tags.run ?? null,
              principal: tags.principal ?? null,
              agent: tags.agent ?? null,
              tool: tags.tool ?? null,
              tenant: tags.tenant ?? null,
              span: tags.span ?? null,
              parent: tags.parent ?? null,
              status: tags.status ?? null,
              trace: tags.trace ?? null,
            });
            this.#credentials.add(env.seq, s.segment, credentialRefsOfLine(buf, env));
            lastHash = env.hash;
            lastLoc = `${s.segment}:${at}:${end - start}`;
            added += 1;
          },
          { from, chunkSize: chunkFor(s.size - from) },
        );
        segment = s.segment;
        offset = from + scan.completeBytes;
        tell();
      }
      this.#setMeta('segment', String(segment));
      this.#setMeta('offset', String(offset));
      if (lastHash !== undefined) this.#setMeta('last_hash', lastHash);
      if (lastLoc !== undefined) this.#setMeta('last_loc', lastLoc);
      const firstHash = firstLine(segments);
      if (firstHash && segments[0]) {
        this.#setMeta('first_line_hash', firstHash);
        this.#setMeta('first_segment', String(segments[0].segment));
      }
    });
    run.immediate();
    return { added, rebuilt };
  }

  /** The index still describes these segments: same first record, last indexed record intact. */
  #consistent(segments: ReturnType<typeof listSegments>): boolean {
    if (this.#meta('schema') !== SCHEMA_VERSION) return false;
    // Same first segment but another first record: a different store now lives here.
    const firstSegment = this.#meta('first_segment');
    if (firstSegment !== undefined && segments[0] && String(segments[0].segment) === firstSegment) {
      if (firstLine(segments) !== this.#meta('first_line_hash')) return false;
    }
    if (segments.length === 0) return this.#meta('last_hash') === undefined;
    const lastLoc = this.#meta('last_loc');
    const lastHash = this.#meta('last_hash');
    if (!lastLoc || !lastHash) return true;
    const [seg, off, len] = lastLoc.split(':').map(Number) as [number, number, number];
    if (![seg, off, len].every((n) => Number.isSafeInteger(n) && n >= 0)) return false;
    const file = segments.find((s) => s.segment === seg);
    if (!file) return segments.length > 0 && segments[0]!.segment > seg; // pruned away is fine
    if (file.size < off + len + 1 || len < 73) return false;
    const buf = Buffer.alloc(len);
    const fd = fs.openSync(file.path, 'r');
    try {
      fs.readSync(fd, buf, 0, len, off);
    } finally {
      fs.closeSync(fd);
    }
    return buf.toString('latin1', 9, 73) === lastHash;
  }

  /**
   * Check the whole index against the segments: its rows, in seq order, must tile every
   * indexed segment line by line (no record without its row, no row without its record) and
   * each row must say what its record says (seq, hash, type, time, every indexed tag). Returns
   * the first disagreement, or undefined. Reads the segments once; hashes nothing (a record
   * that does not match its hash is verify's finding, and catchUp hashed each row's record).
   */
  /**
   * Where the index is caught up to: records before `offset` of segment `segment` (and every
   * earlier segment) have rows. A scan held against the index stops there, so records a
   * writer appends meanwhile are not taken for rows the index lacks.
   */
  indexedThrough(): { segment: number; offset: number } {
    return {
      segment: Number(this.#meta('segment') ?? -1),
      offset: Number(this.#meta('offset') ?? 0),
    };
  }

  audit(): string | undefined {
    const segments = listSegments(this.#dir);
    const indexedSegment = Number(this.#meta('segment') ?? -1);
    const indexedOffset = Number(this.#meta('offset') ?? 0);
    const rows = this.#db
      .prepare(
        'SELECT seq, segment, offset, length, hash, type, time, run, principal, agent, tool, tenant, span, parent, status, trace FROM records ORDER BY seq',
      )
      .iterate() as IterableIterator<IndexedRow>;
    const credentials = this.#credentials.auditor();
    let problem: string | undefined;
    try {
      for (const s of segments) {
        if (problem || s.segment > indexedSegment) break;
        scanLines(
          s.path,
          (buf, start, end, at) => {
            if (problem) return;
            const next = rows.next();
            if (next.done) {
              problem = `the record at segment ${s.segment} byte ${at} has no row`;
              return;
            }
            const row = next.value;
            if (row.segment !== s.segment || row.offset !== at || row.length !== end - start) {
              problem = `row seq ${row.seq} does not point at the next record (segment ${s.segment} byte ${at})`;
              return;
            }
            const env = parseEnvelope(buf, start, end);
            if (typeof env === 'string') {
              problem = `row seq ${row.seq} points at a line that is not a record`;
              return;
            }
            // Fast path: the tags bytes are exactly what the row's columns encode to (the
            // writer's canonical form); otherwise (other keys, escapes) compare parsed tags.
            const sameTags =
              buf.toString('utf8', env.tagsStart, env.tagsEnd) === canonicalTags(row);
            problem = rowDisagreement(row, {
              seq: env.seq,
              hash: env.hash,
              type: env.type,
              time: env.time,
              tags: sameTags ? rowTags(row) : tagsOf(buf, env),
            });
            problem ??= credentials.check(env.seq, credentialRefsOfLine(buf, env));
          },
          {
            chunkSize: chunkFor(s.size),
            ...(s.segment === indexedSegment ? { to: indexedOffset } : {}),
          },
        );
      }
      if (!problem) {
        const extra = rows.next();
        if (!extra.done) problem = `row seq ${extra.value.seq} has no record in the segments`;
      }
      if (!problem) problem = credentials.finish();
    } finally {
      rows.return?.();
      credentials.close();
    }
    return problem;
  }

  runLocations(runId: string): IndexedRow[] {
    return this.#db
      .prepare(
        'SELECT seq, segment, offset, length, hash, type, time, run, principal, agent, tool, tenant, span, parent, status, trace FROM records WHERE run = ? ORDER BY seq',
      )
      .all(runId) as IndexedRow[];
  }

  /**
   * The records whose payload names `ref` (as a used or an issued credential), in seq order,
   * each with how it names it. The caller reads and checks each record.
   */
  credentialLocations(ref: string): Array<IndexedRow & { kind: CredentialKind }> {
    return this.#db
      .prepare(
        `SELECT r.seq, r.segment, r.offset, r.length, r.hash, r.type, r.time, r.run, r.principal, r.agent, r.tool, r.tenant, r.span, r.parent, r.status, r.trace, c.kind
         FROM credentials c JOIN records r ON r.seq = c.seq WHERE c.ref = ? ORDER BY c.seq, c.kind`,
      )
      .all(ref) as Array<IndexedRow & { kind: CredentialKind }>;
  }

  /**
   * Answers that need a pass over every row (there is no index on `type`), kept until the index
   * changes: by this connection (the indexed position moves, or a reset) or by another one
   * (`data_version`).
   */
  #memo = new Map<string, unknown>();
  #memoKey = '';

  #memoized<T>(name: string, compute: () => T): T {
    const key = `${this.#db.pragma('data_version', { simple: true })}:${this.#meta('segment')}:${this.#meta('offset')}:${this.#meta('last_hash')}`;
    if (key !== this.#memoKey) {
      this.#memo.clear();
      this.#memoKey = key;
    }
    if (!this.#memo.has(name)) this.#memo.set(name, compute());
    return this.#memo.get(name) as T;
  }

  /** Where the `loss` records are (the reader reads and checks them to mark runs incomplete). */
  lossLocations(): IndexedRow[] {
    return this.#memoized(
      'loss',
      () =>
        this.#db
          .prepare(
            "SELECT seq, segment, offset, length, hash, type, time, run, principal, agent, tool, tenant, span, parent, status, trace FROM records WHERE type = 'loss' ORDER BY seq",
          )
          .all() as IndexedRow[],
    );
  }

  /**
   * The `limit` runs with the most recent records, skipping the first `offset` such runs: read
   * backwards from the last record, so a first page costs a few hundred rows on any store size.
   */
  recentRunIds(offset: number, limit: number): string[] {
    const ids: string[] = [];
    const seen = new Set<string>();
    const rows = this.#db
      .prepare(
        "SELECT run FROM records WHERE run IS NOT NULL AND type IN ('span.start', 'span.end', 'event') ORDER BY seq DESC",
      )
      .pluck()
      .iterate() as IterableIterator<string>;
    try {
      for (const run of rows) {
        if (seen.has(run)) continue;
        seen.add(run);
        if (seen.size > offset) ids.push(run);
        if (ids.length >= limit) break;
      }
    } finally {
      rows.return?.();
    }
    return ids;
  }

  /** How many runs have records. */
  runCount(): number {
    return this.#memoized('runCount', () =>
      Number(
        this.#db
          .prepare(
            "SELECT COUNT(DISTINCT run) FROM records WHERE run IS NOT NULL AND type IN ('span.start', 'span.end', 'event')",
          )
          .pluck()
          .get(),
      ),
    );
  }

  /**
   * Tagged rows of the runs that match the tag filters (time is filtered by the caller), or of
   * the runs named in `runs`.
   */
  runRows(filter: RunFilter, runs?: string[]): IndexedTagRow[] {
    const clauses: string[] = [];
    const params: string[] = [];
    if (runs) {
      clauses.push(`run IN (${runs.map(() => '?').join(',') || "''"})`);
      params.push(...runs);
    }
    for (const key of ['principal', 'agent', 'tool', 'tenant'] as const) {
      const value = filter[key];
      if (value === undefined) continue;
      clauses.push(`run IN (SELECT run FROM records WHERE ${key} = ?)`);
      params.push(value);
    }
    // Only a narrowing (summariseRuns drops a run that ended before `since` either way): with a
    // tag filter, the tag's index already narrows to a few runs, and this clause would make
    // SQLite collect every run with a record since then (most of a store for `--since 90d`).
    if (filter.since && clauses.length === 0) {
      clauses.push('run IN (SELECT run FROM records WHERE run IS NOT NULL AND time >= ?)');
      params.push(filter.since.toISOString());
    }
    const where = clauses.length > 0 ? `AND ${clauses.join(' AND ')}` : '';
    const rows = this.#db
      .prepare(
        `SELECT seq, time, type, run, principal, agent, tool, tenant, span, parent, status FROM records
         WHERE run IS NOT NULL AND type IN ('span.start', 'span.end', 'event') ${where} ORDER BY seq`,
      )
      .all(...params) as Array<Record<string, string | number | null>>;
    return rows.map((r) => {
      const tags: RecordTags = {};
      for (const k of INDEXED_TAGS) {
        const v = r[k];
        if (typeof v === 'string') tags[k] = v;
      }
      return { seq: Number(r.seq), time: String(r.time), type: String(r.type), tags };
    });
  }
}

/**
 * Decide whether an opened SQLite file may serve as this store's index: an agent-audit index
 * (tables of another schema version are dropped, to be rebuilt), an empty database, or an
 * index written before indexes carried an application id. Anything else is refused.
 */
function adopt(db: Db): string | undefined {
  const appId = Number(db.pragma('application_id', { simple: true }));
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
      name: string;
    }>
  ).map((t) => t.name);
  const ours =
    appId === APPLICATION_ID ||
    (appId === 0 &&
      tables.every((t) => t === 'meta' || t === 'records') &&
      (tables.length === 0 || tables.includes('meta')));
  if (!ours) {
    // Counts only: table names come from the file and could carry terminal escapes.
    return `not an agent-audit index (application_id ${appId}, ${tables.length} other tables)`;
  }
  let schema: string | undefined;
  if (tables.includes('meta')) {
    schema = (
      db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
        | { value: string }
        | undefined
    )?.value;
  }
  if (tables.length > 0 && schema !== SCHEMA_VERSION) {
    db.exec(
      'DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS credentials;',
    );
  }
  if (appId !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
  return undefined;
}

function createTables(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS records (
      seq INTEGER PRIMARY KEY, segment INTEGER NOT NULL, offset INTEGER NOT NULL,
      length INTEGER NOT NULL, hash TEXT NOT NULL, type TEXT NOT NULL, time TEXT NOT NULL,
      run TEXT, principal TEXT, agent TEXT, tool TEXT, tenant TEXT, span TEXT, parent TEXT,
      status TEXT, trace TEXT);
    CREATE INDEX IF NOT EXISTS records_run ON records (run, seq) WHERE run IS NOT NULL;
    CREATE INDEX IF NOT EXISTS records_principal ON records (principal, run) WHERE principal IS NOT NULL;
    CREATE INDEX IF NOT EXISTS records_agent ON records (agent, run) WHERE agent IS NOT NULL;
    CREATE INDEX IF NOT EXISTS records_tool ON records (tool, run) WHERE tool IS NOT NULL;
    CREATE INDEX IF NOT EXISTS records_tenant ON records (tenant, run) WHERE tenant IS NOT NULL;
    CREATE INDEX IF NOT EXISTS records_time ON records (time) WHERE run IS NOT NULL;
  `);
  createCredentialTable(db);
}

/** A read buffer no larger than the file (most segments are far below the 4 MiB default). */
export function chunkFor(bytes: number): number {
  return Math.min(4 * 1024 * 1024, Math.max(64 * 1024, bytes));
}

function firstLine(segments: ReturnType<typeof listSegments>): string | undefined {
  const first = segments[0];
  if (!first || first.size < 73) return undefined;
  const buf = Buffer.alloc(73);
  const fd = fs.openSync(first.path, 'r');
  try {
    fs.readSync(fd, buf, 0, 73, 0);
  } finally {
    fs.closeSync(fd);
  }
  return buf.toString('latin1', 9, 73);
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
