import { join } from 'node:path';
import {
  appendDurable,
  CURSOR_FILE,
  DEAD_LETTER_FILE,
  type ForwarderCursor,
  forwarderDir,
  readForwarderCursor,
  writeFileAtomic,
} from './forwarder-state.js';
import { parseRetryAfter, partialRejections, requestPart } from './otlp-batch.js';
import { resolveOtlpHeaders, resolveTracesEndpoint } from './otlp-endpoint.js';
import { type PostResult, postOtlpJson } from './otlp-http-post.js';

/** One stored record as the forwarder needs it (a subset of the store's record). */
export interface ForwarderRecord {
  seq: number;
  type: string;
  /** The parsed payload; not needed when `payloadJson` is given. */
  payload?: unknown;
  /** The payload exactly as stored (canonical JSON), when the source can give it unparsed. */
  payloadJson?: string;
}

/** Read access to the store: records in sequence order starting at `seq` (inclusive). */
export interface ForwarderSource {
  recordsFrom(
    seq: number,
    limit: number,
  ): readonly ForwarderRecord[] | Promise<readonly ForwarderRecord[]>;
  /** The highest sequence number stored, for the pending count; optional. */
  headSeq?(): number | undefined | Promise<number | undefined>;
}

export interface ForwarderOptions {
  /** The store directory; the cursor and dead letters live in its `forwarder/` folder. */
  storeDir: string;
  source: ForwarderSource;
  /**
   * OTLP/HTTP traces URL. The default value comes from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else `http://localhost:4318/v1/traces`.
   */
  endpoint?: string;
  /** Extra request headers. The default value comes from `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`. */
  headers?: Record<string, string>;
  /** Records read per batch. The default value is 512. */
  maxBatchRecords?: number;
  /** Upper bound of one request body; a single larger span still goes alone. The default value is 4 MiB. */
  maxBatchBytes?: number;
  /** One request's deadline; a black-hole collector costs this much, then a retry. The default value is 10000. */
  requestTimeoutMillis?: number;
  /** First retry delay (jittered, doubling). The default value is 250. */
  minBackoffMillis?: number;
  /** Longest retry delay without Retry-After. The default value is 30000. */
  maxBackoffMillis?: number;
  /** A `Retry-After` longer than this is capped. The default value is 300000. */
  maxRetryAfterMillis?: number;
  /**
   * Where the forwarder reports outages and dead letters (one message when forwarding pauses,
   * not one per retry). The SDK passes its `diag` component logger. The default value is silent.
   */
  logger?: ForwarderLogger;
  /**
   * Runs each HTTP request. In an instrumented process the SDK wraps it in
   * `suppressTracing(context.active())`, so the forwarder's own HTTP never becomes spans that feed
   * the store that feeds it. The default value runs the request as is.
   */
  runRequest?: <T>(request: () => Promise<T>) => Promise<T>;
}

export interface ForwarderLogger {
  warn(message: string): void;
}

const SILENT: ForwarderLogger = { warn: () => undefined };

export type ForwarderState = 'idle' | 'sending' | 'backoff' | 'stopped';

export interface ForwarderStatus {
  state: ForwarderState;
  endpoint: string;
  /** The next store sequence number to forward. */
  nextSeq: number;
  /** Records (of any type) stored after the cursor, when the source knows its head. */
  pendingRecords: number | undefined;
  delivered: number;
  deadLetterBatches: number;
  deadLetterSpans: number;
  consecutiveFailures: number;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  lastSuccessAt: string | undefined;
  /** When the next retry is due (ISO time), while backing off. */
  retryAt: string | undefined;
}

export interface DrainResult {
  ok: boolean;
  /** HTTP requests this drain sent (retries included). */
  requests: number;
  /** Why the drain stopped short (only when ok is false). */
  reason?: string;
  delivered: number;
  deadLetterSpans: number;
  nextSeq: number;
}

type BatchOutcome =
  | { kind: 'empty' }
  | { kind: 'advanced' }
  | { kind: 'retry'; delayMillis: number; reason: string };

