import type { CliContext } from './cli-context.js';
import { CliError, EXIT_NO_SUCH_RUN, EXIT_USAGE } from './cli-error.js';
import { existingStores, type GlobalOptions } from './global-options.js';
import { fetchJaegerTrail } from './jaeger-trail.js';
import { parseDurationMs } from './parse-time.js';
import { runTimeline } from './run-timeline.js';
import { storeFailure, withStoreReaders } from './store-access.js';
import { orderTimeline, type TrailSpan } from './trail-span.js';

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

/** A run's ordered timeline from Jaeger's query API; exit 4 when Jaeger has no such run. */
export async function loadRunFromJaeger(
  runId: string,
  jaegerUrl: string,
  lookback: string,
  ctx: CliContext,
): Promise<TrailSpan[]> {
  const lookbackMs = parseDurationMs(lookback);
  if (lookbackMs === undefined) {
    throw new CliError(
      `invalid --lookback value "${lookback}": expected a duration such as 7d, 12h or 30m`,
      EXIT_USAGE,
    );
  }
  const spans = orderTimeline(
    await fetchJaegerTrail({ baseUrl: jaegerUrl, runId, lookbackMs, now: ctx.now() }),
  );
  if (spans.length === 0) {
    throw new CliError(
      `no run with workflow.run_id=${runId} in Jaeger at ${jaegerUrl} within --lookback ${lookback} — ` +
        'widen --lookback, or read it from the audit store (drop --jaeger)',
      EXIT_NO_SUCH_RUN,
    );
  }
  return spans;
}

/** The `--jaeger` / `--lookback` options of the reading commands. */
export interface RunSourceOptions {
  jaeger?: string;
  lookback: string;
}

/** From Jaeger when `--jaeger` is given, else from the store(s). */
export function loadRun(
  runId: string,
  options: RunSourceOptions,
  globals: GlobalOptions,
  ctx: CliContext,
): Promise<TrailSpan[]> {
  return options.jaeger !== undefined
    ? loadRunFromJaeger(runId, options.jaeger, options.lookback, ctx)
    : loadRunFromStore(runId, globals, ctx);
}
