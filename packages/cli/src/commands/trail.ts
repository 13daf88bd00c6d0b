import {
  ATTR_APPROVAL_APPROVER,
  ATTR_APPROVAL_DECISION,
  ATTR_APPROVAL_INPUT_HASH,
  ATTR_CREDENTIAL_REF,
  ATTR_DECISION_OUTCOME,
  ATTR_SIDE_EFFECT_OBJECT_ID,
  ATTR_SIDE_EFFECT_RESULT_HASH,
  ATTR_SIDE_EFFECT_STATUS,
} from '@agent-audit/instrumentation/attributes';
import { Command } from 'commander';
import { addArchiveOption, loadRunFromSource } from '../archive-run.js';
import type { CliContext } from '../cli-context.js';
import { formatDuration, formatTable, type Layout, layoutFor, shortHash } from '../format-table.js';
import type { GlobalOptions } from '../global-options.js';
import { addJaegerOptions, type RunSourceOptions } from '../load-run.js';
import { escapeValue } from '../terminal-text.js';
import type { TrailSpan } from '../trail-span.js';

/** `trail --json` output. */
export interface TrailOutput {
  run_id: string;
  source: 'store' | 'jaeger' | 'archive';
  spans: TrailSpan[];
}

/** Time of day, or the full time when the run crosses midnight (UTC) and the date matters. */
function timeCell(iso: string | null, withDate: boolean): string {
  if (!iso) return '-';
  return withDate ? iso.replace('T', ' ').slice(0, 23) : iso.slice(11, 23);
}

function processLabel(span: TrailSpan): string {
  // A pre-exec intent carries no resource: the process is only known once the span ends.
  const service = span.service ?? '-';
  return span.pid === null ? service : `${service}[${span.pid}]`;
}

function statusLabel(span: TrailSpan): string {
  if (span.status === 'error') return span.error_type ? `ERROR ${span.error_type}` : 'ERROR';
  if (span.status === 'incomplete') return 'INCOMPLETE';
  // OpenTelemetry's "unset" means nothing went wrong that the code reported: ok to a reader.
  const status = span.status === 'unset' ? 'ok' : span.status;
  return span.violation ? `${status} VIOLATION` : status;
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
    str(attributes[ATTR_DECISION_OUTCOME]) ??
    str(attributes[ATTR_APPROVAL_DECISION]) ??
    str(attributes[ATTR_SIDE_EFFECT_STATUS]) ??
    ''
  );
}

/**
 * The human timeline: a header naming the run, then one aligned row per span, with its
 * governance events (decisions, approvals, side effects) as rows beneath it.
 */
export function renderTrail(
  runId: string,
  spans: TrailSpan[],
  source: string,
  layout: Layout = { width: Number.POSITIVE_INFINITY, wide: true },
): string {
  const first = spans.find((s) => s.start)?.start ?? null;
  const manyDays =
    new Set(
      spans
        .flatMap((s) => [s.start, s.end])
        .filter((t) => t !== null)
        .map((t) => t.slice(0, 10)),
    ).size > 1;
  const traces = [...new Set(spans.map((s) => s.trace_id))];
  const principals = [...new Set(spans.map((s) => s.principal).filter(Boolean))];
  const incomplete = spans.filter((s) => s.incomplete).length;
  const header =
    `workflow.run_id=${escapeValue(runId)}  (${spans.length} spans from the ${source}` +
    `${incomplete ? `, ${incomplete} never ended` : ''})\n` +
    `date ${first ? escapeValue(first.slice(0, 10)) : '-'} UTC · trace ${traces.map(escapeValue).join(', ')}` +
    `${principals.length ? ` · principal ${principals.map((p) => escapeValue(p ?? '')).join(', ')}` : ''}\n\n`;
  const rows = spans.flatMap((s) => [
    [
      timeCell(s.start, manyDays),
      processLabel(s),
      s.agent_id ?? '-',
      s.kind === 'unspecified' ? '-' : s.kind,
      `${'  '.repeat(s.depth)}${s.name}`,
      s.tool ?? '-',
      s.decision ?? '-',
      s.credential_ref ?? '-',
      shortHash(s.input_hash, layout),
      shortHash(s.output_hash, layout),
      statusLabel(s),
      formatDuration(s.duration_ms),
    ],
    // Governance events (a policy decision, an approval, a side-effect receipt) happen inside
    // a span; shown under it so the order of decisions reads off the timeline.
    ...s.events
      .filter((event) => GOVERNANCE_EVENT.test(event.name))
      .map((event) => [
        timeCell(event.time, manyDays),
        '',
        '',
        'event',
        `${'  '.repeat(s.depth + 1)}· ${event.name}`,
        '',
        eventOutcome(event.attributes),
        str(event.attributes[ATTR_CREDENTIAL_REF]) ?? '',
        shortHash(str(event.attributes[ATTR_APPROVAL_INPUT_HASH]), layout).replace(/^-$/, ''),
        shortHash(str(event.attributes[ATTR_SIDE_EFFECT_RESULT_HASH]), layout).replace(/^-$/, ''),
        str(event.attributes[ATTR_APPROVAL_APPROVER]) ??
          str(event.attributes[ATTR_SIDE_EFFECT_OBJECT_ID]) ??
          '',
        '',
      ]),
  ]);
  return (
    header +
    formatTable(
      [
        { header: 'TIME' },
        { header: 'PROCESS', priority: 7, minWidth: 12 },
        { header: 'AGENT', priority: 6, minWidth: 10 },
        { header: 'KIND', priority: 8 },
        { header: 'SPAN', minWidth: 20 },
        { header: 'TOOL', priority: 4, minWidth: 10 },
        { header: 'DECISION', priority: 2 },
        { header: 'CREDENTIAL', priority: 3, minWidth: 12 },
        { header: 'INPUT', priority: 5 },
        { header: 'OUTPUT', priority: 6 },
        { header: 'STATUS', minWidth: 8 },
        { header: 'DURATION', align: 'right', priority: 4 },
      ],
      rows,
      layout.width,
    )
  );
}

export function trailCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return addArchiveOption(
    addJaegerOptions(
      new Command('trail')
        .description(
          "a run's timeline in order: process, agent, span kind, tool, decision, credential ref, hashes, status, duration",
        )
        .argument('<run-id>', 'the workflow.run_id of the run'),
    ),
  )
    .option('--wide', 'every column, full hashes, nothing cut (default: fit the terminal width)')
    .action(
      async (
        runId: string,
        options: RunSourceOptions & { wide?: boolean; archive?: string },
        command: Command,
      ) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const source =
          options.archive !== undefined
            ? 'archive'
            : options.jaeger !== undefined
              ? 'jaeger'
              : 'store';
        const spans = await loadRunFromSource(runId, options, globals, ctx);
        if (globals.json) {
          const output: TrailOutput = { run_id: runId, source, spans };
          ctx.writeOut(`${JSON.stringify(output, null, 2)}\n`);
        } else {
          const stores = new Set(spans.map((s) => s.store)).size;
          const label =
            source === 'jaeger'
              ? 'Jaeger'
              : `${source === 'archive' ? 'archive, ' : ''}${stores > 1 ? `${stores} stores` : 'store'}`;
          ctx.writeOut(renderTrail(runId, spans, label, layoutFor(ctx, options.wide)));
        }
      },
    );
}
