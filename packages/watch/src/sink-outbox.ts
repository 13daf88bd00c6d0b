import { join } from 'node:path';
import { readAlerts } from './alert-store.js';
import type { Sink } from './sinks.js';
import { readJson, writeJsonAtomic } from './state-file.js';

interface SinkCursor {
  version: 1;
  /** The next alert store seq to deliver: every alert below it was accepted by the sink. */
  nextSeq: number;
  delivered: number;
  lastError?: string;
}

/**
 * Delivery to one sink from the watcher's alert store, which is the outbox: a persisted
 * cursor per sink, advanced (atomically) only once the sink accepted the alert. A sink that is
 * down loses nothing: the alert waits in the store, retried with exponential backoff; after a
 * restart delivery resumes at the cursor. At least once: an alert accepted just before a crash
 * may be delivered again, with the same de-duplication key.
 */
export class SinkOutbox {
  readonly sink: Sink;
  readonly #file: string;
  readonly #alertsDir: string;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #notice: (message: string) => void;
  #cursor: SinkCursor;
  #failures = 0;
  #retryAt = 0;
  #running: Promise<void> | undefined;

  constructor(
    sink: Sink,
    stateDir: string,
    alertsDir: string,
    options: { backoffMs: number; maxBackoffMs: number },
    notice: (message: string) => void,
  ) {
    this.sink = sink;
    this.#file = join(stateDir, 'sinks', `${sink.name}.json`);
    this.#alertsDir = alertsDir;
    this.#backoffMs = options.backoffMs;
    this.#maxBackoffMs = options.maxBackoffMs;
    this.#notice = notice;
    const saved = readJson<SinkCursor>(this.#file, `cursor of sink ${sink.name}`);
    if (saved && (saved.version !== 1 || !Number.isSafeInteger(saved.nextSeq))) {
      throw new Error(
        `the cursor of sink ${sink.name} ${this.#file} is not a version 1 cursor; move it aside to deliver every alert again`,
      );
    }
    this.#cursor = saved ?? { version: 1, nextSeq: 1, delivered: 0 };
  }

  /** Alerts of the store up to `headSeq` not yet accepted by the sink (a count, for status). */
  get nextSeq(): number {
    return this.#cursor.nextSeq;
  }

  get failing(): boolean {
    return this.#failures > 0;
  }

  /** Delivers what is pending up to the durable `headSeq` (one pump at a time). */
  pump(headSeq: number, now = Date.now()): Promise<void> {
    if (this.#running) return this.#running;
    if (now < this.#retryAt || this.#cursor.nextSeq > headSeq) return Promise.resolve();
    this.#running = this.#deliver(headSeq).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #deliver(headSeq: number): Promise<void> {
    for (;;) {
      const { alerts, nextSeq } = readAlerts(this.#alertsDir, this.#cursor.nextSeq, 100, headSeq);
      for (const { seq, alert } of alerts) {
        try {
          await this.sink.deliver(alert);
        } catch (error) {
          this.#failures++;
          const wait = Math.min(
            this.#maxBackoffMs,
            this.#backoffMs * 2 ** Math.min(this.#failures - 1, 20),
          );
          this.#retryAt = Date.now() + wait;
          const message = (error as Error).message;
          if (this.#failures === 1 || this.#cursor.lastError !== message) {
            this.#notice(
              `${message}; alert ${alert.id} and those after it stay in the outbox, retrying in ${wait} ms (then with backoff)`,
            );
          }
          this.#cursor = { ...this.#cursor, nextSeq: seq, lastError: message };
          writeJsonAtomic(this.#file, this.#cursor);
          return;
        }
        if (this.#failures > 0) this.#notice(`sink ${this.sink.name} accepts alerts again`);
        this.#failures = 0;
        this.#retryAt = 0;
        this.#cursor = { version: 1, nextSeq: seq + 1, delivered: this.#cursor.delivered + 1 };
        writeJsonAtomic(this.#file, this.#cursor);
      }
      if (nextSeq > this.#cursor.nextSeq) {
        // Records that are not alerts (checkpoints, session records) are passed over.
        this.#cursor = { ...this.#cursor, nextSeq };
        writeJsonAtomic(this.#file, this.#cursor);
      }
      if (alerts.length === 0 || nextSeq > headSeq) return;
    }
  }
}