const RETRYABLE_STATUS = new Set([408, 425, 429]);

/**
 * Feeds an OTLP/HTTP endpoint (Jaeger, a collector) from the store by a persisted cursor:
 * at-least-once, span ids unchanged, so a replay after an outage or a restart only repeats what
 * the endpoint may already have. One request in flight, one batch in memory; never awaited by
 * the tool path (it is woken by the store and works on its own timers, all unref'd).
 */
export class Forwarder {
  private readonly storeDir: string;
  private readonly source: ForwarderSource;
  readonly endpoint: string;
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly maxBatchRecords: number;
  private readonly maxBatchBytes: number;
  private readonly requestTimeoutMillis: number;
  private readonly minBackoffMillis: number;
  private readonly maxBackoffMillis: number;
  private readonly maxRetryAfterMillis: number;
  private readonly logger: ForwarderLogger;
  /** Requests sent by this instance, and the count when the current drain began. */
  private requests = 0;
  private drainStartRequests = 0;
  private readonly runRequest: <T>(request: () => Promise<T>) => Promise<T>;

  private cursor: ForwarderCursor;
  // Counter deltas not yet merged into the cursor file (another process may own the file too).
  private unsaved = { delivered: 0, deadLetterBatches: 0, deadLetterSpans: 0 };
  private batchLimit: number;
  private state: ForwarderState = 'idle';
  private loop: Promise<void> | undefined;
  private dirty = false;
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private retryAt: number | undefined;
  private consecutiveFailures = 0;
  private readonly abort = new AbortController();

  constructor(options: ForwarderOptions) {
    this.storeDir = requireString('storeDir', options.storeDir);
    if (!options.source || typeof options.source.recordsFrom !== 'function') {
      throw new Error(
        `Configuration: source is invalid, expected an object with recordsFrom(seq, limit) (actual: ${typeof options.source})`,
      );
    }
    this.source = options.source;
    this.logger = options.logger ?? SILENT;
    this.runRequest = options.runRequest ?? ((request) => request());
    this.endpoint = resolveTracesEndpoint(options.endpoint);
    this.url = new URL(this.endpoint);
    this.headers = { ...resolveOtlpHeaders(), ...options.headers };
    this.maxBatchRecords = positiveInt('maxBatchRecords', options.maxBatchRecords, 512);
    this.maxBatchBytes = positiveInt('maxBatchBytes', options.maxBatchBytes, 4 * 1024 * 1024);
    this.requestTimeoutMillis = positiveInt(
      'requestTimeoutMillis',
      options.requestTimeoutMillis,
      10_000,
    );
    this.minBackoffMillis = positiveInt('minBackoffMillis', options.minBackoffMillis, 250);
    this.maxBackoffMillis = positiveInt('maxBackoffMillis', options.maxBackoffMillis, 30_000);
    this.maxRetryAfterMillis = positiveInt(
      'maxRetryAfterMillis',
      options.maxRetryAfterMillis,
      300_000,
    );
    this.batchLimit = this.maxBatchRecords;
    this.cursor = readForwarderCursor(this.storeDir);
  }

