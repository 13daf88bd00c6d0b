import { statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type RunFilter, type RunSummary, StoreError } from '@agent-audit/store';
import type { IndexWarning } from '@agent-audit/store/query';
import type { RunExplanation } from '../run-explanation.js';
import type { TrailSpan } from '../trail-span.js';

/** What the query worker is started with: each store and where its index lives. */
export interface IndexWorkerData {
  stores: Array<{ path: string; indexPath: string }>;
}

type QueryBody =
  | { method: 'listRuns'; filter: RunFilter }
  | { method: 'recentRuns'; offset: number; limit: number }
  | { method: 'runView'; runId: string; shown: string[] }
  | { method: 'credentialRuns'; ref: string }
  | { method: 'claimedPrincipals'; runIds: string[] };

/**
 * A run read from every store in one pass (index-worker.ts): its timeline, six answers, where
 * its records lie in each store, and the waterfall's JSON body (plain and gzipped).
 */
export interface RunView {
  spans: TrailSpan[];
  explanation: RunExplanation | null;
  held: Array<{ store: number; count: number; first: number; last: number }>;
  timeline: { text: ArrayBuffer; gzip: ArrayBuffer } | null;
}

export type WorkerQuery = QueryBody & { id: number; store: number | 'all' };

type WorkerError = { name: string; code: string | null; message: string };

export type WorkerAnswer =
  | { type: 'status'; store: number; phase: IndexPhase; error?: WorkerError }
  | { type: 'warning'; store: number; warning: IndexWarning }
  | {
      type: 'progress';
      store: number;
      segmentsDone: number;
      segmentsTotal: number;
      records: number;
    }
  | { type: 'answer'; id: number; result?: unknown; error?: WorkerError };

/** building: the index is built or caught up · checking: checked against the segments · ready · failed */
export type IndexPhase = 'waiting' | 'building' | 'checking' | 'ready' | 'failed';

