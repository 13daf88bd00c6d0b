import type { StoreError } from './errors.js';
import { type FsLayer, writeFullySync } from './fs-layer.js';
import { ioError } from './io-error.js';
import { type EncodedRecord, GENESIS_HASH } from './record-format.js';
import { encodeSeal, type SegmentState } from './segment-writer.js';
import type { ChainPoint } from './session-records.js';

/** Size of one chunk of written bytes waiting for the segment digest. */
const UNDIGESTED_CHUNK = 64 * 1024;
/** Most bytes left waiting: beyond that, a write digests what waits first (on its own path). */
const UNDIGESTED_MAX = 16 * 1024 * 1024;

/**
 * The write-through position of the writer: the segment it appends to, where the next record
 * goes and what it chains to. Records are written when appended, so this runs ahead of the
 * durable head by whatever the next fdatasync will cover.
 */
export class SegmentAppender {
  readonly #fs: FsLayer;
  readonly #dir: string;
  seg!: SegmentState;
  /** Offset the next record is written at. */
  offset = 0;
  /** Seq and hash of the last record written. */
  seq = 0;
  hash = GENESIS_HASH;

  constructor(layer: FsLayer, dir: string) {
    this.#fs = layer;
    this.#dir = dir;
  }

  /** Make the durable end the write position (after open, recovery, a new segment). */
  rewind(head: ChainPoint): void {
    this.offset = this.seg.offset;
    this.seq = head.seq;
    this.hash = head.hash;
  }

  /**
   * Write `buf` (the lines of `records`) at the write position and advance the chain. A failed
   * write (ENOSPC, EROFS, EIO on write) is cut back to where it began, so no half record
   * remains and the chain state is as before it; earlier records stay for their fdatasync.
   * Returns the error to reject the records with, `fatal` when even the cut failed.
   */
  write(
    buf: Buffer,
    records: ReadonlyArray<{ seq: number; hash: string }>,
  ): { error: StoreError; fatal: boolean } | undefined {
    const at = this.offset;
    try {
      // A synchronous write only copies the records into the page cache (a few µs); a
      // thread-pool round trip costs more than that. Durability comes from the asynchronous
      // fdatasync of the commit loop.
      writeFullySync(this.#fs, this.seg.fd, buf, at);
    } catch (error) {
      const failure = ioError(this.#dir, 'writing a segment', error);
      try {
        this.#fs.ftruncateSync(this.seg.fd, at);
        this.#fs.fdatasyncSync(this.seg.fd);
      } catch (truncateError) {
        const fatal = ioError(
          this.#dir,
          'removing a partly written record after a failed write',
          truncateError,
        );
        return { error: fatal, fatal: true };
      }
      return { error: failure, fatal: false };
    }
    const last = records[records.length - 1]!;
    this.offset = at + buf.length;
    this.seq = last.seq;
    this.hash = last.hash;
    this.#digestLater(buf);
    this.seg.records += records.length;
    return undefined;
  }

  /**
   * Bytes written to `#undigestedFor` that its running digest (the seal's `sha256`) has not
   * seen yet, copied out of the caller's reused buffer into chunks of UNDIGESTED_CHUNK bytes.
   *
   * Why: SHA-256 of a written record cost ~1 µs per 1.8 KB span record, ~2 µs of every audited
   * tool call, on the caller's path, although only the seal reads the digest. Copying the bytes
   * costs a tenth of that; the commit loop digests them while its fdatasync runs on the thread
   * pool ({@link digestNow}), and the seal digests whatever is left before reading it, so the
   * digest always covers exactly the bytes written, in order, as before.
   */
  #undigested: Buffer[] = [];
  /** Chunks in use are `#undigested[0 .. #chunk]`, the last one filled up to `#chunkUsed`. */
  #chunk = 0;
  #chunkUsed = 0;
  #undigestedBytes = 0;
  #undigestedFor: SegmentState | undefined;

  #digestLater(buf: Buffer): void {
    if (this.#undigestedFor !== this.seg || this.#undigestedBytes + buf.length > UNDIGESTED_MAX) {
      this.digestNow();
    }
    if (buf.length > UNDIGESTED_CHUNK) {
      // In order: what waits goes first.
      this.digestNow();
      this.seg.digest.update(buf);
      return;
    }
    this.#undigestedFor = this.seg;
    let at = 0;
    while (at < buf.length) {
      let chunk = this.#undigested[this.#chunk];
      if (chunk === undefined) {
        chunk = Buffer.allocUnsafe(UNDIGESTED_CHUNK);
        this.#undigested.push(chunk);
      }
      const n = Math.min(buf.length - at, UNDIGESTED_CHUNK - this.#chunkUsed);
      buf.copy(chunk, this.#chunkUsed, at, at + n);
      at += n;
      this.#chunkUsed += n;
      if (this.#chunkUsed === UNDIGESTED_CHUNK) {
        this.#chunk++;
        this.#chunkUsed = 0;
      }
    }
    this.#undigestedBytes += buf.length;
  }

  /**
   * Brings the running digest of the segment the bytes were written to up to date. The commit
   * loop calls it while an fdatasync is under way; `sealRecord` before reading the digest.
   */
  digestNow(): void {
    const target = this.#undigestedFor;
    if (target !== undefined && this.#undigestedBytes > 0) {
      for (let i = 0; i < this.#chunk; i++) target.digest.update(this.#undigested[i]!);
      if (this.#chunkUsed > 0) {
        target.digest.update(this.#undigested[this.#chunk]!.subarray(0, this.#chunkUsed));
      }
    }
    this.#chunk = 0;
    this.#chunkUsed = 0;
    this.#undigestedBytes = 0;
    // The chunks are kept for reuse, up to what a busy turn needed (at most UNDIGESTED_MAX).
  }

  /** The `segment.seal` record of the current segment, chained after the last written record. */
  sealRecord(damaged: boolean, time: string): EncodedRecord {
    this.digestNow();
    return encodeSeal({ seq: this.seq, hash: this.hash }, time, {
      segment: this.seg.segment,
      firstSeq: this.seg.firstSeq,
      lastSeq: this.seq,
      records: this.seg.records,
      bytes: this.offset,
      sha256: this.seg.digest.copy().digest('hex'),
      damaged,
    });
  }
}
