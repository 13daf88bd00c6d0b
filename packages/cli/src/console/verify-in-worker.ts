import { Worker } from 'node:worker_threads';
import type { VerifyOptions, VerifyReport } from '@agent-audit/store';

/** `verifyStore` in a worker thread (verify-worker.ts), so a long segment never holds up a request. */
export function verifyInWorker(
  running: Set<Worker>,
  options: VerifyOptions,
): Promise<VerifyReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url), {
      workerData: options,
    });
    running.add(worker);
    worker.once('exit', () => running.delete(worker));
    let settled = false;
    worker.once('message', (m: { report?: VerifyReport; error?: string }) => {
      settled = true;
      if (m.report) resolve(m.report);
      else reject(new Error(m.error ?? 'verify failed'));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the verify worker exited (${code})`));
    });
  });
}
