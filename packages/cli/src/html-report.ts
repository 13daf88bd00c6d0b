import { formatDuration } from './format-table.js';
import type { RunExplanation } from './run-explanation.js';
import { escapeValue } from './terminal-text.js';
import type { TrailSpan } from './trail-span.js';

/**
 * Escapes text for HTML element content and double-quoted attribute values. Control
 * characters and bidirectional overrides are shown as escapes (`\u202e`) rather than passed
 * to the browser, where an override would reorder the text the reviewer reads.
 */
export function escapeHtml(value: unknown): string {
  const text = value === null || value === undefined ? '' : escapeValue(String(value));
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const e = escapeHtml;
const cell = (value: unknown): string =>
  value === null || value === undefined || value === ''
    ? '<td class="none">–</td>'
    : `<td>${e(value)}</td>`;

function table(headers: string[], rows: unknown[][], empty: string): string {
  if (rows.length === 0) return `<p class="none">${e(empty)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map(cell).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

// Inline styles only: the page must open from a ticket attachment or an air-gapped laptop,
// so it loads nothing (no fonts, scripts or images) and runs no script at all.
const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
code,td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table{border-collapse:collapse;width:100%;margin:.3rem 0}th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-size:12px}td.none,p.none{color:#8c959f}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{font-weight:600}dd{margin:0;font-family:ui-monospace,monospace}
.bar{position:relative;height:14px;background:#f6f8fa;min-width:240px}.bar span{position:absolute;top:2px;height:10px;background:#54aeff;border-radius:2px;min-width:2px}
tr.error td{background:#ffebe9}tr.incomplete td{background:#fff8c5}tr.stop td{background:#ffebe9}tr.approval_required td{background:#fff8c5}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;background:#ddf4ff}.badge.error,.badge.incomplete{background:#ffebe9}
footer{margin-top:2rem;color:#57606a;font-size:12px}
`;

function timeline(spans: TrailSpan[]): string {
  // BigInt nanoseconds: Math.min/max do not take bigints, and numbers lose the precision.
  const instants = spans
    .flatMap((s) => [s.start_unix_nano, s.end_unix_nano])
    .filter((n): n is string => n !== null)
    .map((n) => BigInt(n))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const t0 = instants[0] ?? 0n;
  const t1 = instants.at(-1) ?? t0 + 1n;
  const total = Number(t1 - t0) || 1;
  const pct = (n: bigint) => ((Number(n - t0) / total) * 100).toFixed(2);
  const rows = spans.map((s) => {
    const start = s.start_unix_nano ? BigInt(s.start_unix_nano) : t0;
    const end = s.end_unix_nano ? BigInt(s.end_unix_nano) : t1;
    const width = Math.max(Number(pct(end)) - Number(pct(start)), 0.2).toFixed(2);
    const classes = [
      s.status === 'error' ? 'error' : '',
      s.incomplete ? 'incomplete' : '',
      s.decision ?? '',
    ]
      .filter(Boolean)
      .join(' ');
    const process = s.service ? `${s.service}${s.pid === null ? '' : `[${s.pid}]`}` : null;
    return `<tr class="${e(classes)}">${cell(s.start)}${cell(process)}${cell(s.agent_id)}${cell(s.kind)}<td style="padding-left:${6 + s.depth * 14}px">${e(s.name)}</td>${cell(s.tool)}${cell(s.decision)}${cell(s.credential_ref)}${cell(s.input_hash)}${cell(s.output_hash)}<td><span class="badge ${e(s.status)}">${e(s.status)}</span></td>${cell(formatDuration(s.duration_ms))}<td><div class="bar"><span style="left:${pct(start)}%;width:${width}%"></span></div></td></tr>`;
  });
  const headers = [
    'time',
    'process',
    'agent',
    'kind',
    'span',
    'tool',
    'decision',
    'credential',
    'input hash',
    'output hash',
    'status',
    'duration',
    'timeline',
  ];
  return `<table><thead><tr>${headers.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/**
 * The six answers (trigger, context, actions, checks, approvals, side effects) as HTML sections,
 * every value escaped; shared by the report and the console's run page. No inline style or script.
 */
export function sixAnswersHtml(x: RunExplanation): string {
  const t = x.trigger;
  return `<h2>1. Trigger and accountability</h2>
<dl><dt>principal</dt><dd>${e(t.principal ?? '–')}${t.trigger_type ? ` (${e(t.trigger_type)})` : ''}</dd>
<dt>tenant</dt><dd>${e(t.tenant_id ?? '–')}</dd>
<dt>workflow</dt><dd>${e(t.root_span ?? '–')}${t.workflow_name ? ` · ${e(t.workflow_name)}${t.workflow_version ? ` v${e(t.workflow_version)}` : ''}` : ''}</dd>
<dt>credential</dt><dd>${e(t.credential_ref ?? '–')}</dd>
<dt>input hash</dt><dd>${e(t.input_hash ?? '–')}</dd></dl>
<h2>2. Agents and context</h2>
${table(
  ['agent', 'version', 'name', 'models', 'processes'],
  x.context.agents.map((a) => [
    a.agent_id,
    a.agent_version,
    a.agent_name,
    a.models.join(', '),
    a.processes.join(', '),
  ]),
  'no agent recorded',
)}
<dl><dt>prompt versions</dt><dd>${e(x.context.prompt_versions.join(', ') || '–')}</dd>
<dt>policies</dt><dd>${e(x.context.policy_versions.join(', ') || '–')}</dd></dl>
${table(
  ['issued', 'credential', 'scopes', 'expires', 'issuer'],
  x.context.credentials.map((c) => [
    c.time,
    c.credential_ref,
    Array.isArray(c.scopes) ? c.scopes.join(' ') : c.scopes,
    c.expires_at,
    c.issuer,
  ]),
  'no credential issuance recorded',
)}
${table(
  [
    'time',
    'agent',
    'model',
    'provider',
    'tokens in',
    'tokens out',
    'prompt version',
    'prompt hash',
    'duration',
  ],
  x.context.llm_calls.map((c) => [
    c.time,
    c.agent_id,
    c.model,
    c.provider,
    c.input_tokens,
    c.output_tokens,
    c.prompt_version,
    c.prompt_hash,
    formatDuration(c.duration_ms),
  ]),
  'no LLM calls recorded',
)}
<h2>3. Actions (tool calls, in order)</h2>
${table(
  [
    'time',
    'agent',
    'tool',
    'call id',
    'reason',
    'decision',
    'credential',
    'input hash',
    'output hash',
    'status',
    'duration',
  ],
  x.actions.map((a) => [
    a.time,
    a.agent_id,
    a.tool,
    a.tool_call_id,
    a.reason,
    a.decision,
    a.credential_ref,
    a.input_hash,
    a.output_hash,
    a.error_type ? `${a.status} ${a.error_type}` : a.status,
    formatDuration(a.duration_ms),
  ]),
  'no tool calls recorded',
)}
<h2>4. Checks (policy decisions)</h2>
${table(
  ['time', 'tool', 'outcome', 'policy', 'version', 'stage', 'scope', 'action key', 'reason'],
  x.checks.map((c) => [
    c.time,
    c.tool,
    c.outcome,
    c.policy,
    c.policy_version,
    c.stage,
    c.scope,
    c.action_key,
    c.reason,
  ]),
  'no policy decisions recorded',
)}
<h2>5. Human approvals</h2>
${table(
  [
    'time',
    'tool',
    'approver',
    'decision',
    'shown hash',
    'approved input',
    'proposed input',
    'edits',
    'note',
  ],
  x.approvals.map((a) => [
    a.time,
    a.tool,
    a.approver,
    a.decision,
    a.shown_hash,
    a.approved_input_hash,
    a.proposed_input_hash,
    a.edits === null ? null : Array.isArray(a.edits) ? a.edits.join(', ') : String(a.edits),
    a.note,
  ]),
  'no human approvals recorded',
)}
<h2>6. Side effects</h2>
${table(
  [
    'time',
    'tool',
    'target system',
    'operation',
    'object id',
    'status',
    'result hash',
    'idempotency key',
    'proposed input hash',
  ],
  x.side_effects.map((s) => [
    s.time,
    s.tool,
    s.target_system,
    s.operation,
    s.object_id,
    s.status,
    s.result_hash,
    s.idempotency_key,
    s.action_input_hash,
  ]),
  'no side effects recorded',
)}`;
}

/**
 * A self-contained HTML page for a reviewer without Jaeger: the six answers and the run's
 * timeline. Every value from the record is escaped: span names and attributes are written by
 * agents and tools, i.e. by whoever controlled their inputs.
 */
export function renderHtmlReport(x: RunExplanation, spans: TrailSpan[], generatedAt: Date): string {
  const t = x.trigger;
  const processes = [
    ...new Set(
      spans
        .map((s) => (s.service ? `${s.service}${s.pid === null ? '' : `[${s.pid}]`}` : null))
        .filter(Boolean),
    ),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>agent-audit run ${e(x.run_id)}</title><style>${STYLE}</style></head>
<body>
<h1>Audit report: run <code>${e(x.run_id)}</code></h1>
<p><span class="badge ${e(t.status)}">${e(t.status)}</span> ${e(t.spans)} spans · ${e(processes.length)} process(es) · ${e(t.started_at ?? '')} → ${e(t.incomplete ? 'never ended' : (t.ended_at ?? ''))}</p>
${sixAnswersHtml(x)}
<h2>Timeline</h2>
${timeline(spans)}
<footer>Generated by agent-audit at ${e(generatedAt.toISOString())} from ${e(spans.some((s) => s.store !== null || s.seq !== null) ? 'the audit store' : 'Jaeger')}. Times are UTC. Run <code>agent-audit verify</code> to check the store this report was read from.</footer>
</body></html>
`;
}
