// A run's waterfall, virtualized: the rows come from /api/runs/<id>/timeline (one compact JSON
// answer, every string already made displayable by the server) and only the rows in view (plus
// a few above and below) are in the DOM, so a 5,000-span run draws as fast as a 50-span one.
// Rows have one fixed height; the scroll area's height is rows × that height, and each drawn
// row is placed at its index × that height. Values go in as text (textContent), never markup.
import { el } from './dom.js';

const ROW_PX = 26;
const OVERSCAN = 12;
const HEADERS = [
  'span',
  'process',
  'tool',
  'decision',
  'credential',
  'input hash',
  'output hash',
  'duration',
  'status',
  'events',
  'timeline',
];

function shortHash(hash) {
  if (!hash) return null;
  const i = hash.lastIndexOf(':');
  return i >= 0 && hash.length - i > 13
    ? `${hash.slice(0, i + 1)}${hash.slice(i + 1, i + 13)}…`
    : hash;
}

function cell(text, className, title) {
  const node = el('div', text === null || text === undefined || text === '' ? '–' : text, 'cell');
  if (text === null || text === undefined || text === '') node.classList.add('none');
  if (className) node.classList.add(className);
  if (title) node.title = title;
  return node;
}

function eventSummary(events) {
  if (events.length === 0) return '';
  const names = [...new Set(events.map((e) => e.name))].slice(0, 3).join(', ');
  return `${events.length}: ${names}`;
}

function rowOf(row, index, selected) {
  const classes = ['span', row.status];
  if (row.incomplete) classes.push('incomplete');
  if (row.decision) classes.push(`d-${row.decision.replace(/[^A-Za-z0-9_-]/g, '_')}`);
  if (selected) classes.push('selected');
  const tr = el('div', null, classes.join(' '));
  tr.setAttribute('role', 'row');
  tr.tabIndex = 0;
  tr.dataset.index = String(index);
  tr.dataset.spanId = row.span_id;
  tr.dataset.events = String(row.events.length);
  tr.style.transform = `translateY(${index * ROW_PX}px)`;
  const name = el('div', null, 'cell name');
  name.style.paddingLeft = `${4 + Math.min(row.depth, 24) * 14}px`;
  const label = el('span', row.name, 'span-name');
  name.title = row.name;
  name.append(label);
  const status = el('div', null, 'cell');
  status.append(el('span', row.status, `badge ${row.status}`));
  const bar = el('div', null, 'cell bar');
  const track = el('div', null, 'track');
  const span = el('div', null, 'span-bar');
  span.style.left = `${row.x0 / 10}%`;
  span.style.width = `max(2px, ${(row.x1 - row.x0) / 10}%)`;
  track.append(span);
  for (const ev of row.events) {
    const mark = el('div', null, 'event');
    mark.style.left = `${ev.x / 10}%`;
    mark.title = `${ev.name} ${ev.time ?? ''}`;
    track.append(mark);
  }
  bar.append(track);
  tr.append(
    name,
    cell(row.process, null, row.process),
    cell(row.tool, null, row.tool),
    cell(row.decision),
    cell(row.credential_ref, null, row.credential_ref),
    cell(shortHash(row.input_hash), null, row.input_hash),
    cell(shortHash(row.output_hash), null, row.output_hash),
    cell(row.duration),
    status,
    cell(eventSummary(row.events), 'event-summary', row.events.map((e) => e.name).join(', ')),
    bar,
  );
  return tr;
}

/** The selected span's fields and every one of its events, as a list under the waterfall. */
function detailOf(row) {
  const box = el('div');
  box.append(el('h3', row.name, 'span-name'));
  const dl = el('dl');
  for (const [k, v] of [
    ['span id', row.span_id],
    ['parent', row.parent_span_id],
    ['process', row.process],
    ['tool', row.tool],
    ['decision', row.decision],
    ['credential', row.credential_ref],
    ['input hash', row.input_hash],
    ['output hash', row.output_hash],
    ['duration', row.duration],
    ['status', row.status],
  ]) {
    dl.append(el('dt', k), el('dd', v ?? '–'));
  }
  box.append(dl);
  if (row.events.length === 0) {
    box.append(el('p', 'no events on this span', 'none'));
  } else {
    const ul = el('ul', null, 'events');
    for (const ev of row.events) {
      const li = el('li');
      li.append(
        el('span', ev.name, 'ev'),
        document.createTextNode(` ${ev.time ?? ''} ${ev.detail}`),
      );
      ul.append(li);
    }
    box.append(ul);
  }
  return box;
}

/** Fetch the run's timeline and draw it into `root` (the page's #waterfall element). */
export async function startWaterfall(root) {
  // The run id from the page's own path (/runs/<id>), exactly as the link gave it.
  const runId = decodeURIComponent(location.pathname.replace(/^\/runs\//, ''));
  const status = el('p', 'loading the timeline…', 'none');
  root.replaceChildren(status);
  let view;
  try {
    const answer = await fetch(`/api/runs/${encodeURIComponent(runId)}/timeline`, {
      credentials: 'same-origin',
    });
    view = await answer.json();
    if (!answer.ok) throw new Error(view.error || answer.statusText);
  } catch (error) {
    status.textContent = `could not load the timeline: ${error.message}`;
    status.className = 'error';
    root.dataset.state = 'error';
    return;
  }
  const rows = view.rows;
  const head = el('div', null, 'wf-head');
  head.setAttribute('role', 'row');
  for (const h of HEADERS) head.append(el('div', h, h === 'timeline' ? 'cell bar' : 'cell'));
  const viewport = el('div', null, 'wf-viewport');
  viewport.setAttribute('role', 'rowgroup');
  viewport.tabIndex = -1;
  const body = el('div', null, 'wf-body');
  body.style.height = `${rows.length * ROW_PX}px`;
  viewport.append(body);
  const detail = el('div', null, 'span-detail');
  detail.id = 'span-detail';
  detail.append(el('p', 'select a span to see its events and fields', 'none'));
  status.textContent = `${view.spans} spans · ${view.events} events · ${view.start ?? ''} → ${view.end ?? ''}${
    rows.length > 40 ? ' · scroll the timeline; select a row for its events' : ''
  }`;
  const grid = el('div', null, 'wf-grid');
  grid.setAttribute('role', 'table');
  grid.append(head, viewport);
  root.replaceChildren(status, grid, detail);

  let selected = -1;
  let drawn = '';
  const draw = () => {
    const top = viewport.scrollTop;
    const height = viewport.clientHeight || 600;
    const from = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
    const to = Math.min(rows.length, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
    const key = `${from}:${to}:${selected}`;
    if (key === drawn) return;
    drawn = key;
    const nodes = [];
    for (let i = from; i < to; i++) nodes.push(rowOf(rows[i], i, i === selected));
    body.replaceChildren(...nodes);
    root.dataset.from = String(from);
    root.dataset.to = String(to);
  };
  let pending = false;
  viewport.addEventListener('scroll', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  });
  const select = (target) => {
    const tr = target.closest('.span');
    if (!tr) return;
    selected = Number(tr.dataset.index);
    detail.replaceChildren(detailOf(rows[selected]));
    detail.dataset.spanId = rows[selected].span_id;
    draw();
  };
  body.addEventListener('click', (event) => select(event.target));
  body.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select(event.target);
    }
  });
  draw();
  root.dataset.spans = String(view.spans);
  root.dataset.events = String(view.events);
  root.dataset.state = 'ready';
}
