import {
  createHash,
  type Hash,
  type KeyObject,
  hash as oneShotHash,
  randomBytes,
} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type AnchorEntry, anchorLine, readAnchorFile } from './anchor-file.js';
import { canonicalJson } from './canonical-json.js';
import { signCheckpoint } from './checkpoint.js';
import { configurationError, StoreError } from './errors.js';
import { type FsLayer, fsyncDirSync, nodeFsLayer, writeFullySync } from './fs-layer.js';
import { acquireLock, LOCK_FILE, releaseLock } from './lock-file.js';
import { type PruneBody, signPrune } from './prune-record.js';
import {
  type BatchEntry,
  computeLineHash,
  type EncodedRecord,
  EncodeScratch,
  encodeBatch,
  encodeRecord,
  FORMAT_VERSION,
  GENESIS_HASH,
  parseEnvelope,
} from './record-format.js';
import { listSegments, SEGMENTS_DIR, scanLines, segmentFileName } from './segment-files.js';
import { loadOrCreateSigningKey } from './signing-keys.js';
import {
  ANCHOR_FILE,
  DEFAULT_STORE_DIR,
  DEFAULT_TRUST_DIR,
  RECOVERED_DIR,
  STORE_CHECKPOINTS_FILE,
} from './store-paths.js';
import type {
  AppendEntry,
  AppendResult,
  AuditStoreOptions,
  PruneOptions,
  PruneResult,
  SignedCheckpoint,
  StoreNotice,
} from './types.js';

const systemNow = () => new Date();
const ENTRY_TYPES = new Set(['span.start', 'span.end', 'event']);
const DAMAGED_SUFFIX = '.damaged';

interface Pending extends BatchEntry {
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

type CheckpointWaiter = { resolve: () => void; reject: (error: Error) => void };

/**
 * A record already written to the segment file (page cache) and waiting for the fdatasync
 * that makes it durable. Only the settlement callbacks are kept, not the record's text.
 */
interface Written {
  seq: number;
  hash: string;
  /** Segment offset just past the write that carried this record. */
  end: number;
  resolve?: (result: AppendResult) => void;
  reject?: (error: Error) => void;
  /** Set on a checkpoint record: anchored once durable, then its waiters are answered. */
  checkpoint?: SignedCheckpoint;
  waiters?: CheckpointWaiter[];
}

interface Resolved {
  retentionMs: number;
  dir: string;
  signingKey: KeyObject | string | undefined;
  trustDir: string;
  anchorPath: string;
  checkpointEveryRecords: number;
  checkpointIntervalMs: number;
  segmentMaxBytes: number;
  segmentMaxAgeMs: number;
  onNotice: (notice: StoreNotice) => void;
  fs: FsLayer;
  now: () => Date;
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw configurationError(name, 'a positive integer', value);
  }
  return value;
}

function resolveOptions(options: AuditStoreOptions): Resolved {
  if (options === null || typeof options !== 'object') {
    throw configurationError('options', 'an object', options);
  }
  for (const key of ['dir', 'trustDir', 'anchorPath'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) {
      throw configurationError(key, 'a non-empty path string', v);
    }
  }
  const dir = path.resolve(options.dir ?? DEFAULT_STORE_DIR);
  const trustDir = path.resolve(options.trustDir ?? DEFAULT_TRUST_DIR);
  return {
    dir,
    signingKey: options.signingKey,
    trustDir,
    anchorPath: path.resolve(options.anchorPath ?? path.join(trustDir, ANCHOR_FILE)),
    checkpointEveryRecords: positiveInt(
      'checkpointEveryRecords',
      options.checkpointEveryRecords,
      1000,
    ),
    checkpointIntervalMs: positiveInt('checkpointIntervalMs', options.checkpointIntervalMs, 5000),
    segmentMaxBytes: positiveInt('segmentMaxBytes', options.segmentMaxBytes, 64 * 1024 * 1024),
    segmentMaxAgeMs: positiveInt('segmentMaxAgeMs', options.segmentMaxAgeMs, 24 * 60 * 60 * 1000),
    retentionMs:
      options.retentionMs === undefined || options.retentionMs === 0
        ? 0
        : positiveInt('retentionMs', options.retentionMs, 0),
    onNotice: options.onNotice ?? (() => {}),
    fs: options.fs ?? nodeFsLayer,
    now: options.now ?? systemNow,
  };
}

/** Turn an OS error into a StoreError that names the store and says how to fix it. */
function ioError(dir: string, what: string, error: unknown): StoreError {
  const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  const reason = (error as Error).message;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError(
        'STORE_DISK_FULL',
        `audit store ${dir}: disk full while ${what} (${code}); free space on that volume or move the store (AGENT_AUDIT_STORE_DIR). The record was not written.`,
        { dir, cause: error },
      );
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return new StoreError(
        'STORE_NOT_WRITABLE',
        `audit store ${dir}: cannot write while ${what} (${code}: ${reason}); mount the volume read-write or grant this user write access, or point AGENT_AUDIT_STORE_DIR at a writable directory. verify and queries still work read-only.`,
        { dir, cause: error },
      );
    case 'EIO':
      return new StoreError(
        'STORE_IO_ERROR',
        `audit store ${dir}: I/O error while ${what} (${code}); the disk may be failing. Records not acknowledged are not durable; check the device, then run agent-audit verify.`,
        { dir, cause: error },
      );
    default:
      return new StoreError(
        'STORE_IO_ERROR',
        `audit store ${dir}: ${what} failed (${code}: ${reason})`,
        {
          dir,
          cause: error,
        },
      );
  }
}

/**
 * The single writer of a WORM audit store: hash-chained canonical JSON lines in numbered
 * segments, group-committed with fdatasync, signed checkpoints mirrored to an anchor file.
 * See docs/store-format.md for the format and the guarantees.
 */
export class AuditStore {
  readonly dir: string;
  /** Set by #recoverAndOpen (from the constructor), like the segment and head fields below. */
  readonly origin!: string;
  readonly keyId: string;
  readonly anchorPath: string;

