import { archiveClient, archiveRuns, parseArchiveUrl } from '@agent-audit/archive';
import type { RunFilter, RunSummary } from '@agent-audit/store';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_IO, EXIT_USAGE } from './cli-error.js';

/**
 * `runs --archive`: runs across every host, from the archive's run index (see
 * docs/deployment.md, "Querying the archive"). Filters the index carries: principal, agent,
 * since, until; the others need the records themselves.
 */
export async function archiveRunRows(
  ctx: CliContext,
  url: string,
  filter: RunFilter,
  unsupported: string[],
): Promise<RunSummary[]> {
  if (unsupported.length > 0) {
    throw new CliError(
      `${unsupported.join(', ')} cannot be used with --archive: the archive's run index holds run id, principal, agent and time; filter by those`,
      EXIT_USAGE,
    );
  }
  let location: ReturnType<typeof parseArchiveUrl>;
  try {
    location = parseArchiveUrl(url);
  } catch (error) {
    throw new CliError((error as Error).message, EXIT_USAGE);
  }
  try {
    const { runs } = await archiveRuns({
      client: archiveClient(ctx.env),
      location,
      filter,
      now: () => ctx.now(),
    });
    return runs;
  } catch (error) {
    throw new CliError(
      `cannot read the archive ${location.url}: ${(error as Error).message}`,
      EXIT_IO,
    );
  }
}
