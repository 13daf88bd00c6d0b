import {
  appendDeadLetter,
  type ForwarderCursorFile,
  readCursor,
  writeCursor,
} from './forwarder-cursor.js';

/** What the forwarder reads: records in sequence order from `seq` (the store reader). */
export interface ForwardSource {
  recordsFrom(seq: number, limit?: number): Array<{ seq: number; type: string; payload: unknown }>;
  head(): { seq: number } | undefined;
}

export interface StoreForwardOptions {
  storeDir: string;
  source: ForwardSource;
  /** OTLP/HTTP traces URL (JSON encoding). */
  endpoint: string;
  headers?: Record<string, string>;
  /**
   * Retry with backoff (honouring Retry-After) until nothing is pending or `timeoutMs` passes.
   * Without it, the first failure ends the pass. The default value is false.
   */
  drain?: boolean;
  /** With `drain`: give up after this long. The default value is 60000. */
  timeoutMs?: number;
  /** Records read per batch. The default value is 512. */
  maxBatchRecords?: number;
  /** Upper bound of one request body (one larger span still goes alone). The default value is 4 MiB. */
  maxBatchBytes?: number;
  /** One request's deadline. The default value is 10000. */
  requestTimeoutMs?: number;
  /** First retry delay (jittered, doubling). The default value is 250. */
  minBackoffMs?: number;
  /** Longest retry delay without Retry-After. The default value is 30000. */
  maxBackoffMs?: number;
  /** A longer Retry-After is capped to this. The default value is 300000. */
  maxRetryAfterMs?: number;
}

export interface StoreForwardResult {
  ok: boolean;
  /** Why the pass stopped short (when ok is false). */
  reason?: string;
  endpoint: string;
  /** Spans acknowledged by the endpoint in this pass. */
  delivered: number;
  /** Batches (and their spans) the endpoint rejected as malformed (400/413), set aside in this pass. */
  deadLetterBatches: number;
  deadLetterSpans: number;
  requests: number;
  nextSeq: number;
  /** Records (of any type) stored at or after the cursor. */
  pendingRecords: number;
}

const RETRYABLE = new Set([408, 425, 429]);

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function countSpans(resourceSpans: unknown[]): number {
  let n = 0;
  for (const rs of resourceSpans) {
    const scopes = (rs as { scopeSpans?: Array<{ spans?: unknown[] }> } | null)?.scopeSpans;
    if (!Array.isArray(scopes)) continue;
    for (const scope of scopes) n += Array.isArray(scope?.spans) ? scope.spans.length : 0;
  }
  return n;
}

const errorMessage = (error: unknown): string => {
  const cause = error instanceof Error ? (error.cause ?? error) : error;
  return cause instanceof Error ? cause.message : String(cause);
};

/**
 * Ships the store's `span.end` records after the shared cursor to an OTLP/HTTP endpoint, the
 * way the SDK's forwarder does (same cursor file, same dead-letter file, same batching and
 * retry rules), so that `agent-audit forward` can replay a store after an outage without the
 * SDK: at-least-once, span ids unchanged, the cursor moved only past what the endpoint took.
 */
