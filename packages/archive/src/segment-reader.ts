import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type SegmentSummary, summariseSegment } from './segment-summary.js';

export interface ReadSegment {
  bytes: Buffer;
  summary: SegmentSummary;
  /**
   * Hands `bytes` back for the next read: call it once nothing reads them any more (the PUT
   * that sends them has settled), and never touch them after.
   */
  release: () => void;
}

interface Answer {
  id: number;
  slot?: SharedArrayBuffer;
  length?: number;
  summary?: SegmentSummary;
  error?: string;
}

const WORKER = new URL('./summary-worker.js', import.meta.url);

/**
 * Reads and summarises segment files for a push on a worker thread, so that parsing one
 * segment's records overlaps sending the others (push's own CPU, measured: about half of it was
 * `summariseSegment` on the thread that also drives the uploads). The worker reads into shared
 * buffers that are handed back (`release`) and reused while reads are under way, so a push of
 * many segments allocates a few buffers, not one per segment (each a garbage collection's
 * worth of external memory on the sending thread). Where the compiled worker is not beside
 * this module (the TypeScript sources run by the tests), it reads in the calling thread: the
 * same function, the same result.
 */
export class SegmentReader {
  #worker: Worker | undefined;
  #pending = new Map<number, { resolve: (r: ReadSegment) => void; reject: (e: Error) => void }>();
  #next = 0;
  /** Shared buffers handed back and not yet reused; dropped when no read is under way. */
  #free: SharedArrayBuffer[] = [];
  /** Reads asked for and not yet released. */
  #out = 0;
  #failure: Error | undefined;

  constructor() {
    if (!fs.existsSync(fileURLToPath(WORKER))) return;
    const worker = new Worker(WORKER);
    worker.on('message', (m: Answer) => {
      const waiting = this.#pending.get(m.id);
      if (!waiting) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      const { slot, length, summary } = m;
      if (m.error !== undefined || !slot || length === undefined || !summary) {
        this.#settle();
        waiting.reject(new Error(m.error));
        return;
      }
      let released = false;
      waiting.resolve({
        bytes: Buffer.from(slot, 0, length),
        summary,
        release: () => {
          if (released) return;
          released = true;
          this.#free.push(slot);
          this.#settle();
        },
      });
    });
    const fail = (error: Error) => {
      this.#failure = error;
      for (const w of this.#pending.values()) w.reject(error);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      // Not asked to (close): whatever it owed, and whatever is asked of it later, fails.
      if (this.#worker === worker) fail(new Error(`the segment reader thread exited (${code})`));
    });
    worker.unref();
    this.#worker = worker;
  }

  /** Its worker thread died: every read fails (`segmentReader()` starts another). */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Whether it reads on its worker thread (false: in the calling thread). */
  get threaded(): boolean {
    return this.#worker !== undefined;
  }

  /** The bytes of a segment file and its summary. */
  read(file: string): Promise<ReadSegment> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (!this.#worker) {
      try {
        const bytes = fs.readFileSync(file);
        return Promise.resolve({ bytes, summary: summariseSegment(bytes), release: () => {} });
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const id = this.#next++;
    // Referenced while it owes an answer (the push may be waiting on nothing else), not after.
    if (this.#pending.size === 0) this.#worker.ref();
    this.#out++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker!.postMessage({ id, file, slot: this.#free.pop() });
    });
  }

  /** One read is over: when none is left, the spare buffers go (a push's worth, not a process's). */
  #settle(): void {
    if (--this.#out === 0) this.#free = [];
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }
}

let shared: SegmentReader | undefined;

/**
 * The process's one reader, started on first use (a thread and the store module to load, about
 * 50 ms) and kept, idle and unreferenced, for the next push: a CLI pushing several stores, or a
 * process pushing on a schedule, pays for it once.
 */
export function segmentReader(): SegmentReader {
  // A reader whose thread died (it failed its reads then) is replaced for the next push.
  if (!shared || shared.failed) shared = new SegmentReader();
  return shared;
}
