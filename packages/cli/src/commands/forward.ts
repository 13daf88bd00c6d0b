import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_USAGE } from '../cli-error.js';
import { existingStores, type GlobalOptions } from '../global-options.js';
import { parseDurationMs } from '../parse-time.js';
import { withStoreReader } from '../store-access.js';
import { forwardFromStore, type StoreForwardResult } from '../store-forwarder.js';

interface ForwardOptions {
  drain?: boolean;
  endpoint?: string;
  timeout: string;
}

/** Exit code when not everything stored could be delivered (the reason is printed). */
export const EXIT_NOT_DELIVERED = 1;

const DEFAULT_ENDPOINT = 'http://localhost:4318/v1/traces';

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The OTLP exporter rules: flag, else the traces variable as is, else the base + /v1/traces. */
function resolveEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined) {
    if (!isHttpUrl(flag)) {
      throw new CliError(
        `invalid --endpoint "${flag}": expected the OTLP/HTTP traces URL, e.g. http://localhost:4318/v1/traces`,
        EXIT_USAGE,
      );
    }
    return flag;
  }
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces && isHttpUrl(traces)) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base && isHttpUrl(base)) return `${base.replace(/\/+$/, '')}/v1/traces`;
  return DEFAULT_ENDPOINT;
}

/** `OTEL_EXPORTER_OTLP_HEADERS` / `OTEL_EXPORTER_OTLP_TRACES_HEADERS` (`k=v,k2=v2`, URL-encoded). */
function resolveHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of [env.OTEL_EXPORTER_OTLP_HEADERS, env.OTEL_EXPORTER_OTLP_TRACES_HEADERS]) {
    for (const pair of raw?.split(',') ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      try {
        out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(
          pair.slice(eq + 1).trim(),
        );
      } catch {
        // Skipped like the OTel exporters skip a malformed header.
      }
    }
  }
  return out;
}

function render(r: StoreForwardResult, storeShown: string): string {
  const lines = [
    `${r.ok ? 'forwarded' : 'NOT fully forwarded'}: ${r.delivered} span(s) from ${storeShown} to ${r.endpoint} in ${r.requests} request(s)`,
    `  cursor at seq ${r.nextSeq}; ${r.pendingRecords} record(s) pending`,
  ];
  if (r.deadLetterBatches > 0) {
    lines.push(
      `  ${r.deadLetterSpans} span(s) in ${r.deadLetterBatches} batch(es) rejected as malformed: kept in forwarder/dead-letter.jsonl`,
    );
  }
  if (!r.ok) lines.push(`  reason: ${r.reason}`);
  return `${lines.join('\n')}\n`;
}

export function forwardCommand(ctx: CliContext, setExitCode: (code: number) => void): Command {
  return new Command('forward')
    .description(
      "ship what is stored after the forwarder's cursor to the OTLP endpoint (Jaeger or a collector), at least once",
    )
    .option(
      '--drain',
      'retry (with backoff, honouring Retry-After) until everything stored is acknowledged; exit 1 with the reason if it cannot get there within --timeout',
    )
    .option(
      '--endpoint <url>',
      `OTLP/HTTP traces URL (default: $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces, else ${DEFAULT_ENDPOINT})`,
    )
    .option('--timeout <duration>', 'with --drain: give up after this long', '60s')
    .addHelpText(
      'after',
      '\nWith --store given more than once, each store is forwarded in turn (--json: an array, one result per store).\n' +
        "The cursor (<store>/forwarder/cursor.json) is shared with the agents' own forwarder: running both at once may send a batch twice, never lose one.\n" +
        'Exit: 0 everything stored is delivered (or dead-lettered as malformed) · 1 not delivered (reason printed) · 3 usage or I/O error',
    )
    .action(async (options: ForwardOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const timeoutMs = parseDurationMs(options.timeout);
      if (timeoutMs === undefined) {
        throw new CliError(
          `invalid --timeout value "${options.timeout}": expected a duration such as 60s, 5m or 1h`,
          EXIT_USAGE,
        );
      }
      const endpoint = resolveEndpoint(options.endpoint, ctx.env);
      const results: StoreForwardResult[] = [];
      // Each process keeps its own store (and cursor): forward them one after the other.
      for (const location of existingStores(globals, ctx)) {
        // withStoreReader turns a corrupt cursor, an unwritable forwarder/ directory or a
        // damaged record into an exit-3 error naming the store.
        const result = await withStoreReader(location, (reader) =>
          forwardFromStore({
            storeDir: location.path,
            source: reader,
            endpoint,
            headers: resolveHeaders(ctx.env),
            drain: options.drain === true,
            timeoutMs,
          }),
        );
        results.push(result);
        if (!globals.json) ctx.writeOut(render(result, location.shown));
      }
      if (globals.json) {
        const output = results.length === 1 ? results[0] : results;
        ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
      }
      if (results.some((r) => !r.ok)) setExitCode(EXIT_NOT_DELIVERED);
    });
}
