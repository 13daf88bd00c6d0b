import {
  ATTR_DATA_SUBJECTS,
  ATTR_DECISION_OUTCOME,
  ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL,
} from '@agent-audit/instrumentation/attributes';
import { isSubjectRef, subjectRef } from '@agent-audit/instrumentation/subject-ref';
import {
  mergeRunStatus,
  type RunFilter,
  type RunSummary,
  readSubjectKey,
  StoreError,
} from '@agent-audit/store';
import { Command } from 'commander';
import { archiveRunRows } from '../archive-query.js';
import type { CliContext } from '../cli-context.js';
import { CliError, EXIT_USAGE } from '../cli-error.js';
import { findCredentialUse } from '../credential-usage.js';
import { formatTable, type Layout, layoutFor } from '../format-table.js';
import {
  existingStores,
  type GlobalOptions,
  type Location,
  trustLocation,
} from '../global-options.js';
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
  subject?: string;
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

/**
 * `runs --json` prints an array of these; `actions` only with --actions. `claimed_principal`:
 * a run with no principal of its own whose remote caller only claimed one (never adopted).
 */
export type RunRow = RunSummary & { actions?: RunAction[]; claimed_principal?: string };

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
      r.principal ?? (r.claimed_principal === undefined ? '-' : `${r.claimed_principal} (claimed)`),
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

/**
 * Runs without a principal of their own whose remote caller claimed one (not adopted: an
 * unsigned or untrusted run context) get `claimed_principal`. Only those runs are read.
 */
function markClaimed(runs: RunSummary[], spansOf: (runId: string) => TrailSpan[]): RunRow[] {
  return runs.map((run) => {
    if (run.principal !== null) return run;
    for (const span of spansOf(run.run_id)) {
      const claimed = span.attributes[ATTR_RUN_CONTEXT_CLAIMED_PRINCIPAL];
      if (typeof claimed === 'string') return { ...run, claimed_principal: claimed };
    }
    return run;
  });
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
      '--subject <id-or-ref>',
      'only runs whose data.subjects name this data subject: an identifier (customer:981), turned into its subj:… reference with the subject key of the trust directory, or the reference itself',
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
      const subject = options.subject === undefined ? undefined : subjectOf(options.subject);
      const unsupported = (
        ['tool', 'tenant', 'decision', 'actions', 'credential', 'subject'] as const
      )
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

      /** The reference to look for: given as one, or made with the trust directory's key. */
      function subjectOf(given: string): string {
        if (isSubjectRef(given)) return given;
        const trust = trustLocation(ctx);
        try {
          const key = readSubjectKey(trust.path);
          return subjectRef(given, key);
        } catch (error) {
          if (error instanceof StoreError) throw new CliError(error.message, EXIT_USAGE);
          throw error;
        }
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
          const spansOf = (runId: string) =>
            runTimeline(
              readers.flatMap(({ location, reader }) =>
                read(location, () => reader.runRecords(runId)),
              ),
            );
          // data.subjects is a span attribute, not an indexed tag: each run's records are read.
          if (subject !== undefined) {
            runs = runs.filter((r) =>
              spansOf(r.run_id).some((s) => {
                const v = s.attributes[ATTR_DATA_SUBJECTS];
                return Array.isArray(v) && v.includes(subject);
              }),
            );
          }
          const marked = markClaimed(runs, spansOf);
          if (!options.actions && options.decision === undefined) return marked;
          const out: RunRow[] = [];
          for (const run of marked) {
            const spans = spansOf(run.run_id);
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
