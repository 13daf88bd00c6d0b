import { type Command, Option } from 'commander';
import type { CliContext } from './cli-context.js';
import { CliError, EXIT_NO_SUCH_RUN, EXIT_USAGE } from './cli-error.js';
import { existingStores, type GlobalOptions } from './global-options.js';
import {
  DEFAULT_JAEGER_MAX_BYTES,
  DEFAULT_JAEGER_TIMEOUT_MS,
  fetchJaegerTrail,
} from './jaeger-trail.js';
import { parseDurationMs } from './parse-time.js';
import { runTimeline } from './run-timeline.js';
import { storeFailure, withStoreReaders } from './store-access.js';
import { escapeValue } from './terminal-text.js';
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
    const where = locations.map((l) => escapeValue(l.shown)).join(', ');
    throw new CliError(
      `no run with workflow.run_id=${escapeValue(runId)} in the audit store${locations.length > 1 ? 's' : ''} at ${where} — list runs with "agent-audit runs"` +
        ' (a run whose processes kept separate stores needs every --store)',
      EXIT_NO_SUCH_RUN,
    );
  }
  return spans;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/** `67108864`, `64MiB`, `100MB`, `512KiB` → bytes; undefined when it is none of these. */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'none'];
  if (!match || unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return bytes >= 1 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A run's ordered timeline from Jaeger's query API; exit 4 when Jaeger has no such run. */
export async function loadRunFromJaeger(
  runId: string,
  options: RunSourceOptions & { jaeger: string },
  ctx: CliContext,
): Promise<TrailSpan[]> {
  const { jaeger: jaegerUrl, lookback } = options;
  const lookbackMs = parseDurationMs(lookback);
  if (lookbackMs === undefined) {
    throw new CliError(
      `invalid --lookback value "${escapeValue(lookback)}": expected a duration such as 7d, 12h or 30m`,
      EXIT_USAGE,
    );
  }
  const timeoutMs =
    options.jaegerTimeout === undefined
      ? DEFAULT_JAEGER_TIMEOUT_MS
      : parseDurationMs(options.jaegerTimeout);
  if (timeoutMs === undefined || timeoutMs <= 0) {
    throw new CliError(
      `invalid --jaeger-timeout value "${escapeValue(options.jaegerTimeout ?? '')}": expected a duration such as 10s or 2m`,
      EXIT_USAGE,
    );
  }
  const maxBytes =
    options.jaegerMaxBytes === undefined
      ? DEFAULT_JAEGER_MAX_BYTES
      : parseByteSize(options.jaegerMaxBytes);
  if (maxBytes === undefined) {
    throw new CliError(
      `invalid --jaeger-max-bytes value "${escapeValue(options.jaegerMaxBytes ?? '')}": expected a size such as 64MiB, 200MB or 1048576`,
      EXIT_USAGE,
    );
  }
  const spans = orderTimeline(
    await fetchJaegerTrail({
      baseUrl: jaegerUrl,
      runId,
      lookbackMs,
      now: ctx.now(),
      timeoutMs,
      maxBytes,
    }),
  );
  if (spans.length === 0) {
    throw new CliError(
      `no run with workflow.run_id=${escapeValue(runId)} in Jaeger at ${escapeValue(jaegerUrl)} within --lookback ${escapeValue(lookback)} — ` +
        'widen --lookback, or read it from the audit store (drop --jaeger)',
      EXIT_NO_SUCH_RUN,
    );
  }
  return spans;
}

/** The `--jaeger` options of the reading commands. */
export interface RunSourceOptions {
  jaeger?: string;
  lookback: string;
  jaegerTimeout?: string;
  jaegerMaxBytes?: string;
}

/** Adds `--jaeger`, `--lookback`, `--jaeger-timeout` and `--jaeger-max-bytes` to a reading command. */
export function addJaegerOptions(command: Command): Command {
  return command
    .option(
      '--jaeger <url>',
      "read the run from Jaeger's query API (e.g. http://localhost:16686) instead of the store",
    )
    .option('--lookback <duration>', 'with --jaeger: how far back to search', '7d')
    .addOption(
      new Option(
        '--jaeger-timeout <duration>',
        'with --jaeger: time allowed for each request to Jaeger, connect, headers and body together (default: 10s)',
      ),
    )
    .addOption(
      new Option(
        '--jaeger-max-bytes <size>',
        'with --jaeger: the most read of any one answer; a larger answer is refused (default: 64MiB)',
      ),
    );
}

/** From Jaeger when `--jaeger` is given, else from the store(s). */
export function loadRun(
  runId: string,
  options: RunSourceOptions,
  globals: GlobalOptions,
  ctx: CliContext,
): Promise<TrailSpan[]> {
  return options.jaeger !== undefined
    ? loadRunFromJaeger(runId, { ...options, jaeger: options.jaeger }, ctx)
    : loadRunFromStore(runId, globals, ctx);
}
