import type { StoreError } from './errors.js';
import { type FsLayer, writeFullySync } from './fs-layer.js';
import { ioError } from './io-error.js';
import { type EncodedRecord, GENESIS_HASH } from './record-format.js';
import { encodeSeal, type SegmentState } from './segment-writer.js';
import type { ChainPoint } from './session-records.js';

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
    this.seg.digest.update(buf);
    this.seg.records += records.length;
    return undefined;
  }

  /** The `segment.seal` record of the current segment, chained after the last written record. */
  sealRecord(damaged: boolean, time: string): EncodedRecord {
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
