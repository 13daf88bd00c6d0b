import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { formatDuration, formatTable, shortHash } from '../format-table.js';
import type { GlobalOptions } from '../global-options.js';
import { loadRun, type RunSourceOptions } from '../load-run.js';
import { explainRun, type RunExplanation } from '../run-explanation.js';

const dash = (value: string | number | null | undefined): string =>
  value === null || value === undefined || value === '' ? '-' : String(value);

function section(title: string, body: string): string {
  return `${title}\n${body
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')}\n\n`;
}

/** The six answers as text: one section per question, tables where there is a list. */
export function renderExplanation(e: RunExplanation): string {
  const t = e.trigger;
  let out = `workflow.run_id=${e.run_id}\n\n`;
  out += section(
    '1. Trigger — what started the run and who is accountable',
    [
      `principal:   ${dash(t.principal)}${t.trigger_type ? ` (${t.trigger_type})` : ''}`,
      `tenant:      ${dash(t.tenant_id)}`,
      `workflow:    ${dash(t.root_span)}${t.workflow_name ? ` · ${t.workflow_name}${t.workflow_version ? ` v${t.workflow_version}` : ''}` : ''}`,
      `credential:  ${dash(t.credential_ref)}`,
      `input:       ${dash(t.input_hash)}`,
      `time:        ${dash(t.started_at)} → ${t.incomplete ? 'never ended (incomplete)' : dash(t.ended_at)}`,
      `status:      ${t.status} · ${t.spans} spans`,
    ].join('\n'),
  );
  const agents = e.context.agents
    .map(
      (a) =>
        `agent ${dash(a.agent_id)}${a.agent_version ? ` v${a.agent_version}` : ''}${a.agent_name ? ` (${a.agent_name})` : ''}` +
        `${a.models.length ? ` · model ${a.models.join(', ')}` : ''}${a.processes.length ? ` · in ${a.processes.join(', ')}` : ''}`,
    )
    .join('\n');
  const llm = e.context.llm_calls.length
    ? `\n${formatTable(
        [
          { header: 'TIME' },
          { header: 'AGENT' },
          { header: 'MODEL' },
          { header: 'PROVIDER' },
          { header: 'TOKENS IN', align: 'right' },
          { header: 'TOKENS OUT', align: 'right' },
          { header: 'PROMPT' },
          { header: 'DURATION', align: 'right' },
        ],
        e.context.llm_calls.map((c) => [
          dash(c.time),
          dash(c.agent_id),
          dash(c.model),
          dash(c.provider),
          dash(c.input_tokens),
          dash(c.output_tokens),
          c.prompt_version
            ? `${/^\d/.test(c.prompt_version) ? 'v' : ''}${c.prompt_version}`
            : shortHash(c.prompt_hash),
          formatDuration(c.duration_ms),
        ]),
      )}`
    : '\nLLM calls: none recorded';
  out += section(
    '2. Agent and context — which agent, model, inputs, prompt and policy versions',
    `${agents}\ninput hashes: ${e.context.input_hashes.length ? e.context.input_hashes.map(shortHash).join(', ') : '-'}\n` +
      `prompt versions: ${e.context.prompt_versions.join(', ') || '-'} · policies: ${e.context.policy_versions.join(', ') || '-'}\n` +
      `credentials issued: ${
        e.context.credentials
          .map(
            (c) =>
              `${dash(c.credential_ref)}${Array.isArray(c.scopes) ? ` scopes ${c.scopes.join(' ')}` : ''}` +
              `${c.expires_at ? ` until ${c.expires_at}` : ''}${c.issuer ? ` by ${c.issuer}` : ''}`,
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
            { header: 'AGENT' },
            { header: 'TOOL' },
            { header: 'DECISION' },
            { header: 'CREDENTIAL' },
            { header: 'INPUT' },
            { header: 'OUTPUT' },
            { header: 'STATUS' },
            { header: 'DURATION', align: 'right' },
          ],
          e.actions.map((a) => [
            dash(a.time),
            dash(a.agent_id),
            dash(a.tool),
            dash(a.decision),
            dash(a.credential_ref),
            shortHash(a.input_hash),
            shortHash(a.output_hash),
            a.error_type ? `${a.status} ${a.error_type}` : a.status,
            formatDuration(a.duration_ms),
          ]),
        )
      : 'no tool calls recorded',
  );
  out += section(
    '4. Checks — policy and validation decisions, and why',
    e.checks.length
      ? formatTable(
          [
            { header: 'TIME' },
            { header: 'TOOL' },
            { header: 'OUTCOME' },
            { header: 'POLICY' },
            { header: 'STAGE' },
            { header: 'ACTOR' },
            { header: 'REASON' },
          ],
          e.checks.map((c) => [
            dash(c.time),
            dash(c.tool),
            dash(c.outcome),
            c.policy ? `${c.policy}${c.policy_version ? `@${c.policy_version}` : ''}` : '-',
            dash(c.stage),
            dash(c.actor),
            dash(c.reason),
          ]),
        )
      : 'no policy decisions recorded',
  );
  out += section(
    '5. Approvals — who approved, rejected or edited what, and what they were shown',
    e.approvals.length
      ? formatTable(
          [
            { header: 'TIME' },
            { header: 'TOOL' },
            { header: 'APPROVER' },
            { header: 'DECISION' },
            { header: 'SHOWN' },
            { header: 'APPROVED INPUT' },
            { header: 'EDITS' },
            { header: 'NOTE' },
          ],
          e.approvals.map((a) => [
            dash(a.time),
            dash(a.tool),
            dash(a.approver),
            dash(a.decision),
            shortHash(a.shown_hash),
            shortHash(a.approved_input_hash),
            a.edits === null ? '-' : Array.isArray(a.edits) ? a.edits.join(', ') : String(a.edits),
            dash(a.note),
          ]),
        )
      : 'no human approvals recorded',
  );
  out += section(
    '6. Side effects — what actually changed',
    e.side_effects.length
      ? formatTable(
          [
            { header: 'TIME' },
            { header: 'TOOL' },
            { header: 'TARGET' },
            { header: 'OPERATION' },
            { header: 'OBJECT' },
            { header: 'STATUS' },
            { header: 'RESULT' },
            { header: 'IDEMPOTENCY KEY' },
          ],
          e.side_effects.map((s) => [
            dash(s.time),
            dash(s.tool),
            dash(s.target_system),
            dash(s.operation),
            dash(s.object_id),
            dash(s.status),
            shortHash(s.result_hash),
            dash(s.idempotency_key),
          ]),
        )
      : 'no side effects recorded',
  );
  return out;
}

export function explainCommand(ctx: CliContext, _setExitCode: (code: number) => void): Command {
  return new Command('explain')
    .description(
      'answer the six audit questions for a run: trigger, context, actions, checks, approvals, side effects',
    )
    .argument('<run-id>', 'the workflow.run_id of the run')
    .option(
      '--jaeger <url>',
      "read the run from Jaeger's query API (e.g. http://localhost:16686) instead of the store",
    )
    .option('--lookback <duration>', 'with --jaeger: how far back to search', '7d')
    .addHelpText(
      'after',
      '\nWith --json: an object with the keys run_id, trigger, context, actions, checks, approvals, side_effects.\nExit: 0 found · 4 no such run · 3 I/O error',
    )
    .action(async (runId: string, options: RunSourceOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const explanation = explainRun(runId, await loadRun(runId, options, globals, ctx));
      ctx.writeOut(
        globals.json ? `${JSON.stringify(explanation, null, 2)}\n` : renderExplanation(explanation),
      );
    });
}
