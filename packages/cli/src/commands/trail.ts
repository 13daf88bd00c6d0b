import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_NO_SUCH_RUN, EXIT_USAGE } from '../cli-error.js';
import { formatDuration, formatTable, shortHash } from '../format-table.js';
import type { GlobalOptions } from '../global-options.js';
import { fetchJaegerTrail } from '../jaeger-trail.js';
import { loadRunFromStore } from '../load-run.js';
import { parseDurationMs } from '../parse-time.js';
import { orderTimeline, type TrailSpan } from '../trail-span.js';

interface TrailOptions {
  jaeger?: string;
  lookback: string;
}

/** `trail --json` output. */
export interface TrailOutput {
  run_id: string;
  source: 'store' | 'jaeger';
  spans: TrailSpan[];
}

function timeOfDay(iso: string | null): string {
  return iso ? iso.slice(11, 23) : '-';
}

function processLabel(span: TrailSpan): string {
  // A pre-exec intent carries no resource: the process is only known once the span ends.
  const service = span.service ?? '-';
  return span.pid === null ? service : `${service}[${span.pid}]`;
}

function statusLabel(span: TrailSpan): string {
  if (span.status === 'error') return span.error_type ? `ERROR ${span.error_type}` : 'ERROR';
  if (span.status === 'incomplete') return 'INCOMPLETE';
  return span.violation ? `${span.status} VIOLATION` : span.status;
}

const GOVERNANCE_EVENT =
  /^(policy\.|decision\.|validation\.|approval\.|side_effect\.|credential\.)/;

const str = (value: unknown): string | null =>
  value === undefined || value === null
    ? null
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);

function eventOutcome(attributes: Record<string, unknown>): string {
  return (
    str(attributes['decision.outcome']) ??
    str(attributes['approval.decision']) ??
    str(attributes['side_effect.status']) ??
    ''
  );
}

/**
 * The human timeline: a header naming the run, then one aligned row per span, with its
 * governance events (decisions, approvals, side effects) as rows beneath it.
 */
export function renderTrail(runId: string, spans: TrailSpan[], source: string): string {
  const first = spans.find((s) => s.start)?.start ?? null;
  const traces = [...new Set(spans.map((s) => s.trace_id))];
  const principals = [...new Set(spans.map((s) => s.principal).filter(Boolean))];
  const incomplete = spans.filter((s) => s.incomplete).length;
  const header =
    `workflow.run_id=${runId}  (${spans.length} spans from the ${source}` +
    `${incomplete ? `, ${incomplete} never ended` : ''})\n` +
    `date ${first ? first.slice(0, 10) : '-'} UTC · trace ${traces.join(', ')}` +
    `${principals.length ? ` · principal ${principals.join(', ')}` : ''}\n\n`;
  const rows = spans.flatMap((s) => [
    [
      timeOfDay(s.start),
      processLabel(s),
      s.agent_id ?? '-',
      s.kind === 'unspecified' ? '-' : s.kind,
      `${'  '.repeat(s.depth)}${s.name}`,
      s.tool ?? '-',
      s.decision ?? '-',
      s.credential_ref ?? '-',
      shortHash(s.input_hash),
      shortHash(s.output_hash),
      statusLabel(s),
      formatDuration(s.duration_ms),
    ],
    // Governance events (a policy decision, an approval, a side-effect receipt) happen inside
    // a span; shown under it so the order of decisions reads off the timeline.
    ...s.events
      .filter((event) => GOVERNANCE_EVENT.test(event.name))
      .map((event) => [
        timeOfDay(event.time),
        '',
        '',
        'event',
        `${'  '.repeat(s.depth + 1)}· ${event.name}`,
        '',
        eventOutcome(event.attributes),
        str(event.attributes['credential.ref']) ?? '',
        shortHash(str(event.attributes['approval.input_hash'])).replace(/^-$/, ''),
        shortHash(str(event.attributes['side_effect.result_hash'])).replace(/^-$/, ''),
        str(event.attributes['approval.approver']) ??
          str(event.attributes['side_effect.object_id']) ??
          '',
        '',
      ]),
  ]);
  return (
    header +
    formatTable(
      [
        { header: 'TIME' },
        { header: 'PROCESS' },
        { header: 'AGENT' },
        { header: 'KIND' },
        { header: 'SPAN' },
        { header: 'TOOL' },
        { header: 'DECISION' },
        { header: 'CREDENTIAL' },
        { header: 'INPUT' },
        { header: 'OUTPUT' },
        { header: 'STATUS' },
        { header: 'DURATION', align: 'right' },
      ],
      rows,
    )
  );
}

export function trailCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('trail')
    .description(
      "a run's timeline in order: process, agent, span kind, tool, decision, credential ref, hashes, status, duration",
    )
    .argument('<run-id>', 'the workflow.run_id of the run')
    .option(
      '--jaeger <url>',
      "read the run from Jaeger's query API (e.g. http://localhost:16686) instead of the store",
    )
    .option('--lookback <duration>', 'with --jaeger: how far back to search', '7d')
    .action(async (runId: string, options: TrailOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      let spans: TrailSpan[];
      let source: 'store' | 'jaeger';
      if (options.jaeger !== undefined) {
        const lookbackMs = parseDurationMs(options.lookback);
        if (lookbackMs === undefined) {
          throw new CliError(
            `invalid --lookback value "${options.lookback}": expected a duration such as 7d, 12h or 30m`,
            EXIT_USAGE,
          );
        }
        source = 'jaeger';
        spans = orderTimeline(
          await fetchJaegerTrail({ baseUrl: options.jaeger, runId, lookbackMs, now: ctx.now() }),
        );
        if (spans.length === 0) {
          throw new CliError(
            `no run with workflow.run_id=${runId} in Jaeger at ${options.jaeger} within --lookback ${options.lookback} — ` +
              'widen --lookback, or read it from the audit store (drop --jaeger)',
            EXIT_NO_SUCH_RUN,
          );
        }
      } else {
        source = 'store';
        spans = await loadRunFromStore(runId, globals, ctx);
      }
      if (globals.json) {
        const output: TrailOutput = { run_id: runId, source, spans };
        ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
      } else {
        const stores = new Set(spans.map((s) => s.store)).size;
        const label = source === 'jaeger' ? 'Jaeger' : stores > 1 ? `${stores} stores` : 'store';
        ctx.writeOut(renderTrail(runId, spans, label));
      }
    });
}
