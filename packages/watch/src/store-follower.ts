import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { openSegmentReader, type RawRecord, type SegmentReader } from '@agent-audit/store';

/** What the follower tells the watcher that is not a record (printed on stderr). */
export interface FollowNotice {
  code: 'RECORD_UNREADABLE' | 'STORE_REPLACED' | 'RECORDS_PRUNED' | 'STORE_UNAVAILABLE';
  message: string;
}

export interface FollowBatch {
  origin: string;
  /** Hash-checked records, payload as stored (parsed only by those who need it). */
  records: RawRecord[];
  /** The cursor after this batch: the next seq to read of `origin`. */
  nextSeq: number;
  /** Damaged records passed over (each with a RECORD_UNREADABLE notice). */
  skipped?: number;
}

const SEGMENT_NAME = /^(\d{8})\.jsonl$/;

/** The origin in the header of the lowest-numbered segment, or undefined (no store yet). */
export function storeOrigin(dir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(join(dir, 'segments'))
      .filter((n) => SEGMENT_NAME.test(n))
      .sort();
  } catch {
    return undefined;
  }
  const first = names[0];
  if (!first) return undefined;
  const fd = openSync(join(dir, 'segments', first), 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.toString('utf8', 0, n);
    const match = /"origin":"([0-9a-f]{32})"/.exec(text.slice(0, text.indexOf('\n') + 1 || n));
    return match?.[1];
  } finally {
    closeSync(fd);
  }
}

/** The writer witness's durable seq for `origin`, or undefined (no trust dir, no witness). */
function witnessSeq(trustDir: string | undefined, origin: string): number | undefined {
  if (!trustDir) return undefined;
  try {
    const w = JSON.parse(readFileSync(join(trustDir, `anchor.jsonl.${origin}.head`), 'utf8')) as {
      seq?: unknown;
      origin?: unknown;
    };
    return w.origin === origin && Number.isSafeInteger(w.seq) ? (w.seq as number) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Follows one store through `@agent-audit/store`'s segment reader (every record hash-checked
 * against its bytes), from a cursor (origin + next seq), never past the durable head: the
 * writer witness in the store's trust directory when there is one, else the last complete
 * record. Survives what a live store does under it: rotation (sealed segments, new ones),
 * pruning (a cursor below the oldest record moves up, with a notice), a store replaced by
 * another one (a new origin: followed from its start, with a notice), and a damaged record
 * (a notice naming it, then the records after it).
 */
export class StoreFollower {
  readonly dir: string;
  readonly trustDir: string | undefined;
  #reader: SegmentReader | undefined;
  #origin: string | undefined;
  #nextSeq = 1;
  #unavailable = false;

  constructor(
    dir: string,
    trustDir: string | undefined,
    cursor?: { origin: string; nextSeq: number },
  ) {
    this.dir = dir;
    this.trustDir = trustDir;
    if (cursor) {
      this.#origin = cursor.origin;
      this.#nextSeq = cursor.nextSeq;
    }
  }

  get cursor(): { origin: string; nextSeq: number } | undefined {
    return this.#origin ? { origin: this.#origin, nextSeq: this.#nextSeq } : undefined;
  }

  /** Up to `limit` new durable records (possibly none); never throws for a store problem. */
  poll(limit: number, notices: { code: string; message: string }[]): FollowBatch | undefined {
    let origin: string | undefined;
    try {
      origin = storeOrigin(this.dir);
    } catch (error) {
      origin = undefined;
      this.#noteUnavailable(notices, (error as Error).message);
    }
    if (!origin) {
      if (!this.#unavailable) this.#noteUnavailable(notices, 'no segments yet');
      return undefined;
    }
    this.#unavailable = false;
    if (origin !== this.#origin) {
      if (this.#origin) {
        notices.push({
          code: 'STORE_REPLACED',
          message: `store ${this.dir} now holds another store (origin ${origin}, was ${this.#origin}): following it from its first record; check with agent-audit verify --store ${this.dir}`,
        });
      }
      this.#reader?.close();
      this.#reader = undefined;
      this.#origin = origin;
      this.#nextSeq = 1;
    }
    this.#reader ??= openSegmentReader(this.dir);
    const reader = this.#reader;
    const read = (seq: number, n: number): RawRecord[] =>
      reader.rawRecordsFrom ? reader.rawRecordsFrom(seq, n) : [];
    const durable = witnessSeq(this.trustDir, origin) ?? reader.head()?.seq ?? 0;
    if (durable < this.#nextSeq) return { origin, records: [], nextSeq: this.#nextSeq };
    const want = Math.min(limit, durable - this.#nextSeq + 1);
    let records: RawRecord[];
    try {
      records = read(this.#nextSeq, want);
    } catch {
      // A damaged line somewhere in the batch: take the records before it one by one; the
      // damaged one is then the one at the cursor.
      records = [];
      for (let seq = this.#nextSeq; seq < this.#nextSeq + want; seq++) {
        try {
          const one = read(seq, 1);
          if (one.length === 0) break;
          records.push(...one);
          seq = one[0]!.seq;
        } catch (error) {
          if (records.length > 0) break;
          const why = (error as Error).message.replace(/; run agent-audit verify$/, '');
          notices.push({
            code: 'RECORD_UNREADABLE',
            message: `store ${this.dir} seq ${seq}: ${why}; the watcher skips this record (a tool call in it is not analysed); run agent-audit verify --store ${this.dir}`,
          });
          reader.close();
          this.#nextSeq = seq + 1;
          return { origin, records: [], nextSeq: this.#nextSeq, skipped: 1 };
        }
      }
    }
    const first = records[0];
    if (first && first.seq > this.#nextSeq) {
      notices.push({
        code: 'RECORDS_PRUNED',
        message: `store ${this.dir}: records ${this.#nextSeq}–${first.seq - 1} are no longer in the store (pruned by retention) and were not analysed`,
      });
    }
    records = records.filter((r) => r.seq <= durable);
    const last = records[records.length - 1];
    if (last) this.#nextSeq = last.seq + 1;
    return { origin, records, nextSeq: this.#nextSeq };
  }

  #noteUnavailable(notices: { code: string; message: string }[], why: string): void {
    this.#unavailable = true;
    notices.push({
      code: 'STORE_UNAVAILABLE',
      message: `store ${this.dir} cannot be read yet (${why}); the watcher waits for it`,
    });
  }

  close(): void {
    this.#reader?.close();
    this.#reader = undefined;
  }
}
