import type Database from 'better-sqlite3';
import type { Envelope } from './record-format.js';

/**
 * The `credential.ref` part of the query index: record → credential reference, several per
 * record, each with how the record names it. A tag column cannot hold it: one span can carry
 * the credential it used (`credential.ref` attribute) and, in a `credential.issued` event, a
 * different one it issued. Like the rest of the index, a cache held against the segments.
 */

/** `used`: a `credential.ref` attribute; `issued`: one in a `credential.issued` event. */
export type CredentialKind = 'used' | 'issued';

export interface CredentialRef {
  kind: CredentialKind;
  ref: string;
}

/** The record types whose payloads name credentials (the spans a run's timeline reads). */
export const CREDENTIAL_RECORD_TYPES: ReadonlySet<string> = new Set(['span.start', 'span.end']);

// OTLP/JSON names, spelled here because the store has no OpenTelemetry dependency (they match
// ATTR_CREDENTIAL_REF and RUN_EVENT_CREDENTIAL_ISSUED of @agent-audit/instrumentation).
const CREDENTIAL_REF_KEY = 'credential.ref';
const ISSUED_EVENT = 'credential.issued';
const KEY_BYTES = Buffer.from(CREDENTIAL_REF_KEY);
/** A JSON escape: the key could be spelled with one (a non-canonical writer), so parse then. */
const ESCAPE_BYTES = Buffer.from('\\u');
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const ISSUED_BYTES = Buffer.from(ISSUED_EVENT);
/** A whole KeyValue as canonical OTLP/JSON writes one: `{"key":"credential.ref","value":{"stringValue":"`. */
const KEY_VALUE_HEAD = Buffer.from(`{"key":"${CREDENTIAL_REF_KEY}","value":{"stringValue":"`);
const KEY_VALUE_TAIL = Buffer.from('"}}');
/** Where the key's bytes start in `KEY_VALUE_HEAD`. */
const KEY_OFFSET = KEY_VALUE_HEAD.indexOf(KEY_BYTES);

/**
 * Every credential reference an OTLP/JSON payload names: each `{key: 'credential.ref', value:
 * {stringValue}}` anywhere in it (span, event, resource attributes; an export request of several
 * spans), `issued` when it is an attribute of an event named `credential.issued`. Deliberately
 * wider than what a timeline shows (a span's attribute list keeps its last value of a repeated
 * key): the index only narrows which runs a credential query reads, and the query checks the
 * runs it reads. No repeats.
 */
