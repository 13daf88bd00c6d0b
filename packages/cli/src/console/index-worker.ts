import { parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL } from '@agent-audit/instrumentation/attributes';
import { openStoreReader, type StoreReader } from '@agent-audit/store/query';
import { explainRun } from '../run-explanation.js';
import { runTimeline, type SpanRecord } from '../run-timeline.js';
import type { IndexWorkerData, RunView, WorkerAnswer, WorkerQuery } from './index-client.js';
import { waterfallView } from './waterfall-rows.js';

/**
 * The console's query worker: a thread that owns each store's query reader. It builds or
 * catches up each store's index and checks it against the segments (minutes on a first start
 * over a million spans), then answers the console's run queries, all off the thread that
 * serves HTTP, so the console answers at once while a large store is indexed.
 */
const { stores } = workerData as IndexWorkerData;
const port = parentPort!;
const post = (message: WorkerAnswer) => port.postMessage(message);

/** Index progress, at most a few times a second (a segment can take well under a millisecond). */
const PROGRESS_MS = 200;
let told = 0;

const readers: StoreReader[] = stores.map((s, store) =>
  openStoreReader(s.path, {
    indexPath: s.indexPath,
    onWarning: (warning) => post({ type: 'warning', store, warning }),
    onIndexProgress: (p) => {
      const now = Date.now();
      if (p.segmentsDone > 0 && p.segmentsDone < p.segmentsTotal && now - told < PROGRESS_MS)
        return;
      told = now;
      post({ type: 'progress', store, ...p });
    },
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

/**
 * A run page's whole answer, built here in one read of each store's records: the timeline, the
 * six answers and the waterfall's JSON (plain and gzipped, handed over without a copy). Only the
 * spans cross to the HTTP thread as objects: cloning a run's raw records (about 18 MB of JSON for
 * a 5,000-span run) costs several times what building its timeline does.
 */
function runView(runId: string, shown: string[]): { view: RunView; transfer: ArrayBuffer[] } {
  const records: SpanRecord[] = [];
  const held: RunView['held'] = [];
  readers.forEach((reader, store) => {
    const mine = reader.runRecords(runId);
    if (mine.length === 0) return;
    for (const r of mine)
      records.push({ seq: r.seq, type: r.type, payload: r.payload, store: shown[store]! });
    held.push({ store, count: mine.length, first: mine[0]!.seq, last: mine[mine.length - 1]!.seq });
  });
  const spans = runTimeline(records);
  if (spans.length === 0)
    return { view: { spans, explanation: null, held, timeline: null }, transfer: [] };
  const text = Buffer.from(`${JSON.stringify(waterfallView(runId, spans))}\n`);
  const gzip = gzipSync(text, { level: 6 });
  // Own buffers (not views of Node's pool), so they can be transferred.
  const own = (b: Buffer) => new Uint8Array(b).buffer as ArrayBuffer;
  const timeline = { text: own(text), gzip: own(gzip) };
  return {
    view: { spans, explanation: explainRun(runId, spans), held, timeline },
    transfer: [timeline.text, timeline.gzip],
  };
}

/** The claimed principal of each run that has one (see IndexClient.claimedPrincipals). */
function claimedPrincipals(runIds: string[]): Record<string, string> {
  const found: Record<string, string> = {};
  for (const runId of runIds) {
    const records: SpanRecord[] = [];
    readers.forEach((reader, store) => {
      for (const r of reader.runRecords(runId))
        records.push({ seq: r.seq, type: r.type, payload: r.payload, store: String(store) });
    });
    for (const span of runTimeline(records)) {
      const claimed = span.attributes[ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL];
      if (typeof claimed === 'string') {
        found[runId] = claimed;
        break;
      }
    }
  }
  return found;
}

port.on('message', (query: WorkerQuery) => {
  try {
    if (query.method === 'claimedPrincipals') {
      post({ type: 'answer', id: query.id, result: claimedPrincipals(query.runIds) });
      return;
    }
    if (query.method === 'runView') {
      const { view, transfer } = runView(query.runId, query.shown);
      port.postMessage(
        { type: 'answer', id: query.id, result: view } satisfies WorkerAnswer,
        transfer,
      );
      return;
    }
    const reader = readers[query.store as number]!;
    let result: unknown;
    if (query.method === 'listRuns') result = reader.listRuns(query.filter);
    else if (query.method === 'credentialRuns') result = reader.credentialRuns(query.ref);
    else result = reader.recentRuns(query.offset, query.limit);
    post({ type: 'answer', id: query.id, result });
  } catch (error) {
    post({ type: 'answer', id: query.id, error: errorOf(error) });
  }
});

warm(0);
