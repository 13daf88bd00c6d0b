// Over ~600 lines on purpose: what remains is the writer's one state machine (write-through,
// group commit, checkpoint, rotation, close) over one set of fields whose invariants span all
// of it (the write position runs ahead of the durable head by exactly the unsettled records).
// Recovery, anchoring, the witness, losses, custody, segment files, entry encoding and the
// retention policy's records (retention-writer.ts) live in their own modules.
import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { AnchorWriter, type CheckpointWaiter } from './anchor-writer.js';
import { canonicalJson } from './canonical-json.js';
import { checkStoreTree, checkTrustLocation, makePrivateDir, secureTrustDir } from './custody.js';
import { EntryEncoder, type PendingEntry, writerEntry } from './entry-encoder.js';
import { configurationError, StoreError } from './errors.js';
import { type FsLayer, fsyncDirSync, writeFullySync } from './fs-layer.js';
import { ioError } from './io-error.js';
import { acquireLock, LOCK_FILE, releaseLock } from './lock-file.js';
import { LossTracker } from './loss-tracker.js';
import { applyOpenPlan, openNotices } from './open-records.js';
import { planPrune, signPrune } from './prune-record.js';
import { PruneSchedule } from './prune-schedule.js';
import { EncodeScratch, encodeBatch, GENESIS_HASH } from './record-format.js';
import type { RetentionPolicy } from './retention-policy.js';
import { type PolicyRecordReason, RetentionWriter } from './retention-writer.js';
import { SegmentAppender } from './segment-appender.js';
import { listSegments, SEGMENTS_DIR } from './segment-files.js';
import { createSegment, encodeCheckpoint, writeDamagedMarker } from './segment-writer.js';
import { buildStoreClose } from './session-records.js';
import { loadOrCreateSigningKey } from './signing-keys.js';
import { type Resolved, resolveOptions } from './store-options.js';
import { planRecovery } from './store-recovery.js';
import type {
  AppendEntry,
  AppendResult,
  AuditStoreOptions,
  PruneOptions,
  PruneResult,
  SignedCheckpoint,
} from './types.js';
import { WriterWitness } from './writer-witness.js';

