import { canonicalJson } from './canonical-json.js';
import { configurationError, StoreError } from './errors.js';
import type { BatchEntry } from './record-format.js';
import { type TagPlanMemo, tagsToJson } from './record-tags.js';
import { systemNow } from './store-options.js';
import type { AppendEntry, AppendResult, RecordType } from './types.js';

const ENTRY_TYPES = new Set(['span.start', 'span.end', 'event', 'alert']);

/**
 * An entry validated and encoded for the chain (seq/prev/hash are assigned at write), with
 * the callbacks that settle its append. Always built with every member, in one shape.
 */
export interface PendingEntry extends BatchEntry {
  /** The entry's run tag, counted if the append fails. */
  run: string | undefined;
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

const noop = () => {};

/** A record the writer appends itself (store.close, loss, retention.policy): untagged, unawaited. */
export function writerEntry(type: RecordType, time: string, payloadJson: string): PendingEntry {
  return { type, time, tagsJson: '{}', payloadJson, run: undefined, resolve: noop, reject: noop };
}

/**
 * Validates and encodes appended entries: canonical payload and tags, and the record time.
 * Hot path: the tag key order is memoised and the ISO time formatted once per millisecond.
 */
export class EntryEncoder {
  readonly #dir: string;
  readonly #now: () => Date;
  /** Memo of the tag key orders (see tagPlan). */
  readonly #tagPlan: TagPlanMemo = { plans: [] };
  #lastTimeMs = Number.NaN;
  #lastTime = '';

  constructor(dir: string, now: () => Date) {
    this.#dir = dir;
    this.#now = now;
  }

  /** Throws `CONFIGURATION` / `RECORD_INVALID`; the caller rejects the append with it. */
  encode(
    entry: AppendEntry,
    resolve: PendingEntry['resolve'],
    reject: PendingEntry['reject'],
  ): PendingEntry {
    if (entry === null || typeof entry !== 'object')
      throw configurationError('entry', 'an object', entry);
    if (!ENTRY_TYPES.has(entry.type)) {
      throw configurationError(
        'entry.type',
        "'span.start', 'span.end', 'event' or 'alert'",
        entry.type,
      );
    }
    const tagsJson = tagsToJson(entry.tags, this.#tagPlan);
    let payloadJson: string;
    try {
      payloadJson = canonicalJson(entry.payload === undefined ? null : entry.payload);
    } catch (error) {
      throw new StoreError(
        'RECORD_INVALID',
        `payload has no canonical JSON form: ${(error as Error).message}`,
        { dir: this.#dir },
      );
    }
    const run = entry.tags?.run;
    return {
      type: entry.type,
      time: this.time(),
      tagsJson,
      payloadJson,
      run: typeof run === 'string' ? run : undefined,
      resolve,
      reject,
    };
  }

  /** The record time now; the ISO string is formatted once per millisecond, not per record. */
  time(): string {
    const ms = this.#now === systemNow ? Date.now() : this.#now().getTime();
    if (ms !== this.#lastTimeMs) {
      this.#lastTimeMs = ms;
      this.#lastTime = new Date(ms).toISOString();
    }
    return this.#lastTime;
  }

  /** The last time handed out (for the witness, without reading the clock again). */
  get lastTime(): string {
    return this.#lastTime;
  }
}
