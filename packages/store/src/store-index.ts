import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { computeLineHash, parseEnvelope } from './record-format.js';
import { listSegments, scanLines } from './segment-files.js';
import type { RecordTags, RunFilter } from './types.js';

export const INDEX_FILE = 'index.sqlite';
const SCHEMA_VERSION = '1';

export interface IndexedLocation {
  seq: number;
  segment: number;
  offset: number;
  length: number;
  hash: string;
}

export interface IndexedTagRow {
  seq: number;
  time: string;
  type: string;
  tags: RecordTags;
}

type Db = Database.Database;

/**
 * Run id / principal / agent / tool / tenant / time → record locations, in SQLite. Derived
 * data only: it is rebuilt from the segments whenever it does not match them (another
 * origin, a rewritten or truncated segment), and queries re-check every record they return
 * against its bytes. Indexing is incremental: each query first indexes records appended since.
 */
export class StoreIndex {
  readonly #dir: string;
  readonly #db: Db;
  readonly #insert: Database.Statement;

  private constructor(dir: string, db: Db) {
    this.#dir = dir;
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO records (seq, segment, offset, length, hash, type, time, run, principal, agent, tool, tenant, span, parent, status)
       VALUES (@seq, @segment, @offset, @length, @hash, @type, @time, @run, @principal, @agent, @tool, @tenant, @span, @parent, @status)`,
    );
  }

  /** Open (creating if needed) the index of `dir`; undefined when it cannot be written. */
  static open(dir: string, file = path.join(dir, INDEX_FILE)): StoreIndex | undefined {
    let db: Db;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = OFF'); // derived data: a lost index is rebuilt
      db.pragma('busy_timeout = 10000');
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS records (
          seq INTEGER PRIMARY KEY, segment INTEGER NOT NULL, offset INTEGER NOT NULL,
          length INTEGER NOT NULL, hash TEXT NOT NULL, type TEXT NOT NULL, time TEXT NOT NULL,
          run TEXT, principal TEXT, agent TEXT, tool TEXT, tenant TEXT, span TEXT, parent TEXT,
          status TEXT);
        CREATE INDEX IF NOT EXISTS records_run ON records (run, seq) WHERE run IS NOT NULL;
        CREATE INDEX IF NOT EXISTS records_principal ON records (principal, run) WHERE principal IS NOT NULL;
        CREATE INDEX IF NOT EXISTS records_agent ON records (agent, run) WHERE agent IS NOT NULL;
        CREATE INDEX IF NOT EXISTS records_tool ON records (tool, run) WHERE tool IS NOT NULL;
        CREATE INDEX IF NOT EXISTS records_tenant ON records (tenant, run) WHERE tenant IS NOT NULL;
        CREATE INDEX IF NOT EXISTS records_time ON records (time) WHERE run IS NOT NULL;
      `);
    } catch {
      return undefined;
    }
    return new StoreIndex(path.resolve(dir), db);
  }

  close(): void {
    this.#db.close();
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
    this.#db.exec('DELETE FROM records; DELETE FROM meta;');
  }

  /** Index records appended since the last call. Returns how many were added. */
  catchUp(): number {
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
      return 0;
    }
    let added = 0;
    const run = this.#db.transaction(() => {
      if (!this.#consistent(segments)) this.reset();
      this.#setMeta('schema', SCHEMA_VERSION);
      const first = segments[0];
      if (first) this.#db.prepare('DELETE FROM records WHERE segment < ?').run(first.segment);
      let segment = Number(this.#meta('segment') ?? 0);
      let offset = Number(this.#meta('offset') ?? 0);
      let lastHash = this.#meta('last_hash');
      let lastLoc = this.#meta('last_loc');
      for (const s of segments) {
        if (s.segment < segment) continue;
        const from = s.segment === segment ? offset : 0;
        if (from >= s.size) continue;
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
            let tags: RecordTags = {};
            if (env.tagsEnd - env.tagsStart > 2) {
              try {
                tags = JSON.parse(buf.toString('utf8', env.tagsStart, env.tagsEnd)) as RecordTags;
              } catch {
                tags = {};
              }
            }
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
            });
            lastHash = env.hash;
            lastLoc = `${s.segment}:${at}:${end - start}`;
            added += 1;
          },
          { from },
        );
        segment = s.segment;
        offset = from + scan.completeBytes;
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
    return added;
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
    const file = segments.find((s) => s.segment === seg);
    if (!file) return segments.length > 0 && segments[0]!.segment > seg; // pruned away is fine
    if (file.size < off + len + 1) return false;
    const buf = Buffer.alloc(len);
    const fd = fs.openSync(file.path, 'r');
    try {
      fs.readSync(fd, buf, 0, len, off);
    } finally {
      fs.closeSync(fd);
    }
    return buf.toString('latin1', 9, 73) === lastHash;
  }

  runLocations(runId: string): IndexedLocation[] {
    return this.#db
      .prepare('SELECT seq, segment, offset, length, hash FROM records WHERE run = ? ORDER BY seq')
      .all(runId) as IndexedLocation[];
  }

  locationFrom(seq: number): IndexedLocation | undefined {
    return this.#db
      .prepare(
        'SELECT seq, segment, offset, length, hash FROM records WHERE seq >= ? ORDER BY seq LIMIT 1',
      )
      .get(seq) as IndexedLocation | undefined;
  }

  /** Tagged rows of the runs that match the tag filters (time is filtered by the caller). */
  runRows(filter: RunFilter): IndexedTagRow[] {
    const clauses: string[] = [];
    const params: string[] = [];
    for (const key of ['principal', 'agent', 'tool', 'tenant'] as const) {
      const value = filter[key];
      if (value === undefined) continue;
      clauses.push(`run IN (SELECT run FROM records WHERE ${key} = ?)`);
      params.push(value);
    }
    if (filter.since) {
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
      for (const k of [
        'run',
        'principal',
        'agent',
        'tool',
        'tenant',
        'span',
        'parent',
        'status',
      ] as const) {
        const v = r[k];
        if (typeof v === 'string') tags[k] = v;
      }
      return { seq: Number(r.seq), time: String(r.time), type: String(r.type), tags };
    });
  }
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

/**
 * Rebuild the index of a store from its segments (`agent-audit reindex`). Returns the number
 * of records indexed.
 */
export function reindexStore(
  dir: string,
  options: { indexPath?: string } = {},
): { records: number } {
  const root = path.resolve(dir);
  const index = StoreIndex.open(root, options.indexPath);
  if (!index) {
    throw new StoreError(
      'INDEX_NOT_WRITABLE',
      `cannot open the index of ${root} for writing; reindex needs write access to the store directory (or pass indexPath)`,
      { dir: root },
    );
  }
  try {
    index.reset();
    return { records: index.catchUp() };
  } finally {
    index.close();
  }
}
