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
import type { CliContext } from '../cli-context.js';
import { formatDuration, formatTable, shortHash } from '../format-table.js';
import type { GlobalOptions } from '../global-options.js';
import { loadRun, type RunSourceOptions } from '../load-run.js';
import type { TrailSpan } from '../trail-span.js';

/** `trail --json` output. */
export interface TrailOutput {
  run_id: string;
  source: 'store' | 'jaeger';
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
export function renderTrail(runId: string, spans: TrailSpan[], source: string): string {
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
    `workflow.run_id=${runId}  (${spans.length} spans from the ${source}` +
    `${incomplete ? `, ${incomplete} never ended` : ''})\n` +
    `date ${first ? first.slice(0, 10) : '-'} UTC · trace ${traces.join(', ')}` +
    `${principals.length ? ` · principal ${principals.join(', ')}` : ''}\n\n`;
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
        timeCell(event.time, manyDays),
        '',
        '',
        'event',
        `${'  '.repeat(s.depth + 1)}· ${event.name}`,
        '',
        eventOutcome(event.attributes),
        str(event.attributes[ATTR_CREDENTIAL_REF]) ?? '',
        shortHash(str(event.attributes[ATTR_APPROVAL_INPUT_HASH])).replace(/^-$/, ''),
        shortHash(str(event.attributes[ATTR_SIDE_EFFECT_RESULT_HASH])).replace(/^-$/, ''),
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
    .action(async (runId: string, options: RunSourceOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const source = options.jaeger !== undefined ? 'jaeger' : 'store';
      const spans = await loadRun(runId, options, globals, ctx);
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
