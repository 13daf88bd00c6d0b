// The dashboards: filled from the JSON API (docs/console-api.md) and refreshed every few
// seconds. Every value from a store is set as text (textContent), never as markup; charts are
// drawn by uPlot, bundled into the console's app (no CDN).
import uPlot from 'uplot';
import { el } from './dom.js';

const REFRESH_MS = 3000;

function fmt(value, digits = 3) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number')
    return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return String(value);
}

function pct(value) {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(1)}%`;
}

/** Replace a table's rows: headers, then one row per item (each cell text). */
function fill(id, headers, rows, empty) {
  const table = document.getElementById(id);
  if (!table) return;
  table.replaceChildren();
  if (rows.length === 0) {
    const tr = el('tr');
    tr.append(el('td', empty, 'none'));
    table.append(tr);
    return;
  }
  const head = el('thead');
  const hr = el('tr');
  for (const h of headers) hr.append(el('th', h));
  head.append(hr);
  const body = el('tbody');
  for (const row of rows) {
    const tr = el('tr');
    for (const value of row) {
      const td = el('td');
      if (value instanceof Node) td.append(value);
      else td.textContent = fmt(value);
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(head, body);
}

function runLink(runId) {
  const a = el('a', runId);
  a.href = `/runs/${encodeURIComponent(runId)}`;
  return a;
}

const charts = new Map();

/** A uPlot chart of per-minute series (x: unix seconds). */
function chart(id, label, minutes, values) {
  const host = document.getElementById(id);
  if (!host) return;
  const data = [minutes, values];
  const seen = charts.get(id);
  if (seen) {
    seen.setData(data);
    return;
  }
  const width = Math.max(280, host.clientWidth || 480);
  const plot = new uPlot(
    {
      width,
      height: 160,
      series: [{}, { label, stroke: '#0969da', fill: 'rgba(9,105,218,0.12)' }],
      axes: [{}, {}],
    },
    data,
    host,
  );
  charts.set(id, plot);
}

function render(root, kind, d) {
  const f = d.figures;
  const updated = document.getElementById('updated');
  if (updated) {
    updated.textContent = ` ${f.tool_calls} tool call(s) in the window · updated ${d.generated_at}${d.caught_up ? '' : ' · still reading the stores'}`;
  }
  root.dataset.toolCalls = String(f.tool_calls);
  if (kind === 'activity') {
    const a = f.activity;
    fill(
      'by-tool',
      ['tool', 'calls', 'calls/s', 'p50 ms', 'p95 ms', 'p99 ms'],
      a.by_tool.map((t) => [t.tool, t.calls, t.per_second, t.p50_ms, t.p95_ms, t.p99_ms]),
      'no tool calls in this window',
    );
    fill(
      'by-agent',
      ['agent', 'calls', 'calls/s'],
      a.by_agent.map((t) => [t.agent, t.calls, t.per_second]),
      'no tool calls in this window',
    );
    fill(
      'error-rate',
      ['tool', 'calls', 'errors', 'error rate'],
      a.by_tool.map((t) => [t.tool, t.calls, t.errors, pct(t.error_rate)]),
      'no tool calls in this window',
    );
    fill(
      'latency',
      ['', 'p50 ms', 'p95 ms', 'p99 ms'],
      [['all tools', a.latency_ms.p50, a.latency_ms.p95, a.latency_ms.p99]],
      '',
    );
    const minutes = a.per_minute.map((m) => m.minute);
    chart(
      'chart-calls',
      'calls/s',
      minutes,
      a.per_minute.map((m) => m.calls / 60),
    );
    chart(
      'chart-denials',
      'denials/min',
      minutes,
      a.per_minute.map((m) => m.denials),
    );
  } else if (kind === 'security') {
    const s = f.security;
    fill(
      'denials',
      ['denial type', 'count'],
      s.denials_by_type.map((x) => [x.type, x.count]),
      'no permission denials in this window',
    );
    fill(
      'ungoverned',
      ['agent', 'tool', 'calls'],
      s.ungoverned.map((x) => [x.agent, x.tool, x.count]),
      'no ungoverned calls in this window',
    );
    fill(
      'violations',
      ['agent', 'tool', 'spans'],
      s.violations.map((x) => [x.agent, x.tool, x.count]),
      'no audit violations in this window',
    );
    const al = d.alerts;
    const source = document.getElementById('alerts-source');
    if (source) {
      source.textContent = !al.configured
        ? 'no alert store: start the console with --alerts DIR (the store agent-audit watch writes)'
        : al.error
          ? `alert store ${al.store}: ${al.error}`
          : `alert store ${al.store}`;
    }
    fill(
      'alerts-summary',
      ['severity / pattern', 'alerts'],
      [
        ...al.by_severity.map((x) => [`severity ${x.severity}`, x.count]),
        ...al.by_pattern.map((x) => [`pattern ${x.pattern}`, x.count]),
      ],
      'no alerts in this window',
    );
    fill(
      'alerts',
      ['detected', 'severity', 'pattern', 'agent', 'tool', 'reason', 'run'],
      al.alerts.map((x) => [
        x.detected_at ?? x.time,
        x.severity,
        x.pattern,
        x.agent_id,
        x.tool,
        x.reason,
        x.run_ids[0] ? runLink(x.run_ids[0]) : '–',
      ]),
      'no alerts in this window',
    );
  } else if (kind === 'compliance') {
    const c = f.compliance;
    fill(
      'complete',
      ['tool calls', 'complete records', 'share', 'never ended'],
      [[f.tool_calls, c.complete_records, pct(c.complete_share), c.incomplete_calls]],
      '',
    );
    fill(
      'classified',
      ['tool calls', 'with data.classification', 'share'],
      [[f.tool_calls, c.classified, pct(c.classified_share)]],
      '',
    );
    fill(
      'retention',
      ['store', 'oldest record', 'newest record', 'policy (days)', 'status'],
      d.retention.map((r) => [r.store, r.oldest_record, r.newest_record, r.policy_days, r.status]),
      'no stores',
    );
    fill(
      'pending',
      ['requested', 'approval id', 'tool', 'run'],
      d.pending_approvals.map((p) => [p.requested_at, p.approval_id, p.tool, runLink(p.run_id)]),
      'no pending approvals',
    );
  }
  root.dataset.loaded = 'true';
}

async function refresh(root) {
  const kind = root.dataset.kind;
  const windowSelect = document.getElementById('window');
  const win = windowSelect ? windowSelect.value : '15m';
  try {
    const answer = await fetch(`/api/dashboards?window=${encodeURIComponent(win)}`, {
      credentials: 'same-origin',
    });
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.error || answer.statusText);
    render(root, kind, body);
  } catch (error) {
    const updated = document.getElementById('updated');
    if (updated) updated.textContent = ` could not refresh: ${error.message}`;
  }
}

/** Start the dashboard in `root` (the page's #dashboard element). */
export function startDashboard(root) {
  const windowSelect = document.getElementById('window');
  const fromUrl = new URLSearchParams(location.search).get('window');
  if (windowSelect && fromUrl) windowSelect.value = fromUrl;
  windowSelect?.addEventListener('change', () => {
    const url = new URL(location.href);
    url.searchParams.set('window', windowSelect.value);
    history.replaceState(null, '', url);
    for (const c of charts.values()) c.destroy();
    charts.clear();
    void refresh(root);
  });
  void refresh(root);
  setInterval(() => refresh(root), REFRESH_MS);
}