  readonly #o: Resolved;
  readonly #fs: FsLayer;
  readonly #privateKey: KeyObject;
  readonly #segDir: string;
  readonly #lockPath: string;
  #segment!: number;
  #segmentFd!: number;
  /** Durable end of the current segment (everything before it has been fdatasync'd). */
  #segmentOffset!: number;
  /**
   * Write-through state: where the next record is written and what it chains to. Records are
   * written when appended, so this runs ahead of the durable head (#headSeq/#headHash) by
   * whatever the next fdatasync will cover.
   */
  #writeOffset = 0;
  #writeSeq = 0;
  #writeHash = GENESIS_HASH;
  /** Written, not yet durable, in seq order. */
  #written: Written[] = [];
  #segmentFirstSeq!: number;
  #segmentRecords!: number;
  #segmentCreated!: number;
  #segmentDigest!: Hash;
  /** Output memory reused by every append's encode (written synchronously, never kept). */
  readonly #scratch = new EncodeScratch();
  #headSeq!: number;
  #headHash!: string;
  #sinceCheckpoint = 0;
  #lastCheckpointSeq = 0;
  #checkpointWaiters: CheckpointWaiter[] = [];
  #checkpointWanted = false;
  #committing = false;
  #scheduled = false;
  #failed: StoreError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #timer: NodeJS.Timeout;
  #listeners = new Set<(head: AppendResult) => void>();
  /** One-entry memo of the tag key order (see tagPlan). */
  readonly #tagPlan: TagPlanMemo = {};

  /**
   * Open (or create) a store for writing. Synchronous on purpose: it runs at process startup
   * and takes the lock, recovers a torn tail and checks the anchor before anything is traced.
   */
  static open(options: AuditStoreOptions = {}): AuditStore {
    return new AuditStore(resolveOptions(options));
  }

  private constructor(o: Resolved) {
    this.#o = o;
    this.#fs = o.fs;
    this.dir = o.dir;
    this.anchorPath = o.anchorPath;
    this.#segDir = path.join(o.dir, SEGMENTS_DIR);
    this.#lockPath = path.join(o.dir, LOCK_FILE);
    try {
      this.#fs.mkdirSync(this.#segDir, { recursive: true });
    } catch (error) {
      throw ioError(o.dir, 'creating the store directory', error);
    }
    try {
      acquireLock(this.#fs, this.#lockPath, o.dir);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw ioError(o.dir, 'taking the writer lock', error);
    }
    try {
      const key = loadOrCreateSigningKey(o.signingKey, o.trustDir);
      this.#privateKey = key.privateKey;
      this.keyId = key.keyId;
      if (key.generated) {
        o.onNotice({
          code: 'KEY_GENERATED',
          message: `generated an Ed25519 checkpoint key pair in ${o.trustDir} (key id ${key.keyId}); keep signing-key.pem secret and pin public-key.pem for verify`,
        });
      }
      const { needsCheckpoint } = this.#recoverAndOpen();
      this.#syncWriteState();
      // A store that was closed cleanly ends with a checkpoint: nothing new to sign yet.
      this.#lastCheckpointSeq = needsCheckpoint ? 0 : this.#headSeq;
      this.#sinceCheckpoint = needsCheckpoint ? 1 : 0;
    } catch (error) {
      releaseLock(this.#fs, this.#lockPath);
      if (error instanceof StoreError) throw error;
      throw ioError(o.dir, 'opening the store', error);
    }
    this.#timer = setInterval(() => {
      if (this.#sinceCheckpoint > 0 && !this.#closed && !this.#failed) {
        this.#checkpointWanted = true;
        this.#schedule();
      }
    }, o.checkpointIntervalMs);
    this.#timer.unref();
  }

