import type { KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { StoreError } from './errors.js';
import { buildLoss } from './session-records.js';

interface Episode {
  reason: string;
  count: number;
  firstTime: string;
  lastTime: string;
  runs: Map<string, number>;
  message: string;
}

/**
 * Nothing lost silently: entries whose append failed while the store kept running (disk
 * full, I/O error on write) are counted per run and time range. The first failure of an
 * episode raises one `process.emitWarning` (with the counts of that first burst) and a notice;
 * once a write succeeds again, the writer puts a signed `loss` record before it.
 */
export class LossTracker {
  readonly #dir: string;
  readonly #notice: (code: string, message: string) => void;
  #episode: Episode | undefined;

  constructor(dir: string, notice: (code: string, message: string) => void) {
    this.#dir = dir;
    this.#notice = notice;
  }

  /** True while a loss waits to be recorded. */
  get pending(): boolean {
    return this.#episode !== undefined;
  }

  rejected(entries: ReadonlyArray<{ time: string; run?: string }>, error: StoreError): void {
    if (entries.length === 0) return;
    let e = this.#episode;
    const starts = e === undefined;
    if (!e) {
      e = {
        reason: error.code,
        count: 0,
        firstTime: entries[0]!.time,
        lastTime: entries[0]!.time,
        runs: new Map(),
        message: error.message,
      };
      this.#episode = e;
    }
    for (const entry of entries) {
      e.count += 1;
      if (entry.time < e.firstTime) e.firstTime = entry.time;
      if (entry.time > e.lastTime) e.lastTime = entry.time;
      const run = entry.run ?? '';
      e.runs.set(run, (e.runs.get(run) ?? 0) + 1);
    }
    if (!starts) return;
    // Collapsed: the rest of this turn's failures are counted into the one warning.
    const episode = e;
    setImmediate(() => {
      const text = `audit store ${this.#dir}: ${episode.count} audit record(s) of ${episode.runs.size} run(s) could not be written (${episode.reason}); further failures are counted, not warned about, until a write succeeds, and a signed loss record is then written. ${episode.message}`;
      this.#notice('RECORDS_REJECTED', text);
      try {
        process.emitWarning(text, { type: 'AgentAuditWarning', code: 'AGENT_AUDIT_RECORDS_LOST' });
      } catch {
        // A warning sink must not break the writer.
      }
    });
  }

  /** The signed `loss` payload for the pending episode (canonical JSON). */
  payload(origin: string, keyId: string, time: string, privateKey: KeyObject): string {
    const e = this.#episode!;
    return canonicalJson(
      buildLoss(
        {
          origin,
          keyId,
          time,
          reason: e.reason,
          count: e.count,
          firstTime: e.firstTime,
          lastTime: e.lastTime,
          runs: [...e.runs].map(([run, count]) => ({ run, count })),
        },
        privateKey,
      ),
    );
  }

  /** The loss record reached the file at `seq`: the episode is over. */
  written(seq: number): void {
    const e = this.#episode;
    if (!e) return;
    this.#episode = undefined;
    this.#notice(
      'RECORDS_LOST',
      `audit store ${this.#dir}: writing works again; ${e.count} audit record(s) rejected between ${e.firstTime} and ${e.lastTime} (${e.reason}) are recorded in the signed loss record at seq ${seq}`,
    );
  }
}