export async function forwardFromStore(options: StoreForwardOptions): Promise<StoreForwardResult> {
  const maxBatchRecords = options.maxBatchRecords ?? 512;
  const maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const minBackoffMs = options.minBackoffMs ?? 250;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 300_000;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const headers = { ...options.headers, 'content-type': 'application/json' };

  let cursor: ForwarderCursorFile = await readCursor(options.storeDir);
  let unsaved = { delivered: 0, deadLetterBatches: 0, deadLetterSpans: 0 };
  const totals = { delivered: 0, deadLetterBatches: 0, deadLetterSpans: 0, requests: 0 };
  let batchLimit = maxBatchRecords;
  let failures = 0;

  const persist = async (): Promise<void> => {
    // The agent's own forwarder may have moved on meanwhile: never move the cursor back, and
    // add our counts to the file's rather than overwrite them.
    let disk: ForwarderCursorFile;
    try {
      disk = await readCursor(options.storeDir);
    } catch {
      disk = cursor;
    }
    cursor = {
      ...cursor,
      version: 1,
      nextSeq: Math.max(disk.nextSeq, cursor.nextSeq),
      delivered: disk.delivered + unsaved.delivered,
      deadLetterBatches: disk.deadLetterBatches + unsaved.deadLetterBatches,
      deadLetterSpans: disk.deadLetterSpans + unsaved.deadLetterSpans,
      endpoint: options.endpoint,
      updatedAt: new Date().toISOString(),
    };
    await writeCursor(options.storeDir, cursor);
    unsaved = { delivered: 0, deadLetterBatches: 0, deadLetterSpans: 0 };
  };

  const result = (ok: boolean, reason?: string): StoreForwardResult => {
    const head = options.source.head()?.seq ?? 0;
    return {
      ok,
      ...(reason === undefined ? {} : { reason }),
      endpoint: options.endpoint,
      ...totals,
      nextSeq: cursor.nextSeq,
      pendingRecords: Math.max(0, head - Math.max(cursor.nextSeq, 1) + 1),
    };
  };

  for (;;) {
    const from = cursor.nextSeq;
    const records = options.source.recordsFrom(from, batchLimit);
    const parts: string[] = [];
    let bytes = 0;
    let spans = 0;
    let lastSeq = from - 1;
    for (const record of records) {
      if (record.seq < from) continue;
      if (record.type === 'span.end') {
        const resourceSpans = (record.payload as { resourceSpans?: unknown } | null)?.resourceSpans;
        if (Array.isArray(resourceSpans) && resourceSpans.length > 0) {
          const text = resourceSpans.map((rs) => JSON.stringify(rs)).join(',');
          if (parts.length > 0 && bytes + text.length > maxBatchBytes) break;
          parts.push(text);
          bytes += text.length + 1;
          spans += countSpans(resourceSpans);
        }
      }
      lastSeq = record.seq;
    }
    if (lastSeq < from) return result(true);
    if (parts.length === 0) {
      // Checkpoints, events and intents only: nothing for Jaeger, move past them.
      cursor.nextSeq = lastSeq + 1;
      await persist();
      continue;
    }

    const body = `{"resourceSpans":[${parts.join(',')}]}`;
    let failure: { reason: string; retryAfterMs?: number } | undefined;
    totals.requests++;
    try {
      const response = await fetch(options.endpoint, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      const text = await response.text().catch(() => '');
      if (response.ok) {
        failures = 0;
        batchLimit = maxBatchRecords;
        cursor.nextSeq = lastSeq + 1;
        cursor.lastSuccessAt = new Date().toISOString();
        unsaved.delivered += spans;
        totals.delivered += spans;
        await persist();
        continue;
      }
      const reason = `${options.endpoint} answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
      if (response.status === 413 && records.length > 1) {
        batchLimit = Math.max(1, Math.floor(Math.min(batchLimit, records.length) / 2));
        continue;
      }
      if (response.status === 400 || response.status === 413) {
        // The endpoint will never take this batch: keep it, count it, move on.
        await appendDeadLetter(
          options.storeDir,
          `${JSON.stringify({
            at: new Date().toISOString(),
            endpoint: options.endpoint,
            reason,
            fromSeq: from,
            toSeq: lastSeq,
            spans,
            request: JSON.parse(body) as unknown,
          })}\n`,
        );
        cursor.nextSeq = lastSeq + 1;
        cursor.lastError = reason;
        cursor.lastErrorAt = new Date().toISOString();
        unsaved.deadLetterBatches++;
        unsaved.deadLetterSpans += spans;
        totals.deadLetterBatches++;
        totals.deadLetterSpans += spans;
        await persist();
        continue;
      }
      failure = {
        reason,
        ...(RETRYABLE.has(response.status) || response.status >= 500
          ? { retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) }
          : {}),
      };
    } catch (error) {
      failure = { reason: `request to ${options.endpoint} failed: ${errorMessage(error)}` };
    }

    failures++;
    cursor.lastError = failure.reason;
    cursor.lastErrorAt = new Date().toISOString();
    // One write per outage, not per retry.
    if (failures === 1) await persist().catch(() => undefined);
    if (!options.drain) return result(false, failure.reason);
    const exp = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(30, failures - 1));
    let delay = Math.round(exp / 2 + Math.random() * (exp / 2));
    if (failure.retryAfterMs !== undefined) {
      delay = Math.max(delay, Math.min(failure.retryAfterMs, maxRetryAfterMs));
    }
    const left = deadline - Date.now();
    if (left <= 0) return result(false, failure.reason);
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
  }
}