  /** New durable records exist: forward them soon. Cheap and safe to call on every append. */
  wake(): void {
    if (this.isStopped()) return;
    if (this.loop || this.draining || this.timer) {
      // A loop in progress re-reads before it idles; a backoff keeps its schedule.
      this.dirty = true;
      return;
    }
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
      if (this.dirty && !this.timer && !this.draining) this.wake();
    });
  }

  /**
   * Forwards until nothing is stored after the cursor. Resolves `ok: false` with the reason when
   * that cannot be reached before `timeoutMillis` (default 60000), e.g. the endpoint is down;
   * with 0, or with `retry: false`, the first failure ends it (one pass, no retry).
   */
  async drain(options: { timeoutMillis?: number; retry?: boolean } = {}): Promise<DrainResult> {
    const retry = options.retry ?? true;
    const timeoutMillis =
      options.timeoutMillis === 0 ? 0 : positiveInt('timeoutMillis', options.timeoutMillis, 60_000);
    const deadline = Date.now() + timeoutMillis;
    // Sockets and timers are unref'd so that forwarding never keeps a finished agent alive; but
    // whoever awaits a drain expects its answer, so hold the event loop open until it resolves.
    const keepAlive = setInterval(() => undefined, 60_000);
    this.drainStartRequests = this.requests;
    this.draining = true;
    this.clearTimer();
    // An explicit drain starts with an immediate attempt, whatever backoff an earlier outage
    // had built up (the endpoint is often back: that is why someone asks for a drain).
    this.consecutiveFailures = 0;
    try {
      // A request already in flight (possibly to a black hole) counts against the deadline too.
      while (this.loop) {
        const left = deadline - Date.now();
        const settled = await Promise.race([
          this.loop.then(() => true),
          new Promise<false>((resolve) => setTimeout(resolve, Math.max(0, left), false).unref()),
        ]);
        if (!settled) {
          return this.drainResult(false, `a request to ${this.endpoint} is still unanswered`);
        }
      }
      for (;;) {
        if (this.isStopped()) return this.drainResult(false, 'forwarder stopped');
        let outcome: BatchOutcome;
        try {
          outcome = await this.sendOneBatch();
        } catch (err) {
          // The store could not be read (a damaged record, I/O): retrying will not fix it.
          return this.drainResult(false, `reading the store failed: ${errorMessage(err)}`);
        }
        if (outcome.kind === 'empty') return this.drainResult(true);
        if (outcome.kind === 'advanced') continue;
        const left = deadline - Date.now();
        if (left <= 0 || !retry) return this.drainResult(false, outcome.reason);
        await sleep(Math.min(outcome.delayMillis, left));
      }
    } finally {
      clearInterval(keepAlive);
      this.draining = false;
      if (!this.isStopped()) this.state = 'idle';
      if (this.dirty) this.wake();
    }
  }

  /** Stops timers and aborts the request in flight; the cursor stays where it was acknowledged. */
  async stop(): Promise<void> {
    if (this.isStopped()) return;
    this.state = 'stopped';
    this.clearTimer();
    this.abort.abort();
    if (this.loop) await this.loop.catch(() => undefined);
  }

  async status(): Promise<ForwarderStatus> {
    let head: number | undefined;
    try {
      head = await this.source.headSeq?.();
    } catch {
      head = undefined;
    }
    return {
      state: this.state,
      endpoint: this.endpoint,
      nextSeq: this.cursor.nextSeq,
      pendingRecords:
        head === undefined ? undefined : Math.max(0, head + 1 - (await this.pendingFrom())),
      delivered: this.cursor.delivered + this.unsaved.delivered,
      deadLetterBatches: this.cursor.deadLetterBatches + this.unsaved.deadLetterBatches,
      deadLetterSpans: this.cursor.deadLetterSpans + this.unsaved.deadLetterSpans,
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.cursor.lastError,
      lastErrorAt: this.cursor.lastErrorAt,
      lastSuccessAt: this.cursor.lastSuccessAt,
      retryAt: this.retryAt === undefined ? undefined : new Date(this.retryAt).toISOString(),
    };
  }

  private async runLoop(): Promise<void> {
    for (;;) {
      if (this.isStopped() || this.draining) return;
      this.dirty = false;
      let outcome: BatchOutcome;
      try {
        outcome = await this.sendOneBatch();
      } catch (err) {
        // Reading the store or saving the cursor failed: visible in status, retried later.
        outcome = await this.failure(`forwarding failed: ${errorMessage(err)}`);
      }
      if (outcome.kind === 'advanced') continue;
      if (outcome.kind === 'empty') {
        if (this.dirty) continue;
        if (!this.isStopped()) this.state = 'idle';
        return;
      }
      if (this.isStopped() || this.draining) return;
      this.state = 'backoff';
      this.retryAt = Date.now() + outcome.delayMillis;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.retryAt = undefined;
        this.wake();
      }, outcome.delayMillis);
      this.timer.unref();
      return;
    }
  }

  private async sendOneBatch(): Promise<BatchOutcome> {
    const from = this.cursor.nextSeq;
    const records = await this.source.recordsFrom(from, this.batchLimit);
    if (records.length === 0) return { kind: 'empty' };

    const parts: string[] = [];
    let bytes = 0;
    let spans = 0;
    let lastSeq = from - 1;
    for (const record of records) {
      if (record.seq < from) continue;
      if (record.type === 'span.end') {
        const part = requestPart(record);
        if (part !== undefined) {
          if (parts.length > 0 && bytes + part.text.length > this.maxBatchBytes) break;
          parts.push(part.text);
          bytes += part.text.length + 1;
          spans += part.spans;
        }
      }
      lastSeq = record.seq;
    }
    if (lastSeq < from) return { kind: 'empty' };
    if (parts.length === 0) {
      // Only records that are not spans (checkpoints, events): nothing to send, move on.
      await this.advance(lastSeq + 1, { delivered: 0 });
      return { kind: 'advanced' };
    }

    this.state = 'sending';
    const body = `{"resourceSpans":[${parts.join(',')}]}`;
    let response: PostResult;
    try {
      response = await this.post(body);
    } catch (err) {
      return this.failure(`request to ${this.endpoint} failed: ${errorMessage(err)}`);
    }
    const text = response.body;
    if (response.status >= 200 && response.status < 300) {
      this.consecutiveFailures = 0;
      this.batchLimit = this.maxBatchRecords;
      const rejected = partialRejections(text);
      if (rejected > 0) {
        this.logger.warn(`${this.endpoint} accepted the batch but rejected ${rejected} spans`);
      }
      await this.advance(lastSeq + 1, { delivered: spans, success: true });
      return { kind: 'advanced' };
    }
    const reason = `${this.endpoint} answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
    if (response.status === 413 && records.length > 1) {
      // Too large for this endpoint: halve and retry at once; a single span still too large
      // is dead-lettered like any other batch the endpoint will never take.
      this.batchLimit = Math.max(1, Math.floor(Math.min(this.batchLimit, records.length) / 2));
      return { kind: 'advanced' };
    }
    if (response.status === 400 || response.status === 413) {
      await this.deadLetter(from, lastSeq, spans, body, reason);
      return { kind: 'advanced' };
    }
    // 429, 5xx, and any other 4xx (a wrong URL or credentials is a configuration problem to
    // fix, not a reason to throw evidence away): keep the cursor and retry later.
    const retryAfter = RETRYABLE_STATUS.has(response.status) || response.status >= 500;
    return this.failure(reason, retryAfter ? parseRetryAfter(response.retryAfter) : undefined);
  }

  private post(body: string): Promise<PostResult> {
    this.requests++;
    return this.runRequest(() =>
      postOtlpJson(this.url, body, this.headers, this.abort.signal, this.requestTimeoutMillis),
    );
  }

  private async failure(reason: string, retryAfterMillis?: number): Promise<BatchOutcome> {
    this.consecutiveFailures++;
    if (this.consecutiveFailures === 1) this.logger.warn(`forwarding paused: ${reason}`);
    this.cursor.lastError = reason;
    this.cursor.lastErrorAt = new Date().toISOString();
    let delayMillis = this.backoff();
    if (retryAfterMillis !== undefined) {
      delayMillis = Math.max(delayMillis, Math.min(retryAfterMillis, this.maxRetryAfterMillis));
    }
    // Only the first failure of a streak is persisted: a long outage must not fsync per retry.
    if (this.consecutiveFailures === 1) await this.persist().catch(() => undefined);
    return { kind: 'retry', delayMillis, reason };
  }

  /** Exponential with equal jitter: never zero, never in lockstep with other agents. */
  private backoff(): number {
    const exp = Math.min(
      this.maxBackoffMillis,
      this.minBackoffMillis * 2 ** Math.min(30, Math.max(0, this.consecutiveFailures - 1)),
    );
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  private async deadLetter(
    fromSeq: number,
    toSeq: number,
    spans: number,
    body: string,
    reason: string,
  ): Promise<void> {
    const line = `${JSON.stringify({
      at: new Date().toISOString(),
      endpoint: this.endpoint,
      reason,
      fromSeq,
      toSeq,
      spans,
      request: JSON.parse(body) as unknown,
    })}\n`;
    await appendDurable(join(forwarderDir(this.storeDir), DEAD_LETTER_FILE), line);
    this.logger.warn(`dead-lettered ${spans} spans (seq ${fromSeq}..${toSeq}): ${reason}`);
    this.cursor.lastError = reason;
    this.cursor.lastErrorAt = new Date().toISOString();
    this.unsaved.deadLetterBatches++;
    this.unsaved.deadLetterSpans += spans;
    this.consecutiveFailures = 0;
    await this.advance(toSeq + 1, { delivered: 0 });
  }

  private async advance(
    nextSeq: number,
    { delivered, success = false }: { delivered: number; success?: boolean },
  ): Promise<void> {
    this.cursor.nextSeq = Math.max(this.cursor.nextSeq, nextSeq);
    this.unsaved.delivered += delivered;
    if (success) this.cursor.lastSuccessAt = new Date().toISOString();
    await this.persist();
  }

  private async persist(): Promise<void> {
    // Another process (`agent-audit forward`) may share the cursor: never move it backwards,
    // and add our counts to what is on disk rather than overwrite them.
    let disk: ForwarderCursor;
    try {
      disk = readForwarderCursor(this.storeDir);
    } catch {
      disk = this.cursor;
    }
    const next: ForwarderCursor = {
      ...this.cursor,
      version: 1,
      nextSeq: Math.max(disk.nextSeq, this.cursor.nextSeq),
      delivered: disk.delivered + this.unsaved.delivered,
      deadLetterBatches: disk.deadLetterBatches + this.unsaved.deadLetterBatches,
      deadLetterSpans: disk.deadLetterSpans + this.unsaved.deadLetterSpans,
      endpoint: this.endpoint,
      updatedAt: new Date().toISOString(),
    };
    await writeFileAtomic(
      join(forwarderDir(this.storeDir), CURSOR_FILE),
      `${JSON.stringify(next, null, 2)}\n`,
    );
    this.cursor = next;
    this.unsaved = { delivered: 0, deadLetterBatches: 0, deadLetterSpans: 0 };
  }

  /**
   * The first sequence number still to send. A fresh cursor says 0, but the store's first record
   * is seq 1: ask the source, so a fresh store's pending count is not one too many.
   */
  private async pendingFrom(): Promise<number> {
    if (this.cursor.nextSeq > 0) return this.cursor.nextSeq;
    try {
      return (await this.source.recordsFrom(0, 1))[0]?.seq ?? 0;
    } catch {
      return 0;
    }
  }

  private drainResult(ok: boolean, reason?: string): DrainResult {
    const result: DrainResult = {
      ok,
      requests: this.requests - this.drainStartRequests,
      delivered: this.cursor.delivered + this.unsaved.delivered,
      deadLetterSpans: this.cursor.deadLetterSpans + this.unsaved.deadLetterSpans,
      nextSeq: this.cursor.nextSeq,
    };
    if (reason !== undefined) result.reason = reason;
    return result;
  }

  // A method, not a field comparison: TypeScript would narrow `state` across awaits.
  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.retryAt = undefined;
  }
}

// Referenced on purpose: a drain is awaited by its caller (`agent-audit forward --drain`), and
// an unref'd timer would let that process exit in the middle of a backoff.
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new Error(
      `Configuration: ${name} is invalid, expected a non-empty string (actual: ${String(value)})`,
    );
  }
  return value;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(
      `Configuration: ${name} is invalid, expected a positive integer (actual: ${value})`,
    );
  }
  return value;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
