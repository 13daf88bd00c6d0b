import { ATTR_DECISION_OUTCOME } from '@agent-audit/instrumentation/attributes';
import { mergeRunStatus, type RunFilter, type RunSummary } from '@agent-audit/store';
import { Command } from 'commander';
import { archiveRunRows } from '../archive-query.js';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_USAGE } from '../cli-error.js';
import { findCredentialUse } from '../credential-usage.js';
import { formatTable, type Layout, layoutFor } from '../format-table.js';
import { existingStores, type GlobalOptions, type Location } from '../global-options.js';
import { parseTimePoint } from '../parse-time.js';
import { runTimeline } from '../run-timeline.js';
import { storeFailure, withStoreReaders } from '../store-access.js';
import type { TrailSpan } from '../trail-span.js';
import { isToolCall } from '../trail-span.js';

interface RunsOptions {
  principal?: string;
  agent?: string;
  tool?: string;
  tenant?: string;
  credential?: string;
  decision?: string;
  since?: string;
  until?: string;
  actions?: boolean;
  wide?: boolean;
  archive?: string;
}

/** One tool call of a run, as `runs --actions` lists it. */
export interface RunAction {
  time: string | null;
  span_id: string;
  agent_id: string | null;
  tool: string | null;
  decision: string | null;
  credential_ref: string | null;
  input_hash: string | null;
  output_hash: string | null;
  status: string;
}

/** `runs --json` prints an array of these; `actions` only with --actions. */
export type RunRow = RunSummary & { actions?: RunAction[] };

const DECISIONS = ['allow', 'stop', 'approval_required'];

/** Every decision outcome recorded on a span: its own attribute and its events'. */
function decisionsOf(span: TrailSpan): string[] {
  const outcomes = span.decision === null ? [] : [span.decision];
  for (const event of span.events) {
    const outcome = event.attributes[ATTR_DECISION_OUTCOME];
    if (typeof outcome === 'string') outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * One row per run from rows of several stores: earliest start, latest end, spans summed,
 * incomplete if any part is, and the most telling status (incomplete > error > ok).
 */
export function mergeRunSummaries(rows: RunSummary[]): RunSummary[] {
  const merged = new Map<string, RunSummary>();
  for (const row of rows) {
    const seen = merged.get(row.run_id);
    if (!seen) {
      merged.set(row.run_id, { ...row });
      continue;
    }
    seen.principal ??= row.principal;
    seen.agent_id ??= row.agent_id;
    if (row.start < seen.start) seen.start = row.start;
    if (row.end > seen.end) seen.end = row.end;
    seen.spans += row.spans;
    seen.incomplete ||= row.incomplete;
    if (row.lost_records) seen.lost_records = (seen.lost_records ?? 0) + row.lost_records;
    seen.status = mergeRunStatus(seen.status, row.status) as RunSummary['status'];
  }
  return [...merged.values()].sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0));
}

function actionOf(span: TrailSpan): RunAction {
  return {
    time: span.start,
    span_id: span.span_id,
    agent_id: span.agent_id,
    tool: span.tool,
    decision: span.decision,
    credential_ref: span.credential_ref,
    input_hash: span.input_hash,
    output_hash: span.output_hash,
    status: span.status,
  };
}

function renderRuns(rows: RunRow[], withActions: boolean, layout: Layout): string {
  if (rows.length === 0) return 'no runs match\n';
  const table = formatTable(
    [
      { header: 'RUN ID', minWidth: 16 },
      { header: 'PRINCIPAL', minWidth: 12 },
      { header: 'AGENT', priority: 3, minWidth: 10 },
      { header: 'START' },
      { header: 'END', priority: 4 },
      { header: 'STATUS' },
      { header: 'SPANS', align: 'right', priority: 3 },
      { header: 'INCOMPLETE', priority: 2 },
    ],
    rows.map((r) => [
      r.run_id,
      r.principal ?? '-',
      r.agent_id ?? '-',
      r.start,
      r.end,
      r.status,
      String(r.spans),
      r.lost_records ? `yes (${r.lost_records} lost)` : r.incomplete ? 'yes' : 'no',
    ]),
    layout.width,
  );
  if (!withActions) return `${table}${rows.length} run(s)\n`;
  const actionRows = rows.flatMap((r) =>
    (r.actions ?? []).map((a) => [
      a.time ?? '-',
      r.run_id,
      r.principal ?? '-',
      a.agent_id ?? '-',
      a.tool ?? '-',
      a.decision ?? '-',
      a.credential_ref ?? '-',
      a.status === 'unset' ? 'ok' : a.status,
    ]),
  );
  const actions = formatTable(
    [
      { header: 'TIME' },
      { header: 'RUN ID', priority: 2, minWidth: 16 },
      { header: 'PRINCIPAL', priority: 3, minWidth: 12 },
      { header: 'AGENT', priority: 4, minWidth: 10 },
      { header: 'TOOL', minWidth: 10 },
      { header: 'DECISION' },
      { header: 'CREDENTIAL', priority: 3, minWidth: 12 },
      { header: 'STATUS' },
    ],
    actionRows,
    layout.width,
  );
  return `${table}${rows.length} run(s)\n\n${actions}${actionRows.length} action(s)\n`;
}

