import { escapeHtml as e, sixAnswersHtml } from '../html-report.js';
import type { RunExplanation } from '../run-explanation.js';
import type { TrailSpan } from '../trail-span.js';
import type { RunIntegrity, RunPage, RunQuery, StoreIntegrity } from './console-data.js';
import type { IndexStatus } from './index-client.js';

/**
 * The console's server-rendered pages. Every value that comes from a store is escaped with
 * the report's `escapeHtml` (text, never markup); pages load only /assets (strict CSP, no inline
 * script or style), so a hostile span name or attribute shows as characters and runs nothing.
 * The one script is the app bundle (dist/console-app/console.js, uPlot inside): it fills the
 * dashboards and draws a run's waterfall from the JSON API.
 */

const NAV: Array<[string, string]> = [
  ['/', 'Runs'],
  ['/dashboards/activity', 'Activity'],
  ['/dashboards/security', 'Security'],
  ['/dashboards/compliance', 'Compliance'],
];

export function page(title: string, active: string, body: string, preload?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${e(title)} · agent-audit console</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>${preload ? `\n<link rel="preload" href="${e(preload)}" as="fetch" crossorigin="anonymous">` : ''}
</head><body>
<header><span class="brand">agent-audit console</span><nav>${NAV.map(
    ([href, label]) => `<a href="${href}"${href === active ? ' class="active"' : ''}>${label}</a>`,
  ).join('')}</nav><span class="ro">read-only</span></header>
<main>${body}</main>
</body></html>
`;
}

const cell = (value: unknown): string =>
  value === null || value === undefined || value === ''
    ? '<td class="none">–</td>'
    : `<td>${e(value)}</td>`;

function queryString(q: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** The landing page: the search form and one page of runs. */
export function runsPage(raw: Record<string, string>, result: RunPage | { error: string }): string {
  const field = (name: string, label: string, placeholder = '') =>
    `<label>${label}<input name="${name}" value="${e(raw[name] ?? '')}" placeholder="${e(placeholder)}"></label>`;
  const select = (name: string, label: string, options: string[]) =>
    `<label>${label}<select name="${name}"><option value="">any</option>${options
      .map((o) => `<option${raw[name] === o ? ' selected' : ''}>${e(o)}</option>`)
      .join('')}</select></label>`;
  const form = `<form class="search" method="get" action="/">
${field('run', 'run id')}${field('principal', 'principal', 'user:456')}${field('agent', 'agent')}${field('tool', 'tool')}${field('tenant', 'tenant')}${field('credential', 'credential ref')}
${select('decision', 'decision', ['allow', 'stop', 'approval_required'])}${select('status', 'status', ['ok', 'error', 'incomplete', 'unknown'])}
${field('since', 'since', '90d or 2026-01-01')}${field('until', 'until', '2026-12-31T00:00:00Z')}
<button type="submit">Search</button></form>`;
  if ('error' in result) {
    return page(
      'Runs',
      '/',
      `<h1>Runs</h1>${form}<p class="error" id="search-error">${e(result.error)}</p>`,
    );
  }
  const rows = result.runs
    .map(
      (r) =>
        `<tr class="${e(r.status)}"><td><a class="run-link" href="/runs/${encodeURIComponent(r.run_id)}">${e(r.run_id)}</a></td>${cell(r.principal ?? (r.claimed_principal === undefined ? null : `${r.claimed_principal} (claimed)`))}${cell(r.agent_id)}${cell(r.start)}${cell(r.end)}<td><span class="badge ${e(r.status)}">${e(r.status)}</span></td>${cell(r.spans)}${cell(r.incomplete ? `yes${r.lost_records ? ` (${r.lost_records} lost)` : ''}` : 'no')}${cell(r.stores.join(', '))}</tr>`,
    )
    .join('');
  const link = (p: number, label: string) =>
    `<a href="/${e(queryString({ ...raw, page: String(p) }))}">${label}</a>`;
  const pager = `<p class="pager" id="pager">${result.page > 1 ? link(result.page - 1, '← newer') : ''} page ${result.page} of ${result.pages} · <span id="total">${result.total_exact ? '' : 'at most '}${result.total}</span> run(s)${result.order === 'recent_activity' ? ', most recently active first' : ''}${result.page < result.pages ? ` ${link(result.page + 1, 'older →')}` : ''}${result.complete ? '' : ' · <span class="warn">still reading the stores: credential/decision filters may miss runs</span>'}</p>`;
  const table = result.runs.length
    ? `<table id="runs"><thead><tr><th>run id</th><th>principal</th><th>agent</th><th>start</th><th>end</th><th>status</th><th>spans</th><th>incomplete</th><th>stores</th></tr></thead><tbody>${rows}</tbody></table>`
    : '<p class="none" id="no-runs">no run matches</p>';
  return page('Runs', '/', `<h1>Runs</h1>${form}${pager}${table}`);
}

/** One line per store part of the run: how far a signed checkpoint covers its records. */
export function integrityLine(parts: RunIntegrity[]): string {
  return parts
    .map((p) => {
      const keys = p.keys.length ? ` by key ${p.keys.join(', ')}` : '';
      const text =
        p.coverage === 'covered'
          ? `verified: records ${p.first_seq}–${p.last_seq} are covered by the signed checkpoint through seq ${p.signed_through}${keys}`
          : p.coverage === 'partly'
            ? `partly checkpointed: verified through seq ${p.signed_through}${keys}; records ${(p.signed_through ?? 0) + 1}–${p.last_seq} of this run are not yet checkpointed`
            : p.coverage === 'none'
              ? `not yet checkpointed: records ${p.first_seq}–${p.last_seq} are after the last signed checkpoint (seq ${p.signed_through ?? 0})`
              : p.coverage === 'tampered'
                ? `TAMPERED: verify found tampering in this store (exit 1); do not rely on this run`
                : 'not verified yet (verify is running)';
      return `<li class="integrity ${e(p.coverage)}"><span class="store">${e(p.store)}</span> ${e(text)} <span class="none">(verify exit ${e(p.verify_exit_code ?? '–')}, ${e(p.verify_status ?? 'pending')})</span></li>`;
    })
    .join('');
}

/** Rows each list answer shows on the run page; the rest are in the report and the evidence. */
const ANSWER_ROWS = 50;

/**
 * The six answers with each list cut to its first rows (a 5,000-call run's actions are a
 * 5,000-row table: the waterfall shows every call, the HTML report and the JSON evidence hold
 * every row), and a line saying what was cut.
 */
function answersHtml(x: RunExplanation): string {
  const cut: string[] = [];
  const head = <T>(list: T[], what: string): T[] => {
    if (list.length <= ANSWER_ROWS) return list;
    cut.push(`${ANSWER_ROWS} of ${list.length} ${what}`);
    return list.slice(0, ANSWER_ROWS);
  };
  const shown: RunExplanation = {
    ...x,
    context: {
      ...x.context,
      llm_calls: head(x.context.llm_calls, 'LLM calls'),
      credentials: head(x.context.credentials, 'credential issuances'),
    },
    actions: head(x.actions, 'tool calls'),
    checks: head(x.checks, 'policy decisions'),
    approvals: head(x.approvals, 'approvals'),
    side_effects: head(x.side_effects, 'side effects'),
  };
  const note = cut.length
    ? `<p class="warn" id="answers-cut">This run is long: the answers below show the first ${e(cut.join(', '))}. Every span is a row of the timeline; the HTML report and the JSON evidence bundle hold every row.</p>`
    : '';
  // One section per answer (its heading and what follows it), so the stylesheet can lay them
  // out side by side on a wide screen. Every value is escaped: '<h2>' only starts a heading.
  const sections = sixAnswersHtml(shown)
    .split('<h2>')
    .slice(1)
    .map((part, i) => `<section class="answer" id="answer-${i + 1}"><h2>${part}</section>`)
    .join('\n');
  return `${note}${sections}`;
}

/** A run's page: integrity, links, the waterfall and the six answers under it. */
export function runPage(
  runId: string,
  spans: TrailSpan[],
  explanation: RunExplanation,
  integrity: RunIntegrity[],
  jaeger: string | undefined,
): string {
  const t = explanation.trigger;
  const traces = [...new Set(spans.map((s) => s.trace_id))];
  const id = encodeURIComponent(runId);
  const jaegerLinks = jaeger
    ? traces
        .map(
          (trace) =>
            `<a class="jaeger" href="${e(`${jaeger.replace(/\/+$/, '')}/trace/${encodeURIComponent(trace)}`)}" rel="noreferrer">trace ${e(trace)} in Jaeger</a>`,
        )
        .join(' ')
    : '<span class="none">start the console with --jaeger URL for a link to the trace in Jaeger</span>';
  const body = `<h1>Run <code id="run-id">${e(runId)}</code></h1>
<p class="summary"><span class="badge ${e(t.status)}">${e(t.status)}</span> ${e(t.spans)} spans · principal <b>${e(t.principal ?? '–')}</b>${attributionNote(t)} · ${e(t.started_at ?? '')} → ${e(t.incomplete ? 'never ended' : (t.ended_at ?? ''))}</p>
${claimedLine(t)}<ul id="integrity">${integrityLine(integrity)}</ul>
<p class="links">${jaegerLinks} · <a id="report-link" href="/runs/${id}/report.html" download>HTML report</a> · <a id="evidence-link" href="/runs/${id}/evidence.json" download>JSON evidence bundle</a> · <a href="#answers">the six answers</a></p>
<div class="run-view"><section class="timeline"><h2>Timeline</h2><div id="waterfall" data-run-id="${e(runId)}" data-state="loading"><p class="none">loading the timeline (it is drawn by the console's script from /api/runs/${e(id)}/timeline)…</p></div></section>
<aside class="answers" id="answers">${answersHtml(explanation)}</aside></div>`;
  // The timeline is fetched while the page and its script load (the script's fetch reuses it).
  return page(`Run ${runId}`, '', body, `/api/runs/${id}/timeline`);
}

/** How the run's principal was attributed: adopted from a verified signed context, or local. */
function attributionNote(t: RunExplanation['trigger']): string {
  return t.run_context === 'verified'
    ? ' <span class="badge ok" id="run-context" data-run-context="verified">verified: signed run context</span>'
    : '';
}

/**
 * What a remote caller claimed without proof, shown apart from the run's principal (issue 13
 * §3): never the run's attribution, always visible.
 */
function claimedLine(t: RunExplanation['trigger']): string {
  if (t.claimed === null) return '';
  return `<p class="claimed" id="claimed-context" data-run-context="claimed"><span class="badge error">claimed</span> a remote caller claimed principal <b>${e(t.claimed.principal ?? '–')}</b> for run <code>${e(t.claimed.run_id ?? '–')}</code> — NOT adopted (${e(t.claimed.reason ?? 'no reason recorded')})</p>
`;
}

export function notFoundPage(message: string): string {
  return page(
    'Not found',
    '',
    `<h1>Not found</h1><p id="not-found">${e(message)}</p><p><a href="/">Runs</a></p>`,
  );
}

function storesTable(stores: StoreIntegrity[]): string {
  return `<table id="verify-results"><thead><tr><th>store</th><th>last verify</th><th>exit</th><th>signed through</th><th>head seq</th><th>keys</th><th>anchor</th><th>first problem</th></tr></thead><tbody>${stores
    .map(
      (s) =>
        `<tr class="${s.exit_code === 0 ? 'ok' : s.exit_code === 1 ? 'error' : 'incomplete'}">${cell(s.store)}${cell(s.state === 'done' ? s.status : s.state === 'failed' ? `failed: ${s.error}` : 'running')}${cell(s.exit_code)}${cell(s.signed_through)}${cell(s.head_seq)}${cell(s.keys.join(', '))}${cell(s.anchor_checked ? 'checked' : 'not checked')}${cell(s.first_problem ? `${s.first_problem.code}: ${s.first_problem.message}` : null)}</tr>`,
    )
    .join('')}</tbody></table>`;
}

/** A dashboard shell: the JS module fills it from the JSON API and refreshes it. */
export function dashboardPage(
  kind: 'activity' | 'security' | 'compliance',
  stores: StoreIntegrity[],
  window: RunQuery,
): string {
  const win = `<form class="window" method="get"><label>window<select name="window" id="window">${[
    '5m',
    '15m',
    '1h',
    '24h',
    '7d',
    '90d',
    'all',
  ]
    .map(
      (w) =>
        `<option${(window as { label?: string }).label === w ? ' selected' : ''}>${w}</option>`,
    )
    .join('')}</select></label><span id="updated" class="none"></span></form>`;
  const panels: Record<typeof kind, string> = {
    activity: `<h1>Activity</h1>${win}
<section class="grid">
<div class="panel"><h2>Tool invocations per second, by tool</h2><div class="chart" id="chart-calls"></div><table id="by-tool"></table></div>
<div class="panel"><h2>By agent</h2><table id="by-agent"></table></div>
<div class="panel"><h2>Error rate per tool</h2><table id="error-rate"></table></div>
<div class="panel"><h2>Permission denials per minute</h2><div class="chart" id="chart-denials"></div><p class="none">from the <code>permission.denied</code> / <code>permission.denial_type</code> attributes of tool spans</p></div>
<div class="panel"><h2>Tool latency</h2><table id="latency"></table></div>
</section>`,
    security: `<h1>Security</h1>${win}
<section class="grid">
<div class="panel"><h2>Permission denials by type</h2><table id="denials"></table></div>
<div class="panel"><h2>Anomaly alerts</h2><p id="alerts-source" class="none"></p><table id="alerts-summary"></table><table id="alerts"></table></div>
<div class="panel"><h2>Ungoverned calls (decision.policy = none)</h2><table id="ungoverned"></table></div>
<div class="panel"><h2>Spans with audit.violation</h2><table id="violations"></table></div>
</section>`,
    compliance: `<h1>Compliance</h1>${win}
<section class="grid">
<div class="panel"><h2>Tool calls with complete audit records</h2><table id="complete"></table></div>
<div class="panel"><h2>Data classification coverage</h2><table id="classified"></table></div>
<div class="panel"><h2>Retention</h2><table id="retention"></table></div>
<div class="panel wide"><h2>Last verify result of each store</h2>${storesTable(stores)}</div>
<div class="panel wide"><h2>Pending approvals (requested, never granted or rejected)</h2><table id="pending"></table></div>
</section>`,
  };
  return page(
    kind[0]!.toUpperCase() + kind.slice(1),
    `/dashboards/${kind}`,
    `<div id="dashboard" data-kind="${kind}">${panels[kind]}</div>`,
  );
}

/** While the stores' query indexes are built: what the console is doing; the script polls and reloads. */
export function indexingPage(status: IndexStatus): string {
  const rows = status.stores
    .map(
      (s) =>
        `<tr>${cell(s.store)}${cell(s.phase)}${cell(s.segments)}${cell(s.segments_indexed === null ? null : `${s.segments_indexed} of ${s.segments_to_index} segments, ${s.records_indexed} records`)}${cell(s.segment_bytes === null ? null : `${(s.segment_bytes / 1e6).toFixed(0)} MB`)}${cell(`${((s.index_bytes ?? 0) / 1e6).toFixed(0)} MB`)}${cell(s.started_at)}${cell(s.error)}</tr>`,
    )
    .join('');
  return page(
    'Indexing',
    '',
    `<h1>Indexing the stores</h1><p class="warn" id="index-status">${e(status.message)}</p>
<p class="none">${status.stores_ready} of ${status.stores.length} store(s) indexed. This page reloads when searches can answer; the dashboards read the stores meanwhile.</p>
<table id="index-stores"><thead><tr><th>store</th><th>index</th><th>segments</th><th>indexed</th><th>segment bytes</th><th>index written</th><th>started</th><th>error</th></tr></thead><tbody>${rows}</tbody></table>`,
  );
}