  /** The last durable record. */
  get head(): AppendResult {
    return { seq: this.#headSeq, hash: this.#headHash };
  }

  /** Current segment number. */
  get segment(): number {
    return this.#segment;
  }

  /**
   * Append one record; the promise resolves once an fdatasync that started after the record
   * was written has completed (durable against power loss). Until then a kill -9 of the
   * process cannot lose the record once it is written to the segment file (the page cache):
   *
   * - `span.start` (a pre-exec intent) and `event` records are written before this returns,
   *   so the intent is in the file before the tool it announces runs;
   * - `span.end` records are written at the end of the current microtask, together with the
   *   others appended in it: before any promise reaction queued after this call runs, i.e.
   *   before the caller's next `await` resumes. Spans ending in one turn share one write(2).
   *
   * `flushSync()` and `close()` write them too, so `exit` handlers lose nothing.
   */
  append(entry: AppendEntry): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      const refused = this.#refusal();
      if (refused) return reject(refused);
      let pending: Pending;
      try {
        pending = this.#prepare(entry, resolve, reject);
      } catch (error) {
        return reject(error);
      }
      if (pending.type !== 'span.end') {
        this.#write([pending]);
        return;
      }
      this.#turn.push(pending);
      if (!this.#turnQueued) {
        this.#turnQueued = true;
        queueMicrotask(this.#writeTurn);
      }
    });
  }

  /** `span.end` records appended in the current microtask, written together at its end. */
  #turn: Pending[] = [];
  #turnQueued = false;
  readonly #writeTurn = (): void => {
    this.#turnQueued = false;
    this.#write([]);
  };

  /** Append several records; they are written in order, in one write, before this returns. */
  appendBatch(entries: readonly AppendEntry[]): Promise<AppendResult[]> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    if (!Array.isArray(entries))
      return Promise.reject(configurationError('entries', 'an array', entries));
    const prepared: Array<{ p: Pending; done: Promise<AppendResult> }> = [];
    try {
      for (const entry of entries) {
        let p!: Pending;
        const done = new Promise<AppendResult>((resolve, reject) => {
          p = this.#prepare(entry, resolve, reject);
        });
        prepared.push({ p, done });
      }
    } catch (error) {
      return Promise.reject(error);
    }
    this.#write(prepared.map((x) => x.p));
    return Promise.all(prepared.map((x) => x.done));
  }

  /**
   * Remove whole sealed segments whose records all precede `before` (and are older than the
   * configured `retentionMs`), oldest first and contiguous. A signed prune record naming them,
   * the seq range and the hash the remaining chain starts from is made durable and checkpointed
   * before any file is deleted, so verify still passes and reports what was pruned.
   */
  async prune(options: PruneOptions): Promise<PruneResult> {
    const refused = this.#refusal();
    if (refused) throw refused;
    if (!options || !(options.before instanceof Date) || Number.isNaN(options.before.getTime())) {
      throw configurationError('before', 'a valid Date', options?.before);
    }
    const limit = Math.min(options.before.getTime(), this.#o.now().getTime() - this.#o.retentionMs);
    const chosen: Array<{
      segment: number;
      path: string;
      seal: { seq: number; hash: string; time: string };
      firstSeq: number;
    }> = [];
    for (const s of listSegments(this.dir)) {
      if (s.segment >= this.#segment) break;
      const ends = readFirstAndLast(s.path);
      if (ends?.last.type !== 'segment.seal' || Date.parse(ends.last.time) >= limit) break;
      chosen.push({ segment: s.segment, path: s.path, seal: ends.last, firstSeq: ends.first.seq });
    }
    const last = chosen[chosen.length - 1];
    if (!last) return { segments: [] };
    const body: PruneBody = {
      origin: this.origin,
      keyId: this.keyId,
      time: this.#o.now().toISOString(),
      before: new Date(limit).toISOString(),
      segments: chosen.map((c) => c.segment),
      firstSeq: chosen[0]!.firstSeq,
      lastSeq: last.seal.seq,
      lastHash: last.seal.hash,
      digests: chosen.map((c) => {
        const bytes = fs.readFileSync(c.path);
        return {
          segment: c.segment,
          sha256: oneShotHash('sha256', bytes, 'hex'),
          bytes: bytes.length,
        };
      }),
    };
    const signed = signPrune(body, this.#privateKey);
    const result = await new Promise<AppendResult>((resolve, reject) => {
      const payloadJson = canonicalJson(signed);
      this.#write([
        {
          type: 'prune',
          time: body.time,
          tagsJson: '{}',
          payloadJson,
          resolve,
          reject,
        },
      ]);
    });
    await this.checkpoint();
    for (const c of chosen) {
      try {
        this.#fs.unlinkSync(c.path);
      } catch (error) {
        throw ioError(this.dir, `removing pruned segment ${c.segment}`, error);
      }
    }
    fsyncDirSync(this.#fs, this.#segDir);
    return {
      segments: body.segments,
      seq: result.seq,
      firstSeq: body.firstSeq,
      lastSeq: body.lastSeq,
    };
  }

  /**
   * Called after every group commit with the new durable head (never a record that is only
   * written). Returns an unsubscribe function.
   */
  onAppend(listener: (head: AppendResult) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sign a checkpoint over everything appended so far; resolves once durable and anchored. */
  checkpoint(): Promise<void> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    return this.#requestCheckpoint();
  }

  #requestCheckpoint(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#checkpointWaiters.push({ resolve, reject });
      this.#checkpointWanted = true;
      this.#schedule();
    });
  }

  /**
   * Checkpoint and sync everything written (every append that returned), synchronously: for
   * `exit` handlers, where no further event-loop turn will happen. The store stays open.
   */
  flushSync(): void {
    if (this.#closed || this.#failed) return;
    this.#write([]);
    const wanted =
      this.#written.length > 0 || this.#sinceCheckpoint > 0 || this.#checkpointWaiters.length > 0;
    if (!wanted) return;
    try {
      // Everything appended is already in the file (write-through), including what an
      // in-flight asynchronous fdatasync covers: one checkpoint and one sync settle it all;
      // the commit loop then finds those records settled and does not apply them again.
      this.#writeCheckpoint();
      if (this.#failed) return;
      this.#fs.fdatasyncSync(this.#segmentFd);
      this.#applyThrough(this.#writeSeq, true);
    } catch (error) {
      this.#fail(ioError(this.dir, 'flushing synchronously', error));
    }
  }

  /** `flushSync()` then release the lock; the store is closed afterwards. */
  closeSync(): void {
    if (this.#closed) return;
    this.flushSync();
    this.#shutdown();
  }

  /** Drain the queue, sign a final checkpoint, release the lock. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = (async () => {
        if (this.#closed) return;
        this.#write([]);
        if (!this.#failed && (this.#sinceCheckpoint > 0 || this.#written.length > 0)) {
          try {
            await this.#requestCheckpoint();
          } catch {
            // The failure has already been reported to the appenders; still release the lock.
          }
        }
        while (this.#committing) await new Promise((r) => setImmediate(r));
        await this.#anchorQueue;
        this.#shutdown();
      })();
    }
    return this.#closing;
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const closedError = new StoreError('STORE_CLOSED', `audit store ${this.dir} is closed`, {
      dir: this.dir,
    });
    // Only reachable with records unsettled when a flush failed (they were rejected then).
    for (const w of this.#written.splice(0)) w.reject?.(closedError);
    for (const w of this.#checkpointWaiters.splice(0)) w.reject(closedError);
    try {
      this.#fs.closeSync(this.#segmentFd);
    } catch {
      // Closing is best effort; durability was settled by the last fdatasync.
    }
    releaseLock(this.#fs, this.#lockPath);
  }

  #refusal(): StoreError | undefined {
    if (this.#failed) return this.#failed;
    if (this.#closed || this.#closing) {
      return new StoreError('STORE_CLOSED', `audit store ${this.dir} is closed`, { dir: this.dir });
    }
    return undefined;
  }

  #prepare(entry: AppendEntry, resolve: Pending['resolve'], reject: Pending['reject']): Pending {
    if (entry === null || typeof entry !== 'object')
      throw configurationError('entry', 'an object', entry);
    if (!ENTRY_TYPES.has(entry.type)) {
      throw configurationError('entry.type', "'span.start', 'span.end' or 'event'", entry.type);
    }
    const tagsJson = tagsToJson(entry.tags, this.#tagPlan);
    let payloadJson: string;
    try {
      payloadJson = canonicalJson(entry.payload === undefined ? null : entry.payload);
    } catch (error) {
      throw new StoreError(
        'RECORD_INVALID',
        `payload has no canonical JSON form: ${(error as Error).message}`,
        {
          dir: this.dir,
        },
      );
    }
    return {
      type: entry.type,
      time: this.#recordTime(),
      tagsJson,
      payloadJson,
      resolve,
      reject,
    };
  }

  #lastTimeMs = Number.NaN;
  #lastTime = '';

  /** The record's time; the ISO string is formatted once per millisecond, not per record. */
  #recordTime(): string {
    const ms = this.#o.now === systemNow ? Date.now() : this.#o.now().getTime();
    if (ms !== this.#lastTimeMs) {
      this.#lastTimeMs = ms;
      this.#lastTime = new Date(ms).toISOString();
    }
    return this.#lastTime;
  }

  #schedule(): void {
    if (this.#scheduled || this.#committing || this.#closed) return;
    this.#scheduled = true;
    // setImmediate rather than a microtask: appenders whose previous record just became
    // durable get to queue their next one first, so one fdatasync covers all of them.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#commitLoop();
    });
  }

  #checkpointDue(extra: number): boolean {
    return (
      this.#checkpointWanted ||
      this.#checkpointWaiters.length > 0 ||
      this.#sinceCheckpoint + extra >= this.#o.checkpointEveryRecords
    );
  }

  /** Make the write position the durable one (after open, recovery, a new segment). */
  #syncWriteState(): void {
    this.#writeOffset = this.#segmentOffset;
    this.#writeSeq = this.#headSeq;
    this.#writeHash = this.#headHash;
  }

  /**
   * Write-through: assign seq/prev/hash and write the records to the segment file now (after
   * any `span.end` records still waiting for the end of the microtask), so a kill -9 from then
   * on cannot lose them (the page cache survives the process). Only the fdatasync is grouped,
   * by the commit loop.
   */
  #write(items: Pending[]): void {
    // Records waiting for the end of the microtask go first: the chain keeps append order.
    if (this.#turn.length > 0) {
      const turn = this.#turn;
      this.#turn = [];
      items = items.length === 0 ? turn : turn.concat(items);
    }
    if (items.length === 0) return;
    if (this.#failed) {
      for (const p of items) p.reject(this.#failed);
      return;
    }
    const encoded = encodeBatch(items, this.#writeHash, this.#writeSeq, this.#scratch);
    const failure = this.#writeOut(encoded.buf, encoded.records);
    if (failure) {
      for (const p of items) p.reject(failure);
      return;
    }
    const end = this.#writeOffset;
    encoded.records.forEach((r, i) => {
      const p = items[i]!;
      this.#written.push({ seq: r.seq, hash: r.hash, end, resolve: p.resolve, reject: p.reject });
    });
    this.#sinceCheckpoint += items.length;
    this.#schedule();
  }

  /**
   * Write `buf` (the lines of `records`) at the write position and advance the chain. A failed
   * write (ENOSPC, EROFS, EIO on write) is cut back to where it began, so no half record
   * remains and the chain state is as before it; earlier records stay for their fdatasync.
   * Returns the error to reject the records with; if even the cut fails, the store fails.
   */
  #writeOut(
    buf: Buffer,
    records: ReadonlyArray<{ seq: number; hash: string }>,
  ): StoreError | undefined {
    const at = this.#writeOffset;
    try {
      // A synchronous write only copies the records into the page cache (a few µs); a
      // thread-pool round trip costs more than that. Durability comes from the asynchronous
      // fdatasync of the commit loop.
      writeFullySync(this.#fs, this.#segmentFd, buf, at);
    } catch (error) {
      const failure = ioError(this.dir, 'writing a segment', error);
      try {
        this.#fs.ftruncateSync(this.#segmentFd, at);
        this.#fs.fdatasyncSync(this.#segmentFd);
      } catch (truncateError) {
        const fatal = ioError(
          this.dir,
          'removing a partly written record after a failed write',
          truncateError,
        );
        this.#fail(fatal);
        return fatal;
      }
      return failure;
    }
    const last = records[records.length - 1]!;
    this.#writeOffset = at + buf.length;
    this.#writeSeq = last.seq;
    this.#writeHash = last.hash;
    this.#segmentDigest.update(buf);
    this.#segmentRecords += records.length;
    return undefined;
  }

  /**
   * Write a checkpoint record over everything written so far; it is anchored and its waiters
   * answered once it is durable. With nothing new since the last checkpoint, the waiters
   * ride on that one (answered now if it is already durable).
   */
  #writeCheckpoint(): void {
    this.#write([]);
    const waiters = this.#checkpointWaiters.splice(0);
    this.#checkpointWanted = false;
    if (this.#writeSeq <= this.#lastCheckpointSeq) {
      // The last record written, if any is still unsettled, is that checkpoint.
      const last = this.#written[this.#written.length - 1];
      if (last) last.waiters = [...(last.waiters ?? []), ...waiters];
      else for (const w of waiters) w.resolve();
      return;
    }
    const checkpoint = signCheckpoint(
      {
        origin: this.origin,
        size: this.#writeSeq,
        head: this.#writeHash,
        time: this.#o.now().toISOString(),
        keyId: this.keyId,
      },
      this.#privateKey,
    );
    const record = encodeRecord(
      this.#writeHash,
      this.#writeSeq + 1,
      checkpoint.time,
      'checkpoint',
      '{}',
      canonicalJson(checkpoint),
    );
    const failure = this.#writeOut(Buffer.from(record.line), [record]);
    if (failure) {
      for (const w of waiters) w.reject(failure);
      return;
    }
    this.#written.push({
      seq: record.seq,
      hash: record.hash,
      end: this.#writeOffset,
      checkpoint,
      waiters,
    });
    this.#lastCheckpointSeq = record.seq;
    this.#sinceCheckpoint = 0;
  }

  /**
   * Records up to seq `through` are durable (an fdatasync that started after their write has
   * returned): advance the head, anchor their checkpoints, resolve their appenders, then tell
   * the listeners the new head once.
   */
  #applyThrough(through: number, sync: boolean): void {
    let n = 0;
    while (n < this.#written.length && this.#written[n]!.seq <= through) n++;
    if (n === 0) return;
    const done = this.#written.splice(0, n);
    const last = done[n - 1]!;
    this.#segmentOffset = last.end;
    this.#headSeq = last.seq;
    this.#headHash = last.hash;
    for (const w of done) {
      if (w.checkpoint) this.#anchorCheckpoint(w.checkpoint, w.waiters ?? [], sync);
      else w.resolve?.({ seq: w.seq, hash: w.hash });
    }
    const head = { seq: this.#headSeq, hash: this.#headHash };
    for (const listener of this.#listeners) {
      try {
        listener(head);
      } catch (error) {
        this.#notice('LISTENER_FAILED', `onAppend listener threw: ${(error as Error).message}`);
      }
    }
  }

  #anchorCheckpoint(
    checkpoint: SignedCheckpoint,
    waiters: CheckpointWaiter[],
    sync: boolean,
  ): void {
    const anchorFailed = (error: unknown) => {
      const failure = ioError(
        this.dir,
        `appending a checkpoint to the anchor ${this.anchorPath}`,
        error,
      );
      for (const w of waiters) w.reject(failure);
      this.#notice('ANCHOR_WRITE_FAILED', failure.message);
    };
    if (sync) {
      try {
        this.#anchorSync(checkpoint);
        for (const w of waiters) w.resolve();
      } catch (error) {
        anchorFailed(error);
      }
    } else {
      this.#queueAnchor(checkpoint, waiters, anchorFailed);
    }
  }

  async #commitLoop(): Promise<void> {
    if (this.#committing || this.#closed || this.#failed) return;
    this.#committing = true;
    try {
      while (!this.#closed && !this.#failed) {
        if (this.#checkpointDue(0)) this.#writeCheckpoint();
        if (this.#written.length === 0 || this.#failed) break;
        // One fdatasync covers everything written before it starts; records written while
        // it runs wait for the next one.
        const through = this.#writeSeq;
        try {
          await this.#fs.fdatasync(this.#segmentFd);
        } catch (error) {
          // flushSync may have settled these records meanwhile with its own fdatasync.
          const first = this.#written[0];
          if (!this.#closed && !this.#failed && first && first.seq <= through) {
            this.#fail(ioError(this.dir, 'syncing a segment (fdatasync)', error));
          }
          break;
        }
        if (this.#closed || this.#failed) break;
        this.#applyThrough(through, false);
        this.#maybeRotate();
        // Let appenders whose records just became durable write their next ones first, so
        // the next fdatasync covers all of them.
        if (this.#written.length > 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.#committing = false;
    }
    if (
      !this.#failed &&
      !this.#closed &&
      (this.#written.length > 0 || this.#checkpointWaiters.length > 0)
    )
      this.#schedule();
  }

  /**
   * fdatasync failed: the kernel may already have dropped the dirty pages, so a retry that
   * succeeds proves nothing. Mark the segment damaged from the last durable offset, reject
   * everything not yet acknowledged (every record written after that offset), and refuse
   * further appends; the next open moves the unconfirmed bytes aside and seals the segment
   * as damaged.
   */
  #fail(error: StoreError): void {
    this.#failed = error;
    const marker = path.join(this.#segDir, `${segmentFileName(this.#segment)}${DAMAGED_SUFFIX}`);
    try {
      const text = `${canonicalJson({ durableOffset: this.#segmentOffset, reason: error.message, time: new Date().toISOString() })}\n`;
      const fd = this.#fs.openSync(marker, 'w', 0o644);
      try {
        writeFullySync(this.#fs, fd, Buffer.from(text), 0);
        this.#fs.fsyncSync(fd);
      } finally {
        this.#fs.closeSync(fd);
      }
    } catch {
      // Best effort: the next open also distrusts the unacknowledged tail without the marker.
    }
    for (const w of this.#written.splice(0)) {
      w.reject?.(error);
      for (const waiter of w.waiters ?? []) waiter.reject(error);
    }
    for (const w of this.#checkpointWaiters.splice(0)) w.reject(error);
    this.#notice('STORE_FAILED', error.message);
  }

  #notice(code: string, message: string): void {
    try {
      this.#o.onNotice({ code, message });
    } catch {
      // A notice sink must not break the writer.
    }
  }

  #anchorSync(checkpoint: SignedCheckpoint): void {
    const line = Buffer.from(anchorLine(checkpoint, this.dir));
    for (const file of [path.join(this.dir, STORE_CHECKPOINTS_FILE), this.anchorPath]) {
      const open = openAndAppend(this.#fs, file, line);
      try {
        this.#fs.fdatasyncSync(open.fd);
      } finally {
        this.#fs.closeSync(open.fd);
      }
      if (open.created) fsyncDirSync(this.#fs, path.dirname(file));
    }
  }

  /**
   * Anchor appends run off the commit path: two more fdatasyncs per checkpoint on the event
   * loop measured ~13% of the writer's time. They are chained so anchor lines keep their
   * order, and a checkpoint() caller is answered only once its line is durable.
   */
  #queueAnchor(
    checkpoint: SignedCheckpoint,
    waiters: CheckpointWaiter[],
    failed: (error: unknown) => void,
  ): void {
    const line = Buffer.from(anchorLine(checkpoint, this.dir));
    this.#anchorQueue = this.#anchorQueue.then(async () => {
      try {
        for (const file of [path.join(this.dir, STORE_CHECKPOINTS_FILE), this.anchorPath]) {
          const open = openAndAppend(this.#fs, file, line);
          try {
            await this.#fs.fdatasync(open.fd);
          } finally {
            this.#fs.closeSync(open.fd);
          }
          if (open.created) fsyncDirSync(this.#fs, path.dirname(file));
        }
        for (const w of waiters) w.resolve();
      } catch (error) {
        failed(error);
      }
    });
  }

  #anchorQueue: Promise<void> = Promise.resolve();

  #maybeRotate(): void {
    const age = this.#o.now().getTime() - this.#segmentCreated;
    if (this.#writeOffset < this.#o.segmentMaxBytes && age < this.#o.segmentMaxAgeMs) return;
    try {
      this.#rotateSync(false, false);
    } catch (error) {
      this.#fail(ioError(this.dir, 'sealing a segment', error));
    }
  }

  /**
   * Seal the current segment (seal record, read-only) and open the next with a checkpoint.
   * Records written since the last fdatasync come before the seal and are made durable by
   * its fdatasync.
   */
  #rotateSync(damaged: boolean, anchorSync = true): void {
    this.#write([]);
    const seal = this.#sealRecord(damaged);
    writeFullySync(this.#fs, this.#segmentFd, Buffer.from(seal.line), this.#writeOffset);
    this.#fs.fdatasyncSync(this.#segmentFd);
    this.#applyThrough(this.#writeSeq, anchorSync);
    this.#fs.closeSync(this.#segmentFd);
    this.#headSeq = seal.seq;
    this.#headHash = seal.hash;
    this.#segmentOffset = this.#writeOffset + Buffer.byteLength(seal.line);
    this.#syncWriteState();
    const sealedPath = path.join(this.#segDir, segmentFileName(this.#segment));
    this.#fs.chmodSync(sealedPath, 0o444);
    this.#openNewSegmentSync(this.#segment + 1, this.origin, true, anchorSync);
  }

  #sealRecord(damaged: boolean): EncodedRecord {
    const payload = {
      segment: this.#segment,
      firstSeq: this.#segmentFirstSeq,
      lastSeq: this.#writeSeq,
      records: this.#segmentRecords,
      bytes: this.#writeOffset,
      sha256: this.#segmentDigest.copy().digest('hex'),
      damaged,
    };
    return encodeRecord(
      this.#writeHash,
      this.#writeSeq + 1,
      this.#o.now().toISOString(),
      'segment.seal',
      '{}',
      canonicalJson(payload),
    );
  }

  /** Create segment `n` with its header record and a checkpoint, all durable before return. */
  #openNewSegmentSync(n: number, origin: string, withCheckpoint: boolean, anchorSync = true): void {
    const file = path.join(this.#segDir, segmentFileName(n));
    const fd = this.#fs.openSync(file, 'wx', 0o644);
    const now = this.#o.now();
    const header = encodeRecord(
      this.#headHash,
      this.#headSeq + 1,
      now.toISOString(),
      'segment.open',
      '{}',
      canonicalJson({ format: FORMAT_VERSION, origin, segment: n, created: now.toISOString() }),
    );
    const lines = [header.line];
    let head = header;
    let checkpoint: SignedCheckpoint | undefined;
    if (withCheckpoint) {
      checkpoint = signCheckpoint(
        { origin, size: header.seq, head: header.hash, time: now.toISOString(), keyId: this.keyId },
        this.#privateKey,
      );
      head = encodeRecord(
        header.hash,
        header.seq + 1,
        now.toISOString(),
        'checkpoint',
        '{}',
        canonicalJson(checkpoint),
      );
      lines.push(head.line);
    }
    const buf = Buffer.from(lines.join(''));
    writeFullySync(this.#fs, fd, buf, 0);
    this.#fs.fdatasyncSync(fd);
    fsyncDirSync(this.#fs, this.#segDir);
    this.#segment = n;
    this.#segmentFd = fd;
    this.#segmentOffset = buf.length;
    this.#segmentFirstSeq = header.seq;
    this.#segmentRecords = lines.length;
    this.#segmentCreated = now.getTime();
    this.#segmentDigest = createHash('sha256').update(buf);
    this.#headSeq = head.seq;
    this.#headHash = head.hash;
    this.#syncWriteState();
    if (checkpoint) {
      this.#lastCheckpointSeq = head.seq;
      this.#sinceCheckpoint = 0;
      if (anchorSync) {
        this.#anchorSync(checkpoint);
      } else {
        this.#queueAnchor(checkpoint, [], (error) =>
          this.#notice(
            'ANCHOR_WRITE_FAILED',
            ioError(this.dir, `appending a checkpoint to the anchor ${this.anchorPath}`, error)
              .message,
          ),
        );
      }
    }
  }

  /**
   * Startup: find the head, set a torn tail aside with a chained recovery record, refuse to
   * open behind the anchor, and open (or create) the current segment. Sets `origin` and the
   * segment and head fields; returns whether the tail still needs a checkpoint.
   */
  #recoverAndOpen(): { needsCheckpoint: boolean } {
    const segments = listSegments(this.dir);
    const anchor = readAnchorFile(this.anchorPath);
    if (segments.length === 0) {
      const behind = anchor?.entries.find((e) => e.store === this.dir);
      if (behind) {
        throw new StoreError(
          'STORE_BEHIND_ANCHOR',
          `refusing to open audit store ${this.dir}: it has no segments, but the anchor ${this.anchorPath} holds a checkpoint of this directory at seq ${behind.size} (origin ${behind.origin}). The store was deleted or rolled back: restore it. To start a new store here on purpose, keep the old anchor as evidence and give the writer another anchor file (anchorPath / trust directory).`,
          { dir: this.dir },
        );
      }
      const origin = randomBytes(16).toString('hex');
      // Fields set before #openNewSegmentSync reads them.
      (this as { origin: string }).origin = origin;
      this.#headSeq = 0;
      this.#headHash = GENESIS_HASH;
      this.#segment = 0;
      this.#openNewSegmentSync(1, origin, false);
      return { needsCheckpoint: true };
    }

    const last = segments[segments.length - 1]!;
    // Scan the newest segment: head record, running digest, header (origin), torn tail.
    let header: { origin: string; created: number } | undefined;
    let lastRecord:
      | { seq: number; hash: string; type: string; segmentFirstSeq: number }
      | undefined;
    let firstSeq = 0;
    let records = 0;
    const digest = createHash('sha256');
    let damagedLine: { offset: number; reason: string; zeros: boolean } | undefined;
    /** Highest seq of the intact records before the first damaged line. */
    let intactSeq: number | undefined;
    const scan = scanLines(last.path, (buf, start, end, offset) => {
      digest.update(buf.subarray(start, end + 1));
      records += 1;
      const env = parseEnvelope(buf, start, end);
      // A page a power cut lost reads as zeros: the signature of an unsynced tail.
      const zeros = () => {
        const nul = buf.indexOf(0, start);
        return nul !== -1 && nul < end;
      };
      if (typeof env === 'string') {
        damagedLine ??= { offset, reason: env, zeros: zeros() };
        return;
      }
      if (computeLineHash(buf, start, end) !== env.hash)
        damagedLine ??= { offset, reason: 'hash mismatch', zeros: zeros() };
      else if (!damagedLine) intactSeq = env.seq;
      if (records === 1) {
        firstSeq = env.seq;
        if (env.type === 'segment.open') {
          const h = JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as {
            origin: string;
            created: string;
          };
          header = { origin: h.origin, created: Date.parse(h.created) };
        }
      }
      lastRecord = { seq: env.seq, hash: env.hash, type: env.type, segmentFirstSeq: firstSeq };
    });
    const origin = header?.origin ?? this.#originFromEarlierSegments(segments);
    (this as { origin: string }).origin = origin;
    if (damagedLine && !this.#isUnsyncedTail(damagedLine, intactSeq, anchor, origin, segments)) {
      throw new StoreError(
        'STORE_DAMAGED',
        `refusing to open audit store ${this.dir}: segment ${last.segment} has a damaged record at byte ${damagedLine.offset} (${damagedLine.reason}); run agent-audit verify`,
        { dir: this.dir },
      );
    }

    const damagedMarker = `${last.path}${DAMAGED_SUFFIX}`;
    let marker: { durableOffset: number; reason: string } | undefined;
    if (fs.existsSync(damagedMarker)) {
      marker = JSON.parse(fs.readFileSync(damagedMarker, 'utf8')) as {
        durableOffset: number;
        reason: string;
      };
    }

    // Where the trusted bytes end: after the last newline, or the durable offset of a
    // segment whose fdatasync failed (later bytes were never acknowledged).
    let keepBytes = scan.completeBytes;
    let reason = 'torn-tail';
    if (damagedLine) {
      // Lines a power cut left with holes, and everything after them, were never
      // acknowledged: an fdatasync that had completed would have covered the holes too.
      keepBytes = damagedLine.offset;
      reason = 'unsynced-tail';
    }
    if (marker && marker.durableOffset < keepBytes) {
      keepBytes = marker.durableOffset;
      reason = 'fsync-failed';
    }
    let recovery: { offset: number; length: number; sha256: string; file: string } | undefined;
    if (last.size > keepBytes) {
      recovery = this.#setAside(last.path, last.segment, keepBytes, last.size);
    }

    let headSeq: number;
    let headHash: string;
    let lastType: string | undefined;
    let segRecords = records;
    let segDigest = digest;
    if (keepBytes < scan.completeBytes) {
      // Rescan the kept prefix (only after an fsync failure) for the head and digest.
      segDigest = createHash('sha256');
      segRecords = 0;
      let lr: { seq: number; hash: string; type: string } | undefined;
      scanLines(
        last.path,
        (buf, start, end) => {
          segDigest.update(buf.subarray(start, end + 1));
          segRecords += 1;
          const env = parseEnvelope(buf, start, end);
          if (typeof env !== 'string') lr = { seq: env.seq, hash: env.hash, type: env.type };
        },
        { to: keepBytes },
      );
      lastRecord = lr ? { ...lr, segmentFirstSeq: firstSeq } : undefined;
    }
    if (lastRecord) {
      headSeq = lastRecord.seq;
      headHash = lastRecord.hash;
      lastType = lastRecord.type;
    } else {
      const previous = this.#headOfSegmentBefore(segments, last.segment);
      headSeq = previous.seq;
      headHash = previous.hash;
    }

    this.#checkAnchor(anchor, origin, headSeq, headHash, segments);

    this.#segment = last.segment;
    this.#headSeq = headSeq;
    this.#headHash = headHash;
    this.#segmentOffset = keepBytes;
    this.#segmentFirstSeq = firstSeq;
    this.#segmentRecords = segRecords;
    this.#segmentCreated = header?.created ?? this.#o.now().getTime();
    this.#segmentDigest = segDigest;

    if (lastType === 'segment.seal') {
      // Crashed between sealing and creating the next segment.
      this.#openNewSegmentSync(last.segment + 1, origin, false);
    } else if (keepBytes === 0) {
      // Even the header was torn: rewrite the segment from scratch (the torn bytes are kept).
      this.#fs.unlinkSync(last.path);
      fsyncDirSync(this.#fs, this.#segDir);
      this.#openNewSegmentSync(last.segment, origin, false);
    } else {
      this.#segmentFd = this.#fs.openSync(last.path, 'r+');
    }

    if (recovery) {
      const rec = encodeRecord(
        this.#headHash,
        this.#headSeq + 1,
        this.#o.now().toISOString(),
        'recovery',
        '{}',
        canonicalJson({ segment: last.segment, ...recovery, reason }),
      );
      const buf = Buffer.from(rec.line);
      writeFullySync(this.#fs, this.#segmentFd, buf, this.#segmentOffset);
      this.#fs.fdatasyncSync(this.#segmentFd);
      this.#segmentOffset += buf.length;
      this.#segmentDigest.update(buf);
      this.#segmentRecords += 1;
      this.#headSeq = rec.seq;
      this.#headHash = rec.hash;
      this.#notice(
        'RECOVERED_TAIL',
        `audit store ${this.dir}: ${recovery.length} unconfirmed bytes at the end of segment ${last.segment} (${reason}) were moved to ${recovery.file} and a recovery record was written at seq ${rec.seq}`,
      );
    }
    this.#syncWriteState();
    if (marker) {
      this.#rotateSync(true);
      this.#fs.unlinkSync(damagedMarker);
    }
    const endsSigned =
      lastType === 'checkpoint' && !recovery && !marker && this.#headSeq === headSeq;
    return { needsCheckpoint: !endsSigned };
  }

  /** Copy `[from, to)` of a segment into `recovered/`, durably, then cut the segment back. */
  #setAside(
    file: string,
    segment: number,
    from: number,
    to: number,
  ): { offset: number; length: number; sha256: string; file: string } {
    const bytes = Buffer.alloc(to - from);
    const rfd = fs.openSync(file, 'r');
    try {
      fs.readSync(rfd, bytes, 0, bytes.length, from);
    } finally {
      fs.closeSync(rfd);
    }
    const recoveredDir = path.join(this.dir, RECOVERED_DIR);
    this.#fs.mkdirSync(recoveredDir, { recursive: true });
    const name = `${segmentFileName(segment).replace('.jsonl', '')}-${from}-${Date.now()}.torn`;
    const target = path.join(recoveredDir, name);
    const wfd = this.#fs.openSync(target, 'wx', 0o444);
    try {
      writeFullySync(this.#fs, wfd, bytes, 0);
      this.#fs.fsyncSync(wfd);
    } finally {
      this.#fs.closeSync(wfd);
    }
    fsyncDirSync(this.#fs, recoveredDir);
    fsyncDirSync(this.#fs, this.dir);
    // Only now that the copy is durable is the segment cut back.
    const sfd = this.#fs.openSync(file, 'r+');
    try {
      this.#fs.ftruncateSync(sfd, from);
      this.#fs.fsyncSync(sfd);
    } finally {
      this.#fs.closeSync(sfd);
    }
    return {
      offset: from,
      length: bytes.length,
      sha256: oneShotHash('sha256', bytes, 'hex'),
      file: path.posix.join(RECOVERED_DIR, name),
    };
  }

  #originFromEarlierSegments(segments: { segment: number; path: string }[]): string {
    for (const s of segments) {
      let origin: string | undefined;
      scanLines(
        s.path,
        (buf, start, end) => {
          if (origin !== undefined) return;
          const env = parseEnvelope(buf, start, end);
          if (typeof env !== 'string' && env.type === 'segment.open') {
            origin = (
              JSON.parse(buf.toString('utf8', env.payloadStart, env.payloadEnd)) as {
                origin: string;
              }
            ).origin;
          }
        },
        { to: Math.min(fs.statSync(s.path).size, 64 * 1024) },
      );
      if (origin) return origin;
    }
    throw new StoreError(
      'STORE_DAMAGED',
      `audit store ${this.dir}: no segment header found; run agent-audit verify`,
      {
        dir: this.dir,
      },
    );
  }

  #headOfSegmentBefore(
    segments: { segment: number; path: string }[],
    segment: number,
  ): { seq: number; hash: string } {
    const before = segments.filter((s) => s.segment < segment);
    const prevSeg = before[before.length - 1];
    if (!prevSeg) return { seq: 0, hash: GENESIS_HASH };
    let head = { seq: 0, hash: GENESIS_HASH };
    scanLines(prevSeg.path, (buf, start, end) => {
      const env = parseEnvelope(buf, start, end);
      if (typeof env !== 'string') head = { seq: env.seq, hash: env.hash };
    });
    return head;
  }

  /**
   * Whether damage in the newest segment is what a power cut leaves, which recovery may cut
   * off: the damaged line holds zeros (a lost page) and lies after every record the anchor
   * (or the store's checkpoint log) confirms. An anchored checkpoint was durable before it was anchored, so damage at or
   * before it, or damage without zeros, is tampering and the store stays closed.
   */
  #isUnsyncedTail(
    damage: { zeros: boolean },
    intactSeq: number | undefined,
    anchor: ReturnType<typeof readAnchorFile>,
    origin: string,
    segments: { segment: number; path: string }[],
  ): boolean {
    if (!damage.zeros) return false;
    // The store's own checkpoint log is appended at the same moment as the anchor: it still
    // bounds the durable range when the anchor's volume is missing.
    const storeLog = readAnchorFile(path.join(this.dir, STORE_CHECKPOINTS_FILE));
    let anchored = 0;
    for (const e of [...(anchor?.entries ?? []), ...(storeLog?.entries ?? [])]) {
      if (e.origin === origin) anchored = Math.max(anchored, e.size);
    }
    if (anchored === 0) return true;
    const last = segments[segments.length - 1]!;
    const before = intactSeq ?? this.#headOfSegmentBefore(segments, last.segment).seq;
    // The anchored checkpoint record itself is seq `anchored + 1`.
    return before >= anchored + 1;
  }

  /** Refuse to write behind the anchor: that would bury a truncation or rollback. */
  #checkAnchor(
    anchor: ReturnType<typeof readAnchorFile>,
    origin: string,
    headSeq: number,
    headHash: string,
    segments: { segment: number; path: string }[],
  ): void {
    let newest: AnchorEntry | undefined;
    for (const e of anchor?.entries ?? []) {
      if (e.origin === origin && (!newest || e.size > newest.size)) newest = e;
    }
    if (!newest) {
      // Not fatal (a new anchor location, an upgrade), but the rollback check it provides
      // starts over from here: say so, since an unmounted anchor volume looks the same.
      this.#notice(
        'ANCHOR_MISSING',
        `audit store ${this.dir} already has records but its anchor ${this.anchorPath} holds no checkpoint of it; truncation or rollback before now cannot be detected through this anchor`,
      );
      return;
    }
    if (newest.size > headSeq) {
      throw new StoreError(
        'STORE_BEHIND_ANCHOR',
        `refusing to open audit store ${this.dir}: its anchor ${this.anchorPath} holds a checkpoint at seq ${newest.size}, but the store ends at seq ${headSeq}. Records were truncated or the store was rolled back; restore the missing segments, then run agent-audit verify.`,
        { dir: this.dir },
      );
    }
    const at = newest.size === headSeq ? headHash : findRecordHash(segments, newest.size);
    if (at !== undefined && at !== newest.head) {
      throw new StoreError(
        'STORE_ANCHOR_MISMATCH',
        `refusing to open audit store ${this.dir}: the record at seq ${newest.size} does not match the checkpoint in the anchor ${this.anchorPath}; the store was rewritten. Run agent-audit verify.`,
        { dir: this.dir },
      );
    }
  }
}

function findRecordHash(
  segments: { segment: number; path: string }[],
  seq: number,
): string | undefined {
  for (let i = segments.length - 1; i >= 0; i--) {
    let found: string | undefined;
    let first: number | undefined;
    scanLines(segments[i]!.path, (buf, start, end) => {
      const env = parseEnvelope(buf, start, end);
      if (typeof env === 'string') return;
      first ??= env.seq;
      if (env.seq === seq) found = env.hash;
    });
    if (found !== undefined) return found;
    if (first !== undefined && first <= seq) return undefined;
  }
  return undefined;
}

/**
 * Canonical JSON of a flat string map, validated. Tags are on every record, so this skips the
 * general canonicaliser: sort the keys, JSON-encode keys and values.
 */
function tagsToJson(tags: AppendEntry['tags'], memo: TagPlanMemo): string {
  if (tags === undefined || tags === null) return '{}';
  if (typeof tags !== 'object' || Array.isArray(tags)) {
    throw configurationError('entry.tags', 'an object of strings', tags);
  }
  const keys = Object.keys(tags);
  const plan = tagPlan(keys, memo);
  let out = '';
  for (let i = 0; i < plan.order.length; i++) {
    const k = keys[plan.order[i]!]!;
    const v = tags[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw configurationError(`entry.tags.${k}`, 'a string', v);
    out += `${out === '' ? '{' : ','}${plan.prefixes[i]}${isPlainString(v) ? `"${v}"` : JSON.stringify(v)}`;
  }
  return out === '' ? '{}' : `${out}}`;
}

/**
 * Whether JSON.stringify leaves the string as it is between quotes: no quote, backslash,
 * control character or surrogate (a lone surrogate is escaped; pairs are rare in tags and take
 * the JSON.stringify path). Tag values (run ids, agent ids, tool names) nearly always are.
 */
function isPlainString(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

interface TagPlan {
  keys: string[];
  /** Indexes into `keys` in canonical (UTF-16) order. */
  order: number[];
  /** `"key":` for each position of `order`. */
  prefixes: string[];
}

/**
 * Callers tag every record with the same keys in the same order, so the sorted order and the
 * encoded key prefixes are worked out once and reused while the key list stays the same
 * (measured: tags were ~20% of the append path's fixed cost).
 */
interface TagPlanMemo {
  plan?: TagPlan;
}

function tagPlan(keys: string[], memo: TagPlanMemo): TagPlan {
  const cached = memo.plan;
  if (cached && cached.keys.length === keys.length) {
    let same = true;
    for (let i = 0; i < keys.length; i++) {
      if (cached.keys[i] !== keys[i]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
  const plan = {
    keys: [...keys],
    order,
    prefixes: order.map((i) => `${JSON.stringify(keys[i])}:`),
  };
  memo.plan = plan;
  return plan;
}

/** First and last record envelope of a segment file (sealed segments are small to scan). */
function readFirstAndLast(
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

/** Open an anchor-format file for appending (creating it) and write `line` at its end. */
function openAndAppend(
  layer: FsLayer,
  file: string,
  line: Buffer,
): { fd: number; created: boolean } {
  let created = false;
  let fd: number;
  try {
    fd = layer.openSync(file, 'ax', 0o644);
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      layer.mkdirSync(path.dirname(file), { recursive: true });
      fd = layer.openSync(file, 'ax', 0o644);
      created = true;
    } else if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      fd = layer.openSync(file, 'a+');
    } else {
      throw error;
    }
  }
  try {
    let size = fs.fstatSync(fd).size;
    if (size > 0) {
      // A crash mid-append can leave a line without its newline: start on a fresh line.
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        writeFullySync(layer, fd, Buffer.from('\n'), size);
        size += 1;
      }
    }
    writeFullySync(layer, fd, line, size);
  } catch (error) {
    layer.closeSync(fd);
    throw error;
  }
  return { fd, created };
}
