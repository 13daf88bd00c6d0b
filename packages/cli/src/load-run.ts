import type { CliContext } from './cli-context.js';
import { CliError, EXIT_NO_SUCH_RUN } from './cli-error.js';
import { existingStores, type GlobalOptions } from './global-options.js';
import { runTimeline } from './run-timeline.js';
import { storeFailure, withStoreReaders } from './store-access.js';
import type { TrailSpan } from './trail-span.js';

/** A run's ordered timeline from the store; exit 4 with a hint when the store has no such run. */
export async function loadRunFromStore(
  runId: string,
  globals: GlobalOptions,
  ctx: CliContext,
): Promise<TrailSpan[]> {
  const locations = existingStores(globals, ctx);
  const spans = await withStoreReaders(locations, (readers) =>
    runTimeline(
      readers.flatMap(({ location, reader }) => {
        try {
          return reader.runRecords(runId).map((record) => ({ ...record, store: location.path }));
        } catch (error) {
          throw storeFailure(error, location);
        }
      }),
    ),
  );
  if (spans.length === 0) {
    const where = locations.map((l) => l.shown).join(', ');
    throw new CliError(
      `no run with workflow.run_id=${runId} in the audit store${locations.length > 1 ? 's' : ''} at ${where} — list runs with "agent-audit runs"` +
        ' (a run whose processes kept separate stores needs every --store)',
      EXIT_NO_SUCH_RUN,
    );
  }
  return spans;
}
