import { mergeRunStatus, type RunSummary } from '@agent-audit/store';
import type { ConsoleRun } from './console-data.js';

/** One row per run across stores (a run whose processes kept separate stores is one run). */
export function mergeRuns(perStore: Array<{ store: string; runs: RunSummary[] }>): ConsoleRun[] {
  const merged = new Map<string, ConsoleRun>();
  for (const { store, runs } of perStore) {
    for (const run of runs) {
      const seen = merged.get(run.run_id);
      if (!seen) {
        merged.set(run.run_id, { ...run, stores: [store] });
        continue;
      }
      seen.stores.push(store);
      if (run.start < seen.start) seen.start = run.start;
      if (run.end > seen.end) seen.end = run.end;
      seen.principal ??= run.principal;
      seen.agent_id ??= run.agent_id;
      seen.spans += run.spans;
      seen.incomplete ||= run.incomplete;
      seen.status = mergeRunStatus(seen.status, run.status) as RunSummary['status'];
      if (run.lost_records) seen.lost_records = (seen.lost_records ?? 0) + run.lost_records;
    }
  }
  return [...merged.values()].sort((x, y) => (x.start < y.start ? 1 : x.start > y.start ? -1 : 0));
}
