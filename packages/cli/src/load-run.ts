import type { CliContext } from './cli-context.js';
import { CliError, EXIT_NO_SUCH_RUN } from './cli-error.js';
import { existingStore, type GlobalOptions } from './global-options.js';
import { runTimeline } from './run-timeline.js';
import { withStoreReader } from './store-access.js';
import type { TrailSpan } from './trail-span.js';

/** A run's ordered timeline from the store; exit 4 with a hint when the store has no such run. */
export async function loadRunFromStore(
  runId: string,
  globals: GlobalOptions,
  ctx: CliContext,
): Promise<TrailSpan[]> {
  const location = existingStore(globals, ctx);
  const spans = await withStoreReader(location, async (reader) =>
    runTimeline(await reader.runRecords(runId)),
  );
  if (spans.length === 0) {
    throw new CliError(
      `no run with workflow.run_id=${runId} in the audit store at ${location.shown} — list runs with "agent-audit runs"`,
      EXIT_NO_SUCH_RUN,
    );
  }
  return spans;
}
