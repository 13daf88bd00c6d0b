import { Command } from 'commander';
import { addArchiveOption, loadRunFromSource } from '../archive-run.js';
import type { CliContext } from '../cli-context.js';
import { formatDuration, formatTable, type Layout, layoutFor, shortHash } from '../format-table.js';
import type { GlobalOptions } from '../global-options.js';
import { addJaegerOptions, type RunSourceOptions } from '../load-run.js';
import { explainRun, type RunExplanation } from '../run-explanation.js';
import { escapeValue } from '../terminal-text.js';

/** A value for a text line: escaped for the terminal, `-` when absent. */
const dash = (value: string | number | null | undefined): string =>
  value === null || value === undefined || value === '' ? '-' : escapeValue(String(value));
/** OpenTelemetry's "unset" status means nothing went wrong that the code reported. */
const statusText = (status: string): string => (status === 'unset' ? 'ok' : status);

function section(title: string, body: string): string {
  return `${title}\n${body
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')}\n\n`;
}

/** The six answers as text: one section per question, tables where there is a list. */
export function renderExplanation(
  e: RunExplanation,
  layout: Layout = { width: Number.POSITIVE_INFINITY, wide: true },
): string {
  const t = e.trigger;
  // Tables sit inside a section, indented by two.
  const width = layout.width - 2;
  const hash = (value: string | null): string => shortHash(value, layout);
  // Within one UTC day (the trigger section gives the date) a table shows the time of day.
  const days = new Set(
    [e.trigger.started_at, e.trigger.ended_at]
      .filter((t): t is string => typeof t === 'string')
      .map((t) => t.slice(0, 10)),
  );
  const time = (iso: string | null): string =>
    !iso
      ? '-'
      : layout.wide || days.size !== 1 || !iso.startsWith([...days][0]!)
        ? iso
        : iso.slice(11, 23);
  let out = `workflow.run_id=${escapeValue(e.run_id)}\n\n`;
  out += section(
    '1. Trigger — what started the run and who is accountable',
    [
      `principal:   ${dash(t.principal)}${t.trigger_type ? ` (${dash(t.trigger_type)})` : ''}${t.run_context === 'verified' ? ' · verified (signed run context)' : ''}`,
      ...(t.claimed === null
        ? []
        : [
            `claimed:     ${dash(t.claimed.principal)} for run ${dash(t.claimed.run_id)} by a remote caller — NOT adopted (${dash(t.claimed.reason)})`,
          ]),
      `tenant:      ${dash(t.tenant_id)}`,
      `subjects:    ${t.data_subjects.length ? t.data_subjects.map(dash).join(', ') : '-'}`,
      `workflow:    ${dash(t.root_span)}${t.workflow_name ? ` · ${dash(t.workflow_name)}${t.workflow_version ? ` v${dash(t.workflow_version)}` : ''}` : ''}`,
      `credential:  ${dash(t.credential_ref)}`,
      `input:       ${dash(t.input_hash)}`,
      `time:        ${dash(t.started_at)} → ${t.incomplete ? 'never ended (incomplete)' : dash(t.ended_at)}`,
      `status:      ${dash(statusText(t.status))} · ${t.spans} spans`,
    ].join('\n'),
  );
  const agents = e.context.agents
    .map(
      (a) =>
        `agent ${dash(a.agent_id)}${a.agent_version ? ` v${dash(a.agent_version)}` : ''}${a.agent_name ? ` (${dash(a.agent_name)})` : ''}` +
        `${a.models.length ? ` · model ${a.models.map(dash).join(', ')}` : ''}${a.processes.length ? ` · in ${a.processes.map(dash).join(', ')}` : ''}`,
    )
    .join('\n');
  const llm = e.context.llm_calls.length
    ? `\n${formatTable(
        [
          { header: 'TIME' },
          { header: 'AGENT', priority: 4, minWidth: 10 },
          { header: 'MODEL', minWidth: 12 },
          { header: 'PROVIDER', priority: 5 },
          { header: 'TOKENS IN', align: 'right', priority: 3 },
          { header: 'TOKENS OUT', align: 'right', priority: 3 },
          { header: 'PROMPT', priority: 4, minWidth: 10 },
          { header: 'DURATION', align: 'right', priority: 3 },
        ],
        e.context.llm_calls.map((c) => [
          time(c.time),
          dash(c.agent_id),
          dash(c.model),
          dash(c.provider),
          dash(c.input_tokens),
          dash(c.output_tokens),
          c.prompt_version
            ? `${/^\d/.test(c.prompt_version) ? 'v' : ''}${c.prompt_version}`
            : hash(c.prompt_hash),
          formatDuration(c.duration_ms),
        ]),
        width,
      )}`
    : '\nLLM calls: none recorded';
  out += section(
    '2. Agent and context — which agent, model, inputs, prompt and policy versions',
    `${agents}\ninput hashes: ${e.context.input_hashes.length ? e.context.input_hashes.map(hash).join(', ') : '-'}\n` +
      `prompt versions: ${e.context.prompt_versions.map(dash).join(', ') || '-'} · policies: ${e.context.policy_versions.map(dash).join(', ') || '-'}\n` +
      `handoffs: ${
        e.context.handoffs
          .map(
            (h) =>
              `${dash(h.from_agent)} → ${dash(h.to_agent)}${h.reason ? ` (${dash(h.reason)})` : ''}`,
          )
          .join('; ') || '-'
      }\n` +
      `inputs resolved: ${
        e.context.inputs_resolved
          .flatMap((r) =>
            r.sources.map(
              (s) => `${dash(s.ref)}${s.type ? ` (${dash(s.type)})` : ''} ${hash(s.hash)}`,
            ),
          )
          .join('; ') || '-'
      }\n` +
      `credentials issued: ${
        e.context.credentials
          .map(
            (c) =>
              `${dash(c.credential_ref)}${Array.isArray(c.scopes) ? ` scopes ${c.scopes.map((x) => dash(String(x))).join(' ')}` : ''}` +
              `${c.expires_at ? ` until ${dash(c.expires_at)}` : ''}${c.issuer ? ` by ${dash(c.issuer)}` : ''}`,
          )
          .join('; ') || '-'
      }${llm}`,
  );
  out += section(
    '3. Actions — tool calls in order, with the credential each used',
    e.actions.length
      ? formatTable(
          [
            { header: 'TIME' },
            { header: 'AGENT', priority: 5, minWidth: 10 },
            { header: 'TOOL', minWidth: 10 },
            // Section 4 lists the decisions; this one answers "with which credential".
            { header: 'DECISION', priority: 3 },
            { header: 'CREDENTIAL', priority: 2, minWidth: 12 },
            { header: 'INPUT', priority: 4 },
            { header: 'OUTPUT', priority: 5 },
            { header: 'STATUS', minWidth: 8 },
            { header: 'DURATION', align: 'right', priority: 3 },
          ],
          e.actions.map((a) => [
            time(a.time),
            dash(a.agent_id),
            dash(a.tool),
            dash(a.decision),
            dash(a.credential_ref),
            hash(a.input_hash),
            hash(a.output_hash),
            a.error_type ? `${statusText(a.status)} ${a.error_type}` : statusText(a.status),
            formatDuration(a.duration_ms),
          ]),
          width,
        )
      : 'no tool calls recorded',
  );
  out += section(
    '4. Checks — policy and validation decisions, and why',
    e.checks.length
      ? formatTable(
          [
            { header: 'TIME' },
            { header: 'TOOL', priority: 2, minWidth: 10 },
            { header: 'OUTCOME' },
            { header: 'POLICY', priority: 3, minWidth: 12 },
            { header: 'STAGE', priority: 5 },
            { header: 'ACTOR', priority: 4, minWidth: 10 },
            { header: 'REASON', minWidth: 16 },
          ],
          e.checks.map((c) => [
            time(c.time),
            dash(c.tool),
            dash(c.outcome),
            c.policy ? `${c.policy}${c.policy_version ? `@${c.policy_version}` : ''}` : '-',
            dash(c.stage),
            dash(c.actor),
            dash(c.reason),
          ]),
          width,
        )
      : 'no policy decisions recorded',
  );
  out += section(
    '5. Approvals — who approved, rejected or edited what, and what they were shown',
    e.approvals.length
      ? formatTable(
          [
            { header: 'TIME' },
            { header: 'TOOL', priority: 2, minWidth: 10 },
            { header: 'APPROVER', minWidth: 12 },
            { header: 'DECISION' },
            { header: 'SHOWN', priority: 4 },
            { header: 'APPROVED INPUT', priority: 4 },
            { header: 'EDITS', priority: 3, minWidth: 10 },
            { header: 'NOTE', priority: 2, minWidth: 12 },
          ],
          e.approvals.map((a) => [
            time(a.time),
            dash(a.tool),
            dash(a.approver),
            dash(a.decision),
            hash(a.shown_hash),
            hash(a.approved_input_hash),
            a.edits === null ? '-' : Array.isArray(a.edits) ? a.edits.join(', ') : String(a.edits),
            dash(a.note),
          ]),
          width,
        )
      : 'no human approvals recorded',
  );
  out += section(
    '6. Side effects — what actually changed',
    e.side_effects.length
      ? formatTable(
          [
            { header: 'TIME' },
            { header: 'TOOL', priority: 3, minWidth: 10 },
            { header: 'TARGET', priority: 2, minWidth: 10 },
            { header: 'OPERATION', priority: 2, minWidth: 10 },
            { header: 'OBJECT', minWidth: 12 },
            { header: 'STATUS' },
            { header: 'RESULT', priority: 4 },
            { header: 'IDEMPOTENCY KEY', priority: 5, minWidth: 12 },
          ],
          e.side_effects.map((s) => [
            time(s.time),
            dash(s.tool),
            dash(s.target_system),
            dash(s.operation),
            dash(s.object_id),
            dash(s.status),
            hash(s.result_hash),
            dash(s.idempotency_key),
          ]),
          width,
        )
      : 'no side effects recorded',
  );
  return out;
}

export function explainCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return addArchiveOption(
    addJaegerOptions(
      new Command('explain')
        .description(
          'answer the six audit questions for a run: trigger, context, actions, checks, approvals, side effects',
        )
        .argument('<run-id>', 'the workflow.run_id of the run'),
    ),
  )
    .addHelpText(
      'after',
      '\nWith --json: an object with the keys run_id, trigger, context, actions, checks, approvals, side_effects.\nExit: 0 found · 4 no such run · 3 I/O error',
    )
    .option('--wide', 'every column, full hashes, nothing cut (default: fit the terminal width)')
    .action(
      async (
        runId: string,
        options: RunSourceOptions & { wide?: boolean; archive?: string },
        command: Command,
      ) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const spans = await loadRunFromSource(runId, options, globals, ctx);
        const explanation = explainRun(runId, spans);
        ctx.writeOut(
          globals.json
            ? `${JSON.stringify(explanation, null, 2)}\n`
            : renderExplanation(explanation, layoutFor(ctx, options.wide)),
        );
      },
    );
}