type Pending = PendingEntry;

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
  /**
   * The retention policy in force and its records; set after recovery (a rotation during
   * recovery, before the recorded policy is read, writes no policy record).
   */
  #retention: RetentionWriter | undefined;
  #pruneSchedule: PruneSchedule | undefined;
  readonly #segDir: string;
  readonly #lockPath: string;
  readonly #anchors: AnchorWriter;
  readonly #loss: LossTracker;
  /** Set once the origin is known (after recovery). */
  #witness: WriterWitness | undefined;
  /** The segment appended to and the write-through position (ahead of the durable head). */
  readonly #out: SegmentAppender;
  /** Written, not yet durable, in seq order. */
  #written: Written[] = [];
  /** Output memory reused by every append's encode (written synchronously, never kept). */
  readonly #scratch = new EncodeScratch();
  #headSeq!: number;
  #headHash!: string;
  #sinceCheckpoint = 0;
  #lastCheckpointSeq = 0;
  #checkpointWaiters: CheckpointWaiter[] = [];
  #checkpointWanted = false;
  #committing = false;
  /** The fd an asynchronous fdatasync is running on, and segment fds closed once it returns. */
  #syncingFd: number | undefined;
  #retiredFds: number[] = [];
  #scheduled = false;
  #failed: StoreError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #timer: NodeJS.Timeout;
  #listeners = new Set<(head: AppendResult) => void>();
  readonly #entries: EntryEncoder;

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
    const notice = (code: string, message: string) => this.#notice(code, message);
    this.#anchors = new AnchorWriter(this.#fs, o.dir, o.anchorPath, notice);
    this.#loss = new LossTracker(o.dir, notice);
    this.#out = new SegmentAppender(this.#fs, o.dir);
    this.#entries = new EntryEncoder(o.dir, o.now);
    checkTrustLocation(o.dir, { trustDir: o.trustDir, anchorPath: o.anchorPath });
    try {
      makePrivateDir(this.#fs, o.dir);
      checkStoreTree(o.dir);
      makePrivateDir(this.#fs, this.#segDir);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw ioError(o.dir, 'creating the store directory', error);
    }
    try {
      acquireLock(this.#fs, this.#lockPath, o.dir);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw ioError(o.dir, 'taking the writer lock', error);
    }
    try {
      secureTrustDir(o.trustDir, notice);
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
      this.#out.rewind({ seq: this.#headSeq, hash: this.#headHash });
      const retention = new RetentionWriter(o.dir, this.origin, this.keyId, this.#privateKey);
      this.#retention = retention;
      const policyRecord = retention.open(listSegments(this.dir), o.retention);
      if (policyRecord) this.#writePolicy(policyRecord);
      const policyWritten = policyRecord !== undefined;
      // A store that was closed cleanly ends with a checkpoint: nothing new to sign yet.
      this.#lastCheckpointSeq = needsCheckpoint || policyWritten ? 0 : this.#headSeq;
      this.#sinceCheckpoint = needsCheckpoint || policyWritten ? 1 : 0;
      this.#witness = new WriterWitness(this.#fs, o.anchorPath, this.origin, notice);
      this.#witness.write(this.#headSeq, this.#headHash, this.#entries.time());
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
    if (o.pruneEveryMs > 0) {
      // A tick while closing does nothing; one after a failure reports the store's refusal.
      this.#pruneSchedule = new PruneSchedule(
        o.pruneEveryMs,
        o.dir,
        () => (this.#closing || this.#closed ? Promise.resolve({ segments: [] }) : this.prune()),
        notice,
      );
    }
  }

  /** The retention policy in force (configured, else recorded in the store); undefined: none. */
  get retentionPolicy(): RetentionPolicy | undefined {
    return this.#retention?.policy;
  }

  /** The last durable record. */
  get head(): AppendResult {
    return { seq: this.#headSeq, hash: this.#headHash };
  }

  /** Current segment number. */
  get segment(): number {
    return this.#out.seg.segment;
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
        this.#rotateIfFull();
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
    this.#rotateIfFull();
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
    this.#rotateIfFull();
    this.#write(prepared.map((x) => x.p));
    return Promise.all(prepared.map((x) => x.done));
  }

  /**
   * Remove whole sealed segments, oldest first and contiguous: those whose records all precede
   * `before` (and the configured `retentionMs`), or without `before` those past the retention
   * policy's maximum age. Never a segment holding a record younger than the policy's minimum
   * (`RETENTION_MIN_AGE`, nothing removed). A signed prune record naming them, the seq range and
   * the hash the remaining chain starts from is made durable and checkpointed before any file
   * is deleted, so verify still passes and reports what was pruned.
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const refused = this.#refusal();
    if (refused) throw refused;
    if (
      options === null ||
      typeof options !== 'object' ||
      (options.before !== undefined &&
        (!(options.before instanceof Date) || Number.isNaN(options.before.getTime())))
    ) {
      throw configurationError('before', 'a valid Date', options?.before);
    }
    const now = this.#o.now().getTime();
    const retention = this.#retention!; // set by the constructor before any prune
    if (options.before === undefined) retention.checkPruneWithoutBefore();
    const limit =
      options.before === undefined
        ? undefined
        : Math.min(options.before.getTime(), now - this.#o.retentionMs);
    const plan = planPrune(
      this.dir,
      this.#out.seg.segment,
      limit,
      { origin: this.origin, keyId: this.keyId, time: this.#o.now().toISOString() },
      retention.pruneRetention(now, this.#o.retentionMs),
    );
    if (!plan) return { segments: [] };
    const { body } = plan;
    const result = await new Promise<AppendResult>((resolve, reject) => {
      const payloadJson = canonicalJson(signPrune(body, this.#privateKey));
      this.#write([
        {
          type: 'prune',
          time: body.time,
          tagsJson: '{}',
          payloadJson,
          run: undefined,
          resolve,
          reject,
        },
      ]);
    });
    await this.checkpoint();
    for (const c of plan.files) {
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
      this.#fs.fdatasyncSync(this.#out.seg.fd);
      this.#applyThrough(this.#out.seq, true);
    } catch (error) {
      this.#fail(ioError(this.dir, 'flushing synchronously', error));
    }
  }

  /** `flushSync()` then release the lock; the store is closed afterwards. */
  closeSync(): void {
    if (this.#closed) return;
    if (!this.#failed && !this.#closing) this.#writeClose();
    this.flushSync();
    this.#shutdown();
  }

  /** Drain the queue, sign a final checkpoint, release the lock. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = (async () => {
        if (this.#closed) return;
        this.#write([]);
        if (!this.#failed) this.#writeClose();
        if (!this.#failed && (this.#sinceCheckpoint > 0 || this.#written.length > 0)) {
          try {
            await this.#requestCheckpoint();
          } catch {
            // The failure has already been reported to the appenders; still release the lock.
          }
        }
        while (this.#committing) await new Promise((r) => setImmediate(r));
        await this.#anchors.drained();
        this.#shutdown();
      })();
    }
    return this.#closing;
  }

  /**
   * A clean close is attested: the signed `store.close` record, then at once the checkpoint
   * over it. A record found after them at the next open was not written by this writer.
   */
  #writeClose(): void {
    // Whatever waits for the end of the microtask, and a pending loss record, come first:
    // store.close names the record right before it.
    this.#write([]);
    if (this.#loss.pending) this.#write([this.#lossEntry()]);
    if (this.#failed || this.#loss.pending) return;
    const time = this.#entries.time();
    const body = buildStoreClose(
      {
        origin: this.origin,
        keyId: this.keyId,
        time,
        lastSeq: this.#out.seq,
        lastHash: this.#out.hash,
      },
      this.#privateKey,
    );
    this.#write([writerEntry('store.close', time, canonicalJson(body))]);
    this.#writeCheckpoint();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#pruneSchedule?.stop();
    const closedError = new StoreError('STORE_CLOSED', `audit store ${this.dir} is closed`, {
      dir: this.dir,
    });
    // Only reachable with records unsettled when a flush failed (they were rejected then).
    for (const w of this.#written.splice(0)) w.reject?.(closedError);
    for (const w of this.#checkpointWaiters.splice(0)) w.reject(closedError);
    try {
      this.#fs.closeSync(this.#out.seg.fd);
    } catch {
      // Closing is best effort; durability was settled by the last fdatasync.
    }
    this.#closeRetiredFds();
    this.#witness?.close();
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
    return this.#entries.encode(entry, resolve, reject);
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
    // After failed appends, the signed loss record goes first, before the record that now
    // succeeds.
    if (this.#loss.pending && items[0]!.type !== 'loss') items = [this.#lossEntry(), ...items];
    const withLoss = items[0]!.type === 'loss';
    const encoded = encodeBatch(items, this.#out.hash, this.#out.seq, this.#scratch);
    const failure = this.#writeOut(encoded.buf, encoded.records);
    if (failure) {
      if (!this.#failed) this.#loss.rejected(withLoss ? items.slice(1) : items, failure);
      for (const p of items) p.reject(failure);
      return;
    }
    if (withLoss) this.#loss.written(encoded.records[0]!.seq);
    const end = this.#out.offset;
    encoded.records.forEach((r, i) => {
      const p = items[i]!;
      this.#written.push({ seq: r.seq, hash: r.hash, end, resolve: p.resolve, reject: p.reject });
    });
    this.#sinceCheckpoint += items.length;
    this.#schedule();
  }

  #lossEntry(): Pending {
    const time = this.#entries.time();
    return writerEntry(
      'loss',
      time,
      this.#loss.payload(this.origin, this.keyId, time, this.#privateKey),
    );
  }

  /** Write through the appender; a failed cut-back fails the store. */
  #writeOut(
    buf: Buffer,
    records: ReadonlyArray<{ seq: number; hash: string }>,
  ): StoreError | undefined {
    const failure = this.#out.write(buf, records);
    if (failure?.fatal) this.#fail(failure.error);
    return failure?.error;
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
    if (this.#out.seq <= this.#lastCheckpointSeq) {
      // The last record written, if any is still unsettled, is that checkpoint.
      const last = this.#written[this.#written.length - 1];
      if (last) last.waiters = [...(last.waiters ?? []), ...waiters];
      else for (const w of waiters) w.resolve();
      return;
    }
    const { record, checkpoint } = encodeCheckpoint(
      { seq: this.#out.seq, hash: this.#out.hash },
      this.origin,
      this.#o.now().toISOString(),
      this.keyId,
      this.#privateKey,
    );
    const failure = this.#writeOut(Buffer.from(record.line), [record]);
    if (failure) {
      for (const w of waiters) w.reject(failure);
      return;
    }
    this.#written.push({
      seq: record.seq,
      hash: record.hash,
      end: this.#out.offset,
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
    this.#out.seg.offset = last.end;
    this.#headSeq = last.seq;
    this.#headHash = last.hash;
    // Before any appender hears of it: an acknowledged record is always under the witness.
    this.#witness?.write(last.seq, last.hash, this.#entries.lastTime);
    for (const w of done) {
      if (w.checkpoint) this.#anchors.anchor(w.checkpoint, w.waiters ?? [], sync);
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

  async #commitLoop(): Promise<void> {
    if (this.#committing || this.#closed || this.#failed) return;
    this.#committing = true;
    try {
      while (!this.#closed && !this.#failed) {
        if (this.#checkpointDue(0)) this.#writeCheckpoint();
        if (this.#written.length === 0 || this.#failed) break;
        // One fdatasync covers everything written before it starts; records written while
        // it runs wait for the next one.
        const through = this.#out.seq;
        const fd = this.#out.seg.fd;
        this.#syncingFd = fd;
        try {
          const synced = this.#fs.fdatasync(fd);
          // While the thread pool syncs, bring the seal's running digest up to date here,
          // instead of on every appender's path (see SegmentAppender).
          this.#out.digestNow();
          await synced;
        } catch (error) {
          // flushSync may have settled these records meanwhile with its own fdatasync.
          const first = this.#written[0];
          if (!this.#closed && !this.#failed && first && first.seq <= through) {
            this.#fail(ioError(this.dir, 'syncing a segment (fdatasync)', error));
          }
          break;
        } finally {
          this.#syncingFd = undefined;
          this.#closeRetiredFds();
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
    writeDamagedMarker(this.#fs, this.#segDir, this.#out.seg, error.message);
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

  #maybeRotate(): void {
    // Nothing follows a clean close's store.close and checkpoint, not even a seal.
    if (this.#closing) return;
    const age = this.#o.now().getTime() - this.#out.seg.created;
    if (this.#out.offset < this.#o.segmentMaxBytes && age < this.#o.segmentMaxAgeMs) return;
    try {
      this.#rotateSync(false, false);
    } catch (error) {
      this.#fail(ioError(this.dir, 'sealing a segment', error));
    }
  }

  /**
   * Before an append's write: a segment at its size limit is sealed first (row 47). Checking
   * only after each fdatasync let everything written while a slow one ran, or appended without
   * an event-loop turn, pile into one segment without bound.
   */
  #rotateIfFull(): void {
    if (this.#failed || this.#out.offset < this.#o.segmentMaxBytes) return;
    this.#maybeRotate();
  }

  /** Segment fds sealed while an asynchronous fdatasync ran on them, closed once it returned. */
  #closeRetiredFds(): void {
    for (const fd of this.#retiredFds.splice(0)) {
      try {
        this.#fs.closeSync(fd);
      } catch {
        // Closing is best effort; the seal's fdatasync made the segment durable.
      }
    }
  }

  /**
   * Seal the current segment (seal record, read-only) and open the next with a checkpoint.
   * Records written since the last fdatasync come before the seal and are made durable by
   * its fdatasync.
   */
  #rotateSync(damaged: boolean, anchorSync = true): void {
    this.#write([]);
    const seal = this.#out.sealRecord(damaged, this.#o.now().toISOString());
    writeFullySync(this.#fs, this.#out.seg.fd, Buffer.from(seal.line), this.#out.offset);
    this.#fs.fdatasyncSync(this.#out.seg.fd);
    this.#applyThrough(this.#out.seq, anchorSync);
    // Read-only through the descriptor the writer opened (O_NOFOLLOW): a link planted at the
    // segment's path since then is never followed to change another file's mode.
    this.#fs.fchmodSync(this.#out.seg.fd, 0o400);
    // An fdatasync still running on this fd must not find it closed (or reused by another file).
    if (this.#syncingFd === this.#out.seg.fd) this.#retiredFds.push(this.#out.seg.fd);
    else this.#fs.closeSync(this.#out.seg.fd);
    this.#headSeq = seal.seq;
    this.#headHash = seal.hash;
    this.#out.seg.offset = this.#out.offset + Buffer.byteLength(seal.line);
    this.#out.rewind({ seq: this.#headSeq, hash: this.#headHash });
    this.#openNewSegmentSync(this.#out.seg.segment + 1, this.origin, true, anchorSync);
    this.#witness?.write(this.#headSeq, this.#headHash, this.#entries.time());
    // Every segment holds the policy in force, so it survives pruning and is found cheaply.
    this.#writePolicy('carried');
  }

  /** Create segment `n` with its header record and a checkpoint, all durable before return. */
  #openNewSegmentSync(n: number, origin: string, withCheckpoint: boolean, anchorSync = true): void {
    const { state, head, checkpoint } = createSegment(
      this.#fs,
      this.#segDir,
      n,
      { seq: this.#headSeq, hash: this.#headHash },
      origin,
      this.#o.now(),
      withCheckpoint ? { keyId: this.keyId, privateKey: this.#privateKey } : undefined,
    );
    this.#out.seg = state;
    this.#headSeq = head.seq;
    this.#headHash = head.hash;
    this.#out.rewind({ seq: this.#headSeq, hash: this.#headHash });
    if (checkpoint) {
      this.#lastCheckpointSeq = head.seq;
      this.#sinceCheckpoint = 0;
      if (anchorSync) this.#anchors.writeSync(checkpoint);
      else this.#anchors.anchor(checkpoint, [], false);
    }
  }

  /** Append the signed `retention.policy` record of the policy in force (if any). */
  #writePolicy(reason: PolicyRecordReason): void {
    const retention = this.#retention;
    if (!retention?.policy) return;
    // Whatever waits for the end of the microtask, and a pending loss record, come first:
    // `after` names the record right before this one.
    this.#write([]);
    if (this.#loss.pending) this.#write([this.#lossEntry()]);
    if (this.#failed || this.#loss.pending) return;
    const entry = retention.record(
      reason,
      { seq: this.#out.seq, hash: this.#out.hash },
      this.#entries.time(),
    );
    if (entry) this.#write([entry]);
  }

  /**
   * Startup: plan the recovery (every check, reading only), then apply it: set a torn or
   * unconfirmed tail aside with a chained `recovery` record, write the signed `session.open`
   * and a checkpoint, anchored before anything else is appended. Sets `origin` and the
   * segment and head fields; returns whether the tail still needs a checkpoint.
   */
  #recoverAndOpen(): { needsCheckpoint: boolean } {
    const plan = planRecovery({
      dir: this.dir,
      anchorPath: this.anchorPath,
      publicKey: createPublicKey(this.#privateKey),
    });
    if (plan.kind === 'create') {
      const origin = randomBytes(16).toString('hex');
      // Fields set before #openNewSegmentSync reads them.
      (this as { origin: string }).origin = origin;
      this.#headSeq = 0;
      this.#headHash = GENESIS_HASH;
      this.#openNewSegmentSync(1, origin, false);
      return { needsCheckpoint: true };
    }
    (this as { origin: string }).origin = plan.origin;
    for (const n of plan.notices) this.#notice(n.code, n.message);
    const opened = applyOpenPlan(this.#fs, this.dir, this.#segDir, plan, this.#o.now, {
      keyId: this.keyId,
      privateKey: this.#privateKey,
    });
    this.#out.seg = opened.state;
    this.#headSeq = opened.head.seq;
    this.#headHash = opened.head.hash;
    this.#lastCheckpointSeq = opened.head.seq;
    this.#anchors.writeSync(opened.checkpoint);
    for (const n of openNotices(this.dir, plan, opened)) this.#notice(n.code, n.message);
    this.#out.rewind({ seq: this.#headSeq, hash: this.#headHash });
    if (plan.marker) {
      this.#rotateSync(true);
      this.#fs.unlinkSync(plan.marker.path);
    }
    return { needsCheckpoint: false };
  }
}