/** One store's index as `GET /api/status` shows it. */
export interface StoreIndexStatus {
  store: string;
  phase: IndexPhase;
  segments: number | null;
  segment_bytes: number | null;
  /** Bytes of the index file and its write-ahead log so far (grows while it is built). */
  index_bytes: number | null;
  /**
   * While the index is built or caught up: segments looked at so far of the store's total, and
   * records indexed so far (null before the build starts, or when nothing needed indexing).
   */
  segments_indexed: number | null;
  segments_to_index: number | null;
  records_indexed: number | null;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

export interface IndexStatus {
  /** True once every store's index is ready (or failed: its queries then answer the failure). */
  ready: boolean;
  stores_ready: number;
  stores: StoreIndexStatus[];
  message: string;
}

/** A query that needs a store's index before it is ready: the HTTP side answers 503 with the status. */
export class IndexNotReadyError extends Error {
  constructor(readonly status: IndexStatus) {
    super(status.message);
    this.name = 'IndexNotReadyError';
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * The console's side of the query worker (index-worker.ts): starts it, keeps each store's index
 * status, and sends it the run queries (answers are promises: the HTTP thread never waits on
 * SQLite or a segment scan). Until a store's index is ready, its queries throw
 * `IndexNotReadyError` rather than queue behind minutes of indexing.
 */
export class IndexClient {
  readonly #worker: Worker;
  readonly #stores: Array<{ shown: string; path: string; indexPath: string }>;
  readonly #status: StoreIndexStatus[];
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #next = 1;
  #exited: Error | undefined;

  constructor(
    stores: Array<{ shown: string; path: string; indexPath: string }>,
    onWarning: (warning: IndexWarning) => void,
  ) {
    this.#stores = stores;
    this.#status = stores.map((s) => ({
      store: s.shown,
      phase: 'waiting',
      segments: null,
      segment_bytes: null,
      index_bytes: null,
      segments_indexed: null,
      segments_to_index: null,
      records_indexed: null,
      started_at: null,
      finished_at: null,
      error: null,
    }));
    const data: IndexWorkerData = {
      stores: stores.map((s) => ({ path: s.path, indexPath: s.indexPath })),
    };
    this.#worker = new Worker(new URL('./index-worker.js', import.meta.url), { workerData: data });
    this.#worker.on('message', (m: WorkerAnswer) => this.#receive(m, onWarning));
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the query worker exited (${code})`)));
    void this.#measureSegments();
  }

  async #measureSegments(): Promise<void> {
    await Promise.all(
      this.#stores.map(async (s, i) => {
        try {
          const dir = join(s.path, 'segments');
          const files = await readdir(dir);
          let bytes = 0;
          for (const f of files) bytes += (await stat(join(dir, f))).size;
          this.#status[i]!.segments = files.length;
          this.#status[i]!.segment_bytes = bytes;
        } catch {
          // a store without segments yet: nothing to index
        }
      }),
    );
  }

  #fail(error: Error): void {
    this.#exited ??= error;
    for (const s of this.#status) {
      if (s.phase !== 'ready') {
        s.phase = 'failed';
        s.error ??= error.message;
      }
    }
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  #receive(m: WorkerAnswer, onWarning: (warning: IndexWarning) => void): void {
    if (m.type === 'warning') {
      onWarning(m.warning);
    } else if (m.type === 'progress') {
      const s = this.#status[m.store]!;
      s.segments_indexed = m.segmentsDone;
      s.segments_to_index = m.segmentsTotal;
      s.records_indexed = m.records;
    } else if (m.type === 'status') {
      const s = this.#status[m.store]!;
      s.phase = m.phase;
      const now = new Date().toISOString();
      if (m.phase === 'building') s.started_at = now;
      if (m.phase === 'ready' || m.phase === 'failed') s.finished_at = now;
      if (m.error) s.error = `${m.error.message}${m.error.code ? ` [${m.error.code}]` : ''}`;
    } else {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.error) {
        p.reject(
          m.error.name === 'StoreError'
            ? new StoreError(m.error.code ?? 'STORE_ERROR', m.error.message)
            : new Error(m.error.message),
        );
      } else {
        p.resolve(m.result);
      }
    }
  }

  status(): IndexStatus {
    const stores = this.#status.map((s, i) => ({
      ...s,
      index_bytes:
        fileSize(this.#stores[i]!.indexPath) + fileSize(`${this.#stores[i]!.indexPath}-wal`),
    }));
    const ready = stores.filter((s) => s.phase === 'ready').length;
    const busy = stores.findIndex((s) => s.phase !== 'ready' && s.phase !== 'failed');
    const failed = stores.filter((s) => s.phase === 'failed');
    let message: string;
    if (busy >= 0) {
      const s = stores[busy]!;
      const size =
        s.segments === null
          ? ''
          : ` (${s.segments} segment(s), ${(s.segment_bytes! / 1e6).toFixed(0)} MB)`;
      const doing =
        s.phase === 'checking'
          ? 'checking its query index against the segments'
          : s.segments_indexed === null
            ? `indexing: ${(s.index_bytes / 1e6).toFixed(0)} MB of index written so far`
            : s.segments_indexed < s.segments_to_index!
              ? `indexing ${s.segments_indexed} of ${s.segments_to_index} segments (${s.records_indexed!.toLocaleString('en-US')} records, ${(s.index_bytes / 1e6).toFixed(0)} MB of index written so far)`
              : // Built; the reader's first query then holds the index against a scan of the segments.
                `indexed ${s.segments_indexed} of ${s.segments_to_index} segments (${s.records_indexed!.toLocaleString('en-US')} records); reading the segments once to hold the index against them`;
      message = `store ${busy + 1} of ${stores.length}, ${s.store}${size}: ${doing}. Searches and run pages answer once every store is indexed; the dashboards already read the stores.`;
    } else if (failed.length > 0) {
      message = `the query index of ${failed.map((s) => `${s.store} failed: ${s.error}`).join('; ')}`;
    } else {
      message = `the query index of every store (${stores.length}) is ready`;
    }
    const settled = stores.every((s) => s.phase === 'ready' || s.phase === 'failed');
    return { ready: settled, stores_ready: ready, stores, message };
  }

  #ask<T>(store: number | 'all', query: QueryBody): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    for (const s of store === 'all' ? this.#status : [this.#status[store]!]) {
      if (s.phase === 'failed') {
        return Promise.reject(
          new Error(`the query index of ${s.store} could not be built: ${s.error}`),
        );
      }
      if (s.phase !== 'ready') return Promise.reject(new IndexNotReadyError(this.status()));
    }
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ ...query, id, store });
    });
  }

  listRuns(store: number, filter: RunFilter): Promise<RunSummary[]> {
    return this.#ask(store, { method: 'listRuns', filter });
  }

  recentRuns(
    store: number,
    offset: number,
    limit: number,
  ): Promise<{ runs: RunSummary[]; total: number }> {
    return this.#ask(store, { method: 'recentRuns', offset, limit });
  }

  /** A run from every store (each store's index must be ready), `shown` naming each store in its spans. */
  runView(runId: string, shown: string[]): Promise<RunView> {
    return this.#ask('all', { method: 'runView', runId, shown });
  }

  /** The runs whose span records issued or used the credential ref (the store's index). */
  credentialRuns(store: number, ref: string): Promise<string[]> {
    return this.#ask(store, { method: 'credentialRuns', ref });
  }

  /**
   * For runs without a principal of their own: the principal a remote caller only claimed (an
   * unsigned or untrusted run context, never adopted), by run id, as `runs` shows it.
   */
  claimedPrincipals(runIds: string[]): Promise<Record<string, string>> {
    return this.#ask('all', { method: 'claimedPrincipals', runIds });
  }

  async close(): Promise<void> {
    this.#worker.removeAllListeners('exit');
    await this.#worker.terminate();
  }
}
