import { archiveClient, archiveRunRecords, parseArchiveUrl } from '@agent-audit/archive';
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_IO, EXIT_NO_SUCH_RUN, EXIT_USAGE } from './cli-error.js';
import type { GlobalOptions } from './global-options.js';
import { loadRun, type RunSourceOptions } from './load-run.js';
import { runTimeline } from './run-timeline.js';
import { escapeValue } from './terminal-text.js';
import type { TrailSpan } from './trail-span.js';

/** Adds `--archive <s3-url>` to `trail` and `explain`. */
export function addArchiveOption(command: Command): Command {
  return command.option(
    '--archive <s3-url>',
    "read the run from the fleet archive at s3://bucket/prefix: every host's archived segments, after the hosts are gone (instead of the store)",
  );
}

/**
 * A run's ordered timeline from the archive (`trail` / `explain --archive`): the run index
 * says which archived segments of which stores hold its records; the spans of every host are
 * put together as for several local stores, so a sub-agent's spans on another host sit under
 * the call that started them. Exit 4 when the archive's index has no such run.
 */
export async function loadRunFromArchive(
  runId: string,
  url: string,
  ctx: CliContext,
): Promise<TrailSpan[]> {
  let location: ReturnType<typeof parseArchiveUrl>;
  try {
    location = parseArchiveUrl(url);
  } catch (error) {
    throw new CliError((error as Error).message, EXIT_USAGE);
  }
  let read: Awaited<ReturnType<typeof archiveRunRecords>>;
  try {
    read = await archiveRunRecords({ client: archiveClient(ctx.env), location, runId });
  } catch (error) {
    throw new CliError(
      `cannot read the archive ${location.url}: ${(error as Error).message}`,
      EXIT_IO,
    );
  }
  for (const warning of read.warnings) ctx.writeErr(`warning: ${escapeValue(warning)}\n`);
  const spans = runTimeline(read.records);
  if (spans.length === 0) {
    throw new CliError(
      `no run with workflow.run_id=${escapeValue(runId)} in the archive ${location.url} — list runs with "agent-audit runs --archive ${location.url}"` +
        " (records not yet sealed and pushed are only in the host's store)",
      EXIT_NO_SUCH_RUN,
    );
  }
  return spans;
}

/** From the archive when `--archive` is given, else as `loadRun` (Jaeger or the stores). */
export function loadRunFromSource(
  runId: string,
  options: RunSourceOptions & { archive?: string },
  globals: GlobalOptions,
  ctx: CliContext,
): Promise<TrailSpan[]> {
  if (options.archive === undefined) return loadRun(runId, options, globals, ctx);
  if (options.jaeger !== undefined) {
    throw new CliError(
      '--archive and --jaeger cannot be used together: read the run from one of them',
      EXIT_USAGE,
    );
  }
  return loadRunFromArchive(runId, options.archive, ctx);
}