export function runsCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('runs')
    .description(
      'one row per run (run id, principal, agent, start, end, status, spans, incomplete), filtered',
    )
    .option('--principal <principal>', 'only runs triggered by this principal, e.g. user:456')
    .option('--agent <agent-id>', 'only runs of this agent.id')
    .option('--tool <tool>', 'only runs that called this tool')
    .option('--tenant <tenant-id>', 'only runs of this tenant.id')
    .option(
      '--credential <ref>',
      'only runs that issued or used this credential.ref (e.g. aat_… from an upstream log); see also whois',
    )
    .option(
      '--decision <outcome>',
      'only runs with a policy decision of this outcome (allow, stop, approval_required)',
    )
    .option(
      '--since <time>',
      'runs that started at or after: a duration before now (90d, 12h, 30m) or an ISO date',
    )
    .option(
      '--until <time>',
      'runs that started at or before: a duration before now or an ISO date',
    )
    .option(
      '--actions',
      "also list each run's tool calls (time, tool, decision, credential ref, status): every action taken on the principal's behalf",
    )
    .option('--wide', 'every column, nothing cut (default: fit the terminal width)')
    .option(
      '--archive <s3-url>',
      'runs of every host from the fleet archive at s3://bucket/prefix (its run index) instead of local stores',
    )
    .addHelpText(
      'after',
      '\nExample: every action taken on behalf of user 456 in the last 90 days:\n  agent-audit runs --principal user:456 --since 90d --actions',
    )
    .action(async (options: RunsOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const now = ctx.now();
      const filter: RunFilter = {};
      if (options.principal !== undefined) filter.principal = options.principal;
      if (options.agent !== undefined) filter.agent = options.agent;
      if (options.tool !== undefined) filter.tool = options.tool;
      if (options.tenant !== undefined) filter.tenant = options.tenant;
      if (options.since !== undefined) filter.since = parseTimePoint(options.since, '--since', now);
      if (options.until !== undefined) filter.until = parseTimePoint(options.until, '--until', now);
      if (filter.since && filter.until && filter.since > filter.until) {
        throw new CliError(
          `--since (${filter.since.toISOString()}) is after --until (${filter.until.toISOString()}): no run can match`,
          EXIT_USAGE,
        );
      }
      if (options.decision !== undefined && !DECISIONS.includes(options.decision)) {
        throw new CliError(
          `invalid --decision value "${options.decision}": expected one of ${DECISIONS.join(', ')}`,
          EXIT_USAGE,
        );
      }
      const unsupported = (['tool', 'tenant', 'decision', 'actions', 'credential'] as const)
        .filter((k) => options[k] !== undefined)
        .map((k) => `--${k}`);
      const rows =
        options.archive !== undefined
          ? await archiveRunRows(ctx, options.archive, filter, unsupported)
          : await localRunRows();
      if (globals.json) {
        ctx.writeOut(`${JSON.stringify(rows, null, 2)}\n`);
      } else {
        ctx.writeOut(renderRuns(rows, options.actions === true, layoutFor(ctx, options.wide)));
      }

      async function localRunRows(): Promise<RunRow[]> {
        const locations = existingStores(globals, ctx);
        return await withStoreReaders(locations, (readers) => {
          const read = <T>(location: Location, fn: () => T): T => {
            try {
              return fn();
            } catch (error) {
              throw storeFailure(error, location);
            }
          };
          let runs: RunSummary[];
          if (readers.length === 1) {
            const { location, reader } = readers[0]!;
            runs = read(location, () => reader.listRuns(filter));
          } else {
            // A run kept in several stores (one per process) matches when any store matches;
            // its row then sums every store's part of it.
            const matched = new Set(
              readers.flatMap(({ location, reader }) =>
                read(location, () => reader.listRuns(filter)).map((r) => r.run_id),
              ),
            );
            runs = mergeRunSummaries(
              readers.flatMap(({ location, reader }) =>
                read(location, () => reader.listRuns({})).filter((r) => matched.has(r.run_id)),
              ),
            );
          }
          if (options.credential !== undefined) {
            const ref = options.credential;
            const used = new Set(findCredentialUse(readers, ref).map((u) => u.run_id));
            runs = runs.filter((r) => used.has(r.run_id));
          }
          if (!options.actions && options.decision === undefined) return runs as RunRow[];
          const out: RunRow[] = [];
          for (const run of runs) {
            const spans = runTimeline(
              readers.flatMap(({ location, reader }) =>
                read(location, () => reader.runRecords(run.run_id)),
              ),
            );
            const matches = (span: TrailSpan) =>
              options.decision === undefined || decisionsOf(span).includes(options.decision);
            if (!spans.some(matches)) continue;
            if (!options.actions) {
              out.push(run);
              continue;
            }
            const actions = spans
              .filter(isToolCall)
              .filter((s) => options.tool === undefined || s.tool === options.tool)
              .filter(matches)
              .map(actionOf);
            out.push({ ...run, actions });
          }
          return out;
        });
      }
    });
}
