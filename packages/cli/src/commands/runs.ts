import type { RunFilter, RunSummary } from '@agent-audit/store';
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_USAGE } from '../cli-error.js';
import { formatTable } from '../format-table.js';
import { existingStore, type GlobalOptions } from '../global-options.js';
import { parseTimePoint } from '../parse-time.js';
import { runTimeline } from '../run-timeline.js';
import { withStoreReader } from '../store-access.js';
import type { TrailSpan } from '../trail-span.js';

interface RunsOptions {
  principal?: string;
  agent?: string;
  tool?: string;
  tenant?: string;
  decision?: string;
  since?: string;
  until?: string;
  actions?: boolean;
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

function renderRuns(rows: RunRow[], withActions: boolean): string {
  if (rows.length === 0) return 'no runs match\n';
  const table = formatTable(
    [
      { header: 'RUN ID' },
      { header: 'PRINCIPAL' },
      { header: 'AGENT' },
      { header: 'START' },
      { header: 'END' },
      { header: 'STATUS' },
      { header: 'SPANS', align: 'right' },
      { header: 'INCOMPLETE' },
    ],
    rows.map((r) => [
      r.run_id,
      r.principal ?? '-',
      r.agent_id ?? '-',
      r.start,
      r.end,
      r.status,
      String(r.spans),
      r.incomplete ? 'yes' : 'no',
    ]),
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
      a.status,
    ]),
  );
  const actions = formatTable(
    [
      { header: 'TIME' },
      { header: 'RUN ID' },
      { header: 'PRINCIPAL' },
      { header: 'AGENT' },
      { header: 'TOOL' },
      { header: 'DECISION' },
      { header: 'CREDENTIAL' },
      { header: 'STATUS' },
    ],
    actionRows,
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
      const location = existingStore(globals, ctx);
      const rows = await withStoreReader(location, async (reader) => {
        // Newest first, as the store lists them: an incident starts from the latest runs.
        const runs = reader.listRuns(filter);
        if (!options.actions && options.decision === undefined) return runs as RunRow[];
        const out: RunRow[] = [];
        for (const run of runs) {
          const spans = runTimeline(await reader.runRecords(run.run_id));
          const decided = spans.filter(
            (s) => options.decision === undefined || s.decision === options.decision,
          );
          if (options.decision !== undefined && decided.length === 0) continue;
          if (!options.actions) {
            out.push(run);
            continue;
          }
          const actions = spans
            .filter((s) => s.tool !== null)
            .filter((s) => options.tool === undefined || s.tool === options.tool)
            .filter((s) => options.decision === undefined || s.decision === options.decision)
            .map(actionOf);
          out.push({ ...run, actions });
        }
        return out;
      });
      if (globals.json) {
        ctx.writeOut(`${JSON.stringify(rows, null, 2)}\n`);
      } else {
        ctx.writeOut(renderRuns(rows, options.actions === true));
      }
    });
}