export function credentialRefsOfPayload(payload: unknown): CredentialRef[] {
  const found = new Set<string>();
  // Iterative walk: a hostile payload may nest deeper than the call stack.
  const stack: Array<{ value: unknown; issued: boolean }> = [{ value: payload, issued: false }];
  while (stack.length > 0) {
    const { value, issued } = stack.pop()!;
    if (Array.isArray(value)) {
      for (const v of value) stack.push({ value: v, issued });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    const obj = value as Record<string, unknown>;
    if (obj.key === CREDENTIAL_REF_KEY) {
      const v = obj.value as { stringValue?: unknown } | null | undefined;
      if (v !== null && typeof v === 'object' && typeof v.stringValue === 'string') {
        found.add(`${issued ? 'issued' : 'used'}\u0000${v.stringValue}`);
      }
    }
    const isIssueEvent = obj.name === ISSUED_EVENT;
    for (const [k, v] of Object.entries(obj)) {
      if (v !== null && typeof v === 'object') {
        stack.push({ value: v, issued: isIssueEvent ? k === 'attributes' : issued });
      }
    }
  }
  return [...found].map((s) => {
    const at = s.indexOf('\u0000');
    return { kind: s.slice(0, at) as CredentialKind, ref: s.slice(at + 1) };
  });
}

/**
 * The credential references of one record line (as `credentialRefsOfPayload`); none for a
 * record type that names none, or a payload without the key's bytes (nearly every record:
 * only those are parsed).
 */
export function credentialRefsOfLine(buf: Buffer, env: Envelope): CredentialRef[] {
  if (!CREDENTIAL_RECORD_TYPES.has(env.type)) return [];
  return credentialRefsOfBytes(buf.subarray(env.payloadStart, env.payloadEnd));
}

/** `credentialRefsOfPayload` of a payload's JSON bytes, parsing only when it must. */
export function credentialRefsOfBytes(payload: Buffer): CredentialRef[] {
  if (payload.indexOf(KEY_BYTES) < 0 && payload.indexOf(ESCAPE_BYTES) < 0) return [];
  const fast = usedRefsOfBytes(payload);
  if (fast) return fast;
  try {
    return credentialRefsOfPayload(JSON.parse(payload.toString('utf8')));
  } catch {
    return [];
  }
}

/**
 * The common case without parsing (most spans carry their run's `credential.ref`; the
 * whole-index check reads every record): a payload with no backslash (so every `"` delimits a
 * string) and no `credential.issued` bytes, where every `credential.ref` is a whole KeyValue
 * `{"key":"credential.ref","value":{"stringValue":"…"}}` (nothing before or after the two
 * members). Then the parse would find exactly these, all `used`. Undefined: parse instead.
 */
function usedRefsOfBytes(payload: Buffer): CredentialRef[] | undefined {
  if (payload.indexOf(BACKSLASH) >= 0 || payload.indexOf(ISSUED_BYTES) >= 0) return undefined;
  const refs = new Set<string>();
  let at = payload.indexOf(KEY_BYTES);
  while (at >= 0) {
    const head = at - KEY_OFFSET;
    if (head < 0 || !payload.subarray(head, head + KEY_VALUE_HEAD.length).equals(KEY_VALUE_HEAD)) {
      return undefined;
    }
    const start = head + KEY_VALUE_HEAD.length;
    const end = payload.indexOf(QUOTE, start);
    if (end < 0 || !payload.subarray(end, end + KEY_VALUE_TAIL.length).equals(KEY_VALUE_TAIL)) {
      return undefined;
    }
    refs.add(payload.toString('utf8', start, end));
    at = payload.indexOf(KEY_BYTES, end);
  }
  return [...refs].map((ref) => ({ kind: 'used', ref }));
}

export function createCredentialTable(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS credentials (
      seq INTEGER NOT NULL, segment INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL,
      PRIMARY KEY (seq, kind, ref)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS credentials_ref ON credentials (ref, seq);
  `);
}

/** One credential row joined to its record's location (what a credential query reads back). */
export interface CredentialRow {
  seq: number;
  kind: string;
  ref: string;
}

/** The credential table's statements on one index connection. */
export class CredentialTable {
  readonly #insert: Database.Statement;
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#insert = db.prepare(
      'INSERT OR REPLACE INTO credentials (seq, segment, kind, ref) VALUES (?, ?, ?, ?)',
    );
    // Prepared now so that a `credentials` table of other columns fails at open (unusable).
    db.prepare('SELECT seq, kind, ref FROM credentials WHERE ref = ? ORDER BY seq');
  }

  add(seq: number, segment: number, refs: CredentialRef[]): void {
    for (const r of refs) this.#insert.run(seq, segment, r.kind, r.ref);
  }

  clear(): void {
    this.#db.exec('DELETE FROM credentials;');
  }

  /** Rows of records in pruned segments. */
  dropBefore(segment: number): void {
    this.#db.prepare('DELETE FROM credentials WHERE segment < ?').run(segment);
  }

  /** A checker that walks every credential row in seq order beside the segments. */
  auditor(): CredentialAuditor {
    return new CredentialAuditor(
      this.#db
        .prepare('SELECT seq, kind, ref FROM credentials ORDER BY seq, kind, ref')
        .iterate() as IterableIterator<CredentialRow>,
    );
  }
}

/**
 * Holds the credential rows against the records, in seq order: each record's rows must be
 * exactly the references its payload names (none planted, none removed, none changed).
 * Messages name seqs and kinds only, never a reference: both sides may come from a hostile file.
 */
export class CredentialAuditor {
  readonly #rows: IterableIterator<CredentialRow>;
  #next: CredentialRow | undefined;
  #done = false;

  constructor(rows: IterableIterator<CredentialRow>) {
    this.#rows = rows;
    this.#advance();
  }

  #advance(): void {
    if (this.#done) return;
    const n = this.#rows.next();
    if (n.done) {
      this.#done = true;
      this.#next = undefined;
    } else {
      this.#next = n.value;
    }
  }

  /** Check the rows for the record `seq` (records come in seq order). */
  check(seq: number, expected: CredentialRef[]): string | undefined {
    if (this.#next && this.#next.seq < seq) {
      return `credential row of seq ${this.#next.seq} has no record naming that credential`;
    }
    // Compared as sets (SQLite orders refs by UTF-8 bytes, JavaScript by UTF-16 units); a
    // record names one or two, so a linear search.
    let rows = 0;
    while (this.#next && this.#next.seq === seq) {
      const row = this.#next;
      if (!expected.some((r) => r.kind === row.kind && r.ref === row.ref)) {
        return `row seq ${seq}: a ${row.kind} credential row differs from the record`;
      }
      rows += 1;
      this.#advance();
    }
    // Rows are unique (primary key) and each is expected: equal counts, equal sets.
    if (rows !== expected.length) return `row seq ${seq}: a credential the record names has no row`;
    return undefined;
  }

  /** After the last indexed record: any row left over names no record. */
  finish(): string | undefined {
    const left = this.#next;
    this.close();
    return left
      ? `credential row of seq ${left.seq} has no record naming that credential`
      : undefined;
  }

  close(): void {
    if (!this.#done) this.#rows.return?.();
    this.#done = true;
    this.#next = undefined;
  }
}
