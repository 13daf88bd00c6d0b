import type { PruneResult } from './types.js';

/**
 * `pruneEveryMs`: run the writer's prune on an unref'd timer. A run never overlaps the previous
 * one and never throws: each run that removed something is a `PRUNED` notice, each failure a
 * `PRUNE_FAILED` notice, and the next tick tries again.
 */
export class PruneSchedule {
  readonly #timer: NodeJS.Timeout;
  #running = false;

  constructor(
    everyMs: number,
    dir: string,
    prune: () => Promise<PruneResult>,
    notice: (code: string, message: string) => void,
  ) {
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = true;
      prune()
        .then((result) => {
          if (result.segments.length > 0) {
            notice(
              'PRUNED',
              `pruned segment(s) ${result.segments.join(', ')} of ${dir} (seq ${result.firstSeq}–${result.lastSeq}); signed prune record at seq ${result.seq}`,
            );
          }
        })
        .catch((error: unknown) => {
          notice(
            'PRUNE_FAILED',
            `scheduled prune of ${dir} failed, tried again in ${everyMs} ms: ${(error as Error).message}`,
          );
        })
        .finally(() => {
          this.#running = false;
        });
    }, everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
