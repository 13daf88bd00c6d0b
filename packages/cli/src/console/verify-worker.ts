import { parentPort, workerData } from 'node:worker_threads';
import { type VerifyOptions, verifyStore } from '@agent-audit/store';

/**
 * One store's verify, in its own thread: verify yields only between segments, and a segment of
 * a large store takes long enough to hold up the console's requests on the thread serving HTTP.
 * Posts `{ report }` or `{ error }`.
 */
const options = workerData as VerifyOptions;
verifyStore(options).then(
  (report) => parentPort!.postMessage({ report }),
  (error: unknown) =>
    parentPort!.postMessage({ error: (error as Error)?.message ?? String(error) }),
);
