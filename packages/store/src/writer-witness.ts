import { canonicalJson } from './canonical-json.js';
import type { FsLayer } from './fs-layer.js';
import { witnessPath } from './session-records.js';

/**
 * The writer witness (docs/store-format.md, "Writer witness"): `<anchor>.<origin>.head`,
 * overwritten after every group commit with the durable head, so that after a kill -9 the
 * next writer knows which records this one acknowledged. One pwrite, no fsync: the page cache
 * outlives a killed process, and a stale witness after a power cut only widens the range the
 * next `session.open` reports as unattested. Lives beside the anchor, out of a store-writing
 * attacker's reach.
 */
export class WriterWitness {
  readonly #fs: FsLayer;
  readonly #origin: string;
  readonly #file: string;
  readonly #notice: (code: string, message: string) => void;
  #fd: number | undefined;
  #warned = false;

  constructor(
    layer: FsLayer,
    anchorPath: string,
    origin: string,
    notice: (code: string, message: string) => void,
  ) {
    this.#fs = layer;
    this.#origin = origin;
    this.#file = witnessPath(anchorPath, origin);
    this.#notice = notice;
    try {
      this.#fd = layer.openSync(this.#file, 'w', 0o600);
    } catch (error) {
      this.#failed(error);
    }
  }

  /** Record `seq`/`hash` as acknowledged. Never throws: a missing witness only widens ranges. */
  write(seq: number, hash: string, time: string): void {
    if (this.#fd === undefined) return;
    const buf = Buffer.from(`${canonicalJson({ hash, origin: this.#origin, seq, time })}\n`);
    try {
      // The text only grows (seq is monotonic, times are fixed-width): overwriting at 0
      // leaves no stale tail.
      this.#fs.writeSync(this.#fd, buf, 0, buf.length, 0);
    } catch (error) {
      this.#failed(error);
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      this.#fs.closeSync(this.#fd);
    } catch {
      // Nothing to lose: the witness is never synced.
    }
    this.#fd = undefined;
  }

  #failed(error: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#notice(
      'WITNESS_WRITE_FAILED',
      `cannot write the writer witness ${this.#file} (${(error as Error).message}); after a crash, records this writer acknowledged may be reported as unattested`,
    );
  }
}
