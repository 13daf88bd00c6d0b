import { parentPort, workerData } from 'node:worker_threads';
import { openStoreReader, type StoreReader } from '@agent-audit/store/query';
import type { IndexWorkerData, WorkerAnswer, WorkerQuery } from './index-client.js';

/**
 * The console's query worker: a thread that owns each store's query reader. It builds or
 * catches up each store's index and checks it against the segments (minutes on a first start
 * over a million spans), then answers the console's run queries, all off the thread that
 * serves HTTP, so the console answers at once while a large store is indexed.
 */
const { stores } = workerData as IndexWorkerData;
const port = parentPort!;
const post = (message: WorkerAnswer) => port.postMessage(message);

const readers: StoreReader[] = stores.map((s, store) =>
  openStoreReader(s.path, {
    indexPath: s.indexPath,
    onWarning: (warning) => post({ type: 'warning', store, warning }),
  }),
);

function errorOf(error: unknown): { name: string; code: string | null; message: string } {
  const e = error as { name?: string; code?: unknown; message?: string };
  return {
    name: e?.name ?? 'Error',
    code: typeof e?.code === 'string' ? e.code : null,
    message: e?.message ?? String(error),
  };
}

/**
 * A reader's first query scans the segments and holds the index's answer against it; its
 * second checks the whole index (store-reader.ts): both now, so searches answer from a checked
 * index afterwards. One store at a time, yielding between them so queries on ready stores run.
 */
function warm(store: number): void {
  if (store >= readers.length) return;
  const reader = readers[store]!;
  try {
    post({ type: 'status', store, phase: 'building' });
    reader.listRuns({ principal: '\u0000warm-up' });
    post({ type: 'status', store, phase: 'checking' });
    reader.listRuns({ principal: '\u0000warm-up' });
    post({ type: 'status', store, phase: 'ready' });
  } catch (error) {
    post({ type: 'status', store, phase: 'failed', error: errorOf(error) });
  }
  setImmediate(() => warm(store + 1));
}

port.on('message', (query: WorkerQuery) => {
  try {
    const reader = readers[query.store]!;
    let result: unknown;
    if (query.method === 'listRuns') result = reader.listRuns(query.filter);
    else if (query.method === 'recentRuns') result = reader.recentRuns(query.offset, query.limit);
    else result = reader.runRecords(query.runId);
    post({ type: 'answer', id: query.id, result });
  } catch (error) {
    post({ type: 'answer', id: query.id, error: errorOf(error) });
  }
});

warm(0);
