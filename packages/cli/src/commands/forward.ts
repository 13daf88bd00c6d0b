import {
  DEFAULT_OTLP_TRACES_ENDPOINT,
  forwardPending,
  readForwarderCursor,
} from '@agent-audit/forwarder';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_USAGE } from '../cli-error.js';
import { existingStores, type GlobalOptions } from '../global-options.js';
import { parseDurationMs } from '../parse-time.js';
import { withStoreReader } from '../store-access.js';
import { escapeValue } from '../terminal-text.js';

interface ForwardOptions {
  drain?: boolean;
  endpoint?: string;
  timeout: string;
}

/** Exit code when not everything stored could be delivered (the reason is printed). */
export const EXIT_NOT_DELIVERED = 1;

const DEFAULT_ENDPOINT = DEFAULT_OTLP_TRACES_ENDPOINT;

/** One store's outcome, as `--json` prints it: counts are for this pass. */
export interface StoreForwardResult {
  ok: boolean;
  /** Why the pass stopped short (when ok is false). */
  reason?: string;
  endpoint: string;
  /** Spans acknowledged by the endpoint in this pass. */
  delivered: number;
  /** Batches (and their spans) the endpoint rejected as malformed, set aside in this pass. */
  deadLetterBatches: number;
  deadLetterSpans: number;
  requests: number;
  nextSeq: number;
  /** Records (of any type) stored after the cursor. */
  pendingRecords: number;
}

function checkEndpoint(flag: string): string {
  try {
    const url = new URL(flag);
    if (url.protocol === 'http:' || url.protocol === 'https:') return flag;
  } catch {
    // reported below
  }
  throw new CliError(
    `invalid --endpoint "${flag}": expected the OTLP/HTTP traces URL, e.g. http://localhost:4318/v1/traces`,
    EXIT_USAGE,
  );
}

/** Ships one store with the same Forwarder (cursor, batching, retries) the agents run. */
async function forwardStore(
  storeDir: string,
  endpoint: string | undefined,
  drain: boolean,
  timeoutMillis: number,
): Promise<StoreForwardResult> {
  const before = readForwarderCursor(storeDir);
  const result = await forwardPending({
    storeDir,
    drain,
    timeoutMillis,
    ...(endpoint === undefined ? {} : { endpoint }),
  });
  const out: StoreForwardResult = {
    ok: result.ok,
    endpoint: result.status.endpoint,
    delivered: result.status.delivered - before.delivered,
    deadLetterBatches: result.status.deadLetterBatches - before.deadLetterBatches,
    deadLetterSpans: result.status.deadLetterSpans - before.deadLetterSpans,
    requests: result.requests,
    nextSeq: result.nextSeq,
    pendingRecords: result.status.pendingRecords ?? 0,
  };
  if (result.reason !== undefined) out.reason = result.reason;
  return out;
}

function render(r: StoreForwardResult, shown: string): string {
  // The endpoint and the reason (which may quote the collector's answer) are shown escaped.
  const storeShown = escapeValue(shown);
  const lines = [
    `${r.ok ? 'forwarded' : 'NOT fully forwarded'}: ${r.delivered} span(s) from ${storeShown} to ${escapeValue(r.endpoint)} in ${r.requests} request(s)`,
    `  cursor at seq ${r.nextSeq}; ${r.pendingRecords} record(s) pending`,
  ];
  if (r.deadLetterBatches > 0) {
    lines.push(
      `  ${r.deadLetterSpans} span(s) in ${r.deadLetterBatches} batch(es) rejected as malformed: kept in forwarder/dead-letter.jsonl`,
    );
  }
  if (!r.ok) lines.push(`  reason: ${escapeValue(r.reason ?? 'unknown')}`);
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
      const endpoint = options.endpoint === undefined ? undefined : checkEndpoint(options.endpoint);
      const results: StoreForwardResult[] = [];
      // Each process keeps its own store (and cursor): forward them one after the other.
      for (const location of existingStores(globals, ctx)) {
        // withStoreReader turns a corrupt cursor, an unwritable forwarder/ directory or a
        // damaged record into an exit-3 error naming the store.
        const result = await withStoreReader(location, () =>
          forwardStore(location.path, endpoint, options.drain === true, timeoutMs),
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
