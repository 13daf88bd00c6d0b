/**
 * The audit console in a real browser: Debian's Chromium (tools/chromium/install.sh), driven
 * by puppeteer-core. The console runs as its own process (the built bin) on stores written by
 * the real SDK (the quickstart demo's two stores), a generated store of many runs written by
 * the store's writer, and a store with hostile records. Every figure checked is computed again
 * here from the store (or from `trail --json` / `explain --json` / `runs --json`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditStore } from '@agent-audit/store';
import { openStoreReader } from '@agent-audit/store/query';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStore } from '../../../benchmarks/src/console-store.js';
import { spansOfExportRequest } from '../src/otlp-json.js';
import {
  type ConsoleProcess,
  startConsole,
  treeDigest,
  waitForIndex,
} from './support/console-process.js';
import { runCli } from './support/run-cli.js';

// Browser globals used inside page.evaluate / waitForFunction callbacks, which run in Chromium
// (the test program is compiled without the DOM lib).
declare const document: {
  getElementById(id: string): { dataset: Record<string, string | undefined> } | null;
  querySelectorAll(selector: string): Iterable<{ classList: { contains(c: string): boolean } }>;
  querySelector(selector: string): unknown;
};
declare function requestAnimationFrame(cb: () => void): void;
declare const window: { __xss?: number };

/** How the six answers are laid out (run in the page: the test's types have no DOM). */
interface AnswersLayout {
  answersWidth: number;
  mainWidth: number;
  belowTimeline: boolean;
  sections: string[];
  sectionWidths: number[];
  headingLines: number;
  timeLines: number;
  reasonWidths: number[];
  wide: Array<{ overflow: string; fits: boolean }>;
}
const LAYOUT_PROBE = `(() => {
  const box = (el) => el.getBoundingClientRect();
  const lines = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  };
  const answers = document.getElementById('answers');
  const sections = [...answers.querySelectorAll('section.answer')];
  return {
    answersWidth: box(answers).width,
    mainWidth: document.querySelector('main').clientWidth,
    belowTimeline: box(answers).top >= box(document.getElementById('waterfall')).bottom,
    sections: sections.map((s) => s.querySelector('h2').textContent),
    sectionWidths: sections.map((s) => box(s).width),
    headingLines: Math.max(...[...answers.querySelectorAll('th')].map(lines)),
    timeLines: Math.max(...[...answers.querySelectorAll('#answer-3 td:first-child')].map(lines)),
    reasonWidths: [...answers.querySelectorAll('#answer-3 td:nth-child(5)')].map((td) => box(td).width),
    wide: [...answers.querySelectorAll('table')].map((t) => ({
      overflow: getComputedStyle(t).overflowX,
      fits: box(t).right <= box(answers).right + 1,
    })),
  };
})()`;

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const QUICKSTART = join(REPO, 'examples/quickstart/dist/main.js');
const SCREENSHOTS = join(REPO, 'test-results/console');
const CHROMIUM = process.env.AGENT_AUDIT_CHROMIUM ?? '/usr/bin/chromium';

const HOSTILE_NAME = '<img src=x onerror="window.__xss=1">';
const HOSTILE_ATTR = '<script>window.__xss=2</script>\u001b[31m\u202e';
const HOSTILE_TOOL = '<img src=y onerror="window.__xss=3">';
const HOSTILE_RUN = 'run-hostile-1';

let work: string;
let demo: string;
let demoRunId: string;
let many: string;
let hostile: string;
let long: string;
let longRunId: string;
let cliLongTrail: string;
let longConsole: ConsoleProcess;
let before: Record<string, Record<string, string>>;
// The CLI's answers, taken before the console starts (the CLI maintains a store's index.sqlite;
// the console keeps its own elsewhere, and the store bytes are compared around its session).
let cliRuns: string;
let cliTrail: string;
let cliExplain: string;
/** The demo's forged-context run (`runs --json`: its principal only claimed) and its explain --json. */
let forgedRunId: string;
let forgedExplain: string;
let consoleProcess: ConsoleProcess;
let browser: Browser;
let page: Page;
const STORES = () => [
  join(demo, 'alerts'),
  join(demo, '.agent-audit'),
  join(demo, '.agent-audit-drafting-agent'),
  many,
  hostile,
];

async function writeHostileStore(dir: string, trustDir: string): Promise<void> {
  const store = AuditStore.open({ dir, trustDir });
  const traceId = 'ab'.repeat(16);
  const attrs = (extra: Record<string, string>) =>
    Object.entries({
      'workflow.run_id': HOSTILE_RUN,
      'agent.id': 'support-agent',
      'trigger.principal': HOSTILE_ATTR,
      'credential.ref': 'cred:hostile',
      ...extra,
    }).map(([key, value]) => ({ key, value: { stringValue: value } }));
  const now = BigInt(Date.now()) * 1_000_000n;
  const span = (spanId: string, name: string, extra: Record<string, string>, parent?: string) => ({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: HOSTILE_ATTR } }] },
        scopeSpans: [
          {
            scope: { name: '@agent-audit/instrumentation' },
            spans: [
              {
                traceId,
                spanId,
                ...(parent ? { parentSpanId: parent } : {}),
                name,
                kind: 1,
                startTimeUnixNano: String(now),
                endTimeUnixNano: String(now + 3_000_000n),
                attributes: attrs(extra),
                events: [
                  {
                    name: HOSTILE_NAME,
                    timeUnixNano: String(now + 1_000_000n),
                    attributes: attrs({ 'decision.reason': HOSTILE_ATTR }),
                  },
                ],
                status: { code: 1 },
              },
            ],
          },
        ],
      },
    ],
  });
  const tags = {
    run: HOSTILE_RUN,
    principal: HOSTILE_ATTR,
    agent: 'support-agent',
    trace: traceId,
  };
  await store.appendBatch([
    {
      type: 'span.end',
      tags: { ...tags, span: '01'.repeat(8), status: 'ok' },
      payload: span('01'.repeat(8), HOSTILE_NAME, { 'gen_ai.operation.name': 'invoke_agent' }),
    },
    {
      type: 'span.end',
      tags: {
        ...tags,
        span: '02'.repeat(8),
        parent: '01'.repeat(8),
        tool: HOSTILE_TOOL,
        status: 'ok',
      },
      payload: span(
        '02'.repeat(8),
        `execute_tool ${HOSTILE_NAME}`,
        {
          'gen_ai.operation.name': 'execute_tool',
          'tool.name': HOSTILE_TOOL,
          'input.hash': HOSTILE_ATTR,
        },
        '01'.repeat(8),
      ),
    },
  ]);
  await store.close();
}

/**
 * The watcher's alert store as `@agent-audit/watch` writes it (branch `watch`): `alert` records
 * whose payload is an `Alert`, tagged with agent, tool, run and pattern. One alert's reason is hostile.
 */
async function writeAlertStore(dir: string, trustDir: string, runId: string): Promise<void> {
  const store = AuditStore.open({ dir, trustDir });
  const alert = (id: string, pattern: string, severity: string, reason: string) => ({
    id,
    pattern,
    severity,
    agent_id: 'support-agent',
    tool: 'issue_refund',
    tenant: 'tenant-acme',
    run_ids: [runId],
    baseline: 3,
    observed: 40,
    window_s: 60,
    reason,
    decision: null,
    store: '.agent-audit',
    origin: '0'.repeat(32),
    seq: 7,
    event_time: new Date().toISOString(),
    detected_at: new Date().toISOString(),
    explain: `agent-audit explain ${runId} --store .agent-audit`,
  });
  const alerts = [
    alert('a'.repeat(32), 'call_frequency', 'high', '40 calls in 60 s, baseline 3'),
    alert('b'.repeat(32), 'permission_denials', 'high', HOSTILE_NAME),
    alert('c'.repeat(32), 'new_input_shape', 'medium', 'an input shape never seen'),
  ];
  await store.appendBatch(
    alerts.map((a) => ({
      type: 'alert' as const,
      tags: { agent: a.agent_id, tool: a.tool, run: runId, status: a.pattern },
      payload: a,
    })),
  );
  await store.close();
}

/** Tool-call figures computed straight from the stores' span.end records (the test's own count). */
function storeFigures(dirs: string[]) {
  const byTool = new Map<string, { calls: number; errors: number }>();
  let denials = 0;
  let ungoverned = 0;
  let violations = 0;
  let calls = 0;
  for (const dir of dirs) {
    const reader = openStoreReader(dir, { index: false });
    try {
      for (let seq = 1; ; ) {
        const batch = reader.recordsFrom(seq, 5000);
        if (batch.length === 0) break;
        seq = batch.at(-1)!.seq + 1;
        for (const r of batch) {
          if (r.type !== 'span.end') continue;
          for (const s of spansOfExportRequest(r.payload)) {
            if (s.attributes['gen_ai.operation.name'] !== 'execute_tool') continue;
            const tool = String(s.attributes['tool.name']);
            const e = byTool.get(tool) ?? { calls: 0, errors: 0 };
            byTool.set(tool, e);
            e.calls += 1;
            calls += 1;
            if (s.statusCode === 2) e.errors += 1;
            if (s.attributes['permission.denied'] === true) denials += 1;
            if (s.attributes['decision.policy'] === 'none') ungoverned += 1;
            const v = s.attributes['audit.violation'];
            if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
              violations += 1;
          }
        }
      }
    } finally {
      reader.close();
    }
  }
  return { byTool, denials, ungoverned, violations, calls };
}

async function tableRows(id: string): Promise<string[][]> {
  return page.$$eval(`#${id} tbody tr`, (rows) =>
    rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')),
  );
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

interface WaterfallRow {
  index: number;
  id: string;
  name: string;
  events: number;
}

/**
 * Every row of the run page's waterfall, read the way a reader sees them: the waterfall draws
 * only the rows in view, so this scrolls it from top to bottom a screen at a time and keeps
 * each row drawn (by its index). Also returns how many spans the page says the run has.
 */
async function waterfallRows(): Promise<{ total: number; rows: WaterfallRow[]; screens: number }> {
  await page.waitForFunction(
    () => document.getElementById('waterfall')?.dataset.state === 'ready',
    {
      timeout: 30_000,
    },
  );
  return page.evaluate(async () => {
    const root = document.getElementById('waterfall') as unknown as HTMLElementLike;
    const viewport = root.querySelector('.wf-viewport') as HTMLElementLike;
    const seen = new Map<number, WaterfallRow>();
    const frame = () =>
      new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    viewport.scrollTop = 0;
    let screens = 0;
    for (;;) {
      await frame();
      screens += 1;
      for (const tr of root.querySelectorAll('.span')) {
        const index = Number(tr.dataset.index);
        seen.set(index, {
          index,
          id: tr.dataset.spanId ?? '',
          name: tr.querySelector('.span-name')?.textContent ?? '',
          events: Number(tr.dataset.events),
        });
      }
      if (viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - 1) break;
      viewport.scrollTop += viewport.clientHeight;
    }
    return {
      total: Number(root.dataset.spans),
      rows: [...seen.values()].sort((a, b) => a.index - b.index),
      screens,
    };
  });
}

// The slice of the DOM the scrolling reader above uses (the test compiles without the DOM lib).
interface HTMLElementLike {
  dataset: Record<string, string | undefined>;
  scrollTop: number;
  clientHeight: number;
  scrollHeight: number;
  textContent: string | null;
  querySelector(selector: string): HTMLElementLike | null;
  querySelectorAll(selector: string): Iterable<HTMLElementLike>;
}

/** Select one span of the waterfall (by its row) and read the events its detail panel lists. */
async function spanEvents(spanId: string): Promise<string[]> {
  await page.evaluate((id) => {
    const root = document.getElementById('waterfall') as unknown as HTMLElementLike;
    const viewport = root.querySelector('.wf-viewport') as HTMLElementLike;
    viewport.scrollTop = 0;
    return id;
  }, spanId);
  for (;;) {
    const row = await page.$(`#waterfall .span[data-span-id="${spanId}"]`);
    if (row) {
      await row.click();
      break;
    }
    const atEnd = await page.evaluate(() => {
      const viewport = document.querySelector('#waterfall .wf-viewport') as HTMLElementLike;
      if (viewport.scrollTop + viewport.clientHeight >= viewport.scrollHeight - 1) return true;
      viewport.scrollTop += viewport.clientHeight;
      return false;
    });
    if (atEnd) throw new Error(`span ${spanId} is not in the waterfall`);
    await page.evaluate(
      () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve())),
    );
  }
  await page.waitForFunction(
    (id) => document.getElementById('span-detail')?.dataset.spanId === id,
    {},
    spanId,
  );
  return page.$$eval('#span-detail ul.events li .ev', (li) => li.map((x) => x.textContent ?? ''));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'console-browser-'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  demo = join(work, 'demo');
  mkdirSync(demo);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
  };
  delete env.AGENT_AUDIT_STORE_DIR;
  delete env.AGENT_AUDIT_TRUST_DIR;
  const ran = spawnSync(process.execPath, [QUICKSTART], {
    cwd: demo,
    encoding: 'utf8',
    timeout: 120_000,
    env,
  });
  demoRunId = /^workflow\.run_id=(\S+)$/m.exec(ran.stdout)?.[1] ?? '';
  expect(demoRunId, ran.stderr).not.toBe('');
  const trustDir = join(demo, '.agent-audit-trust');
  many = join(demo, 'many-runs');
  // Signed with the demo's key (its trust directory), so one trust directory verifies every store.
  const generated = await generateStore(many, trustDir, {
    runs: 300,
    toolsPerRun: 4,
    principals: 20,
    days: 10,
    endMs: Date.now(),
  });
  expect(generated.spans).toBe(1500);
  hostile = join(demo, 'hostile');
  await writeHostileStore(hostile, trustDir);
  // One long run (400 spans): more rows than the waterfall draws at once, so the test scrolls.
  long = join(work, 'long-run');
  await generateStore(long, trustDir, {
    runs: 1,
    toolsPerRun: 399,
    principals: 1,
    days: 1,
    endMs: Date.now(),
  });
  const demoStores = ['--store', '.agent-audit', '--store', '.agent-audit-drafting-agent'];
  cliRuns = (
    await runCli(['runs', '--principal', 'user:3', '--json', '--store', many], { cwd: demo })
  ).stdout;
  cliTrail = (await runCli(['trail', demoRunId, '--json', ...demoStores], { cwd: demo })).stdout;
  cliExplain = (await runCli(['explain', demoRunId, '--json', ...demoStores], { cwd: demo }))
    .stdout;
  const demoRuns = JSON.parse(
    (await runCli(['runs', '--json', ...demoStores], { cwd: demo })).stdout,
  ) as Array<{ run_id: string; claimed_principal?: string }>;
  forgedRunId = demoRuns.find((r) => r.claimed_principal !== undefined)?.run_id ?? '';
  forgedExplain = (await runCli(['explain', forgedRunId, '--json', ...demoStores], { cwd: demo }))
    .stdout;
  longRunId = (
    JSON.parse((await runCli(['runs', '--json', '--store', long], { cwd: demo })).stdout) as Array<{
      run_id: string;
    }>
  )[0]!.run_id;
  cliLongTrail = (await runCli(['trail', longRunId, '--json', '--store', long], { cwd: demo }))
    .stdout;
  await writeAlertStore(join(demo, 'alerts'), trustDir, demoRunId);
  before = Object.fromEntries(STORES().map((s) => [s, treeDigest(s)]));
  consoleProcess = await startConsole(
    [
      '--store',
      '.agent-audit',
      '--store',
      '.agent-audit-drafting-agent',
      '--store',
      'many-runs',
      '--store',
      'hostile',
      '--alerts',
      'alerts',
      '--index-dir',
      join(work, 'index'),
    ],
    { cwd: demo },
  );
  longConsole = await startConsole(['--store', long, '--index-dir', join(work, 'index-long')], {
    cwd: demo,
    env: { AGENT_AUDIT_TRUST_DIR: trustDir },
  });
  await waitForIndex(consoleProcess.url);
  await waitForIndex(longConsole.url);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  page.on('dialog', (d) => {
    throw new Error(`a dialog opened: ${d.message()}`);
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await consoleProcess?.stop();
  await longConsole?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('agent-audit console in Chromium', () => {
  it('lists runs and finds one by run id and by principal, as runs --json does', async () => {
    await page.goto(`${consoleProcess.url}/`);
    expect(await page.$$eval('#runs tbody tr', (r) => r.length)).toBeGreaterThan(1);
    await page.type('input[name=run]', demoRunId);
    await Promise.all([page.waitForNavigation(), page.click('form.search button')]);
    const byId = await tableRows('runs');
    expect(byId.map((r) => r[0])).toEqual([demoRunId]);
    expect(byId[0]![1]).toBe('user:456');
    await shot('runs-by-id');

    await page.goto(`${consoleProcess.url}/?principal=user:3&page_size=500`);
    const shown = (await tableRows('runs')).map((r) => r[0]).sort();
    const expected = (JSON.parse(cliRuns) as Array<{ run_id: string }>).map((r) => r.run_id).sort();
    expect(expected.length).toBe(15);
    expect(shown).toEqual(expected);
    await shot('runs-by-principal');
  }, 60_000);

  it("shows a forged context's claim apart from the run's principal, as explain --json does", async () => {
    expect(forgedRunId).not.toBe('');
    const claimed = (
      JSON.parse(forgedExplain) as {
        trigger: {
          principal: string | null;
          claimed: { principal: string | null; run_id: string | null } | null;
        };
      }
    ).trigger;
    expect(claimed.claimed?.principal).toBe('user:mallory');
    await page.goto(`${consoleProcess.url}/runs/${encodeURIComponent(forgedRunId)}`);
    const line = await page.$eval('#claimed-context', (p) => p.textContent ?? '');
    expect(line).toContain('user:mallory');
    expect(line).toContain(claimed.claimed?.run_id ?? 'no run id');
    expect(line).toContain('NOT adopted');
    // The summary's principal is the run's own (explain's), never the claimed one.
    const principal = await page.$eval('p.summary b', (b) => b.textContent);
    expect(principal).toBe(claimed.principal ?? '–');
    expect(principal).not.toBe('user:mallory');
    expect(await page.$('#run-context')).toBeNull();
    await shot('run-claimed-context');

    // The runs list marks the claim as `runs` does, never as the run's principal.
    await page.goto(`${consoleProcess.url}/?run=${encodeURIComponent(forgedRunId)}`);
    const listed = await tableRows('runs');
    expect(listed.map((r) => r[0])).toEqual([forgedRunId]);
    expect(listed[0]![1]).toBe('user:mallory (claimed)');

    // The demo's own run shows no claim.
    await page.goto(`${consoleProcess.url}/runs/${encodeURIComponent(demoRunId)}`);
    expect(await page.$('#claimed-context')).toBeNull();
  }, 60_000);

  it('opens a run by its deep link: timeline rows, events, six answers and integrity match trail/explain --json', async () => {
    await page.goto(`${consoleProcess.url}/runs/${encodeURIComponent(demoRunId)}`);
    const trail = JSON.parse(cliTrail) as {
      spans: Array<{ span_id: string; name: string; events: unknown[]; decision: string | null }>;
    };
    const explain = JSON.parse(cliExplain) as {
      actions: unknown[];
      side_effects: unknown[];
    };
    // The waterfall draws the rows in view only: read every row by scrolling it through.
    const drawn = await waterfallRows();
    expect(drawn.total).toBe(trail.spans.length);
    expect(drawn.rows.map((r) => r.index)).toEqual(trail.spans.map((_, i) => i));
    expect(drawn.rows.map((r) => r.id)).toEqual(trail.spans.map((s) => s.span_id));
    expect(drawn.rows.map((r) => r.name)).toEqual(trail.spans.map((s) => s.name));
    expect(drawn.rows.map((r) => r.events)).toEqual(trail.spans.map((s) => s.events.length));
    expect(drawn.rows.reduce((n, r) => n + r.events, 0)).toBeGreaterThan(0);
    // Each span's events, listed in full when its row is selected.
    for (const span of trail.spans.filter((s) => s.events.length > 0)) {
      expect(await spanEvents(span.span_id)).toEqual(
        (span.events as Array<{ name: string }>).map((ev) => ev.name),
      );
    }
    const headings = await page.$$eval('#answers h2', (h) => h.map((x) => x.textContent));
    expect(headings).toEqual([
      '1. Trigger and accountability',
      '2. Agents and context',
      '3. Actions (tool calls, in order)',
      '4. Checks (policy decisions)',
      '5. Human approvals',
      '6. Side effects',
    ]);
    const actionRows = await page.$$eval('#answers h2', (hs) => {
      const h = hs[2]!;
      const table = h.nextElementSibling;
      return table?.querySelectorAll('tbody tr').length ?? 0;
    });
    expect(actionRows).toBe(explain.actions.length);
    // The integrity line, once verify has run: both stores verified, the run's records covered.
    await page
      .waitForFunction(
        () => {
          const items = [...document.querySelectorAll('#integrity li')];
          return items.length === 2 && items.every((li) => !li.classList.contains('unknown'));
        },
        { timeout: 20_000, polling: 500 },
      )
      .catch(async () => {
        await page.reload();
      });
    await page.reload();
    const integrity = await page.$$eval('#integrity li', (li) =>
      li.map((x) => ({ cls: x.className, text: x.textContent })),
    );
    expect(integrity.map((i) => i.cls)).toEqual(['integrity covered', 'integrity covered']);
    expect(integrity[0]!.text).toMatch(
      /verified: records \d+–\d+ are covered by the signed checkpoint through seq \d+ by key ed25519:[0-9a-f]+/,
    );
    const evidence = (await page.evaluate(
      async (href) => (await fetch(href)).json(),
      await page.$eval('#evidence-link', (a) => a.getAttribute('href')!),
    )) as { run_id: string; spans: unknown[]; explanation: { side_effects: unknown[] } };
    expect(evidence.run_id).toBe(demoRunId);
    expect(evidence.spans.length).toBe(trail.spans.length);
    expect(evidence.explanation.side_effects).toEqual(explain.side_effects);
    const report = await page.evaluate(
      async (href) => {
        const r = await fetch(href);
        return {
          type: r.headers.get('content-type'),
          disposition: r.headers.get('content-disposition'),
          text: await r.text(),
        };
      },
      await page.$eval('#report-link', (a) => a.getAttribute('href')!),
    );
    expect(report.disposition).toMatch(/^attachment;/);
    expect(report.text).toContain('Audit report: run');
    await shot('run-page');
    // The six answers read at a laptop's and a desktop's width: under the timeline at full
    // width (no narrow column), headings of the tables on one line, the tool calls' reason wide
    // enough to read, times whole; a table wider than the page scrolls on its own.
    for (const width of [1280, 1920]) {
      await page.setViewport({ width, height: 900 });
      const layout = (await page.evaluate(LAYOUT_PROBE)) as AnswersLayout;
      expect(layout.belowTimeline).toBe(true);
      expect(layout.answersWidth).toBeGreaterThan(layout.mainWidth * 0.9);
      expect(layout.sections).toHaveLength(6);
      // Tool calls and everything after them take the full width at both sizes.
      for (const w of layout.sectionWidths.slice(2))
        expect(w).toBeGreaterThan(layout.answersWidth * 0.95);
      expect(layout.headingLines).toBe(1);
      expect(layout.timeLines).toBe(1);
      expect(layout.reasonWidths.length).toBeGreaterThan(0);
      for (const w of layout.reasonWidths) expect(w).toBeGreaterThan(120);
      for (const t of layout.wide) {
        expect(t.overflow).toBe('auto');
        expect(t.fits).toBe(true);
      }
      await shot(`run-page-${width}`);
    }
    await page.setViewport({ width: 1400, height: 900 });
  }, 90_000);

  it('shows dashboard figures equal to the ones computed from the stores', async () => {
    const expected = storeFigures(STORES());
    await page.goto(`${consoleProcess.url}/dashboards/activity?window=all`);
    await page.waitForFunction(
      (n) => document.getElementById('dashboard')?.dataset.toolCalls === String(n),
      { timeout: 30_000 },
      expected.calls,
    );
    const byTool = await tableRows('by-tool');
    expect(new Map(byTool.map((r) => [r[0], Number(r[1])]))).toEqual(
      new Map([...expected.byTool].map(([t, e]) => [t, e.calls])),
    );
    const errors = await tableRows('error-rate');
    expect(new Map(errors.map((r) => [r[0], Number(r[2])]))).toEqual(
      new Map([...expected.byTool].map(([t, e]) => [t, e.errors])),
    );
    expect(await page.$$eval('#chart-calls canvas', (c) => c.length)).toBeGreaterThan(0);
    await shot('dashboard-activity');

    await page.goto(`${consoleProcess.url}/dashboards/security?window=all`);
    await page.waitForFunction(
      () => document.getElementById('dashboard')?.dataset.loaded === 'true',
      { timeout: 30_000 },
    );
    const sum = (rows: string[][], col: number) => rows.reduce((n, r) => n + Number(r[col]), 0);
    expect(expected.denials).toBeGreaterThan(0);
    expect(sum(await tableRows('denials'), 1)).toBe(expected.denials);
    expect(sum(await tableRows('ungoverned'), 2)).toBe(expected.ungoverned);
    expect(sum(await tableRows('violations'), 2)).toBe(expected.violations);
    expect(await page.$eval('#alerts-source', (p) => p.textContent)).toBe('alert store alerts');
    expect(await tableRows('alerts-summary')).toEqual([
      ['severity high', '2'],
      ['severity medium', '1'],
      ['pattern call_frequency', '1'],
      ['pattern new_input_shape', '1'],
      ['pattern permission_denials', '1'],
    ]);
    const alertRows = await tableRows('alerts');
    expect(alertRows.map((r) => r[5]).sort()).toEqual(
      ['40 calls in 60 s, baseline 3', HOSTILE_NAME, 'an input shape never seen'].sort(),
    );
    expect(await page.$$eval('#alerts a', (a) => a.map((x) => x.getAttribute('href')))).toEqual(
      Array(3).fill(`/runs/${encodeURIComponent(demoRunId)}`),
    );
    await shot('dashboard-security');

    await page.goto(`${consoleProcess.url}/dashboards/compliance?window=all`);
    await page.waitForFunction(
      () => document.getElementById('dashboard')?.dataset.loaded === 'true',
      { timeout: 30_000 },
    );
    const pending = await tableRows('pending');
    const generatedPending = pending.filter((r) => r[1]?.startsWith('apr-'));
    // The generator requests an approval on every 211th tool call and never decides it.
    expect(generatedPending.length).toBe(Math.floor((1200 - 1) / 211) + 1);
    const verifyRows = await tableRows('verify-results');
    expect(verifyRows.length).toBe(4);
    await shot('dashboard-compliance');
  }, 90_000);

  it('draws a long run a screen at a time: scrolled through, its rows and events are trail --json', async () => {
    const trail = JSON.parse(cliLongTrail) as {
      spans: Array<{
        span_id: string;
        name: string;
        depth: number;
        events: Array<{ name: string }>;
      }>;
    };
    expect(trail.spans.length).toBe(400);
    await page.goto(`${longConsole.url}/runs/${encodeURIComponent(longRunId)}`);
    await page.waitForFunction(
      () => document.getElementById('waterfall')?.dataset.state === 'ready',
      {
        timeout: 30_000,
      },
    );
    // Virtualized: far fewer rows in the DOM than the run has.
    const inDom = await page.$$eval('#waterfall .span', (r) => r.length);
    expect(inDom).toBeGreaterThan(0);
    expect(inDom).toBeLessThan(trail.spans.length / 2);
    const drawn = await waterfallRows();
    expect(drawn.screens).toBeGreaterThan(2);
    expect(drawn.total).toBe(400);
    expect(drawn.rows.map((r) => r.id)).toEqual(trail.spans.map((s) => s.span_id));
    expect(drawn.rows.map((r) => r.name)).toEqual(trail.spans.map((s) => s.name));
    expect(drawn.rows.map((r) => r.events)).toEqual(trail.spans.map((s) => s.events.length));
    // A span far down the run (drawn only once scrolled to), with its events listed in full.
    const late = trail.spans.filter((s) => s.events.length > 0).at(-1)!;
    expect(trail.spans.indexOf(late)).toBeGreaterThan(100);
    expect(await spanEvents(late.span_id)).toEqual(late.events.map((ev) => ev.name));
    // The tool calls sit under the agent call that started them (one level deeper).
    expect(trail.spans[0]!.depth).toBe(0);
    expect(trail.spans.slice(1).every((s) => s.depth === 1)).toBe(true);
    // The answers beside it list the first 50 tool calls and say so; the report holds all.
    expect(await page.$eval('#answers-cut', (p) => p.textContent)).toContain(
      'the first 50 of 399 tool calls',
    );
    expect(
      await page.$$eval('#answers h2', (hs) => {
        const table = hs[2]!.nextElementSibling;
        return table?.querySelectorAll('tbody tr').length ?? 0;
      }),
    ).toBe(50);
    await shot('run-page-long');
  }, 90_000);

  it('shows hostile span names and attributes as text and runs none of them', async () => {
    const alerts: string[] = [];
    page.on('console', (m) => alerts.push(m.text()));
    await page.goto(`${consoleProcess.url}/runs/${HOSTILE_RUN}`);
    expect((await waterfallRows()).rows.map((r) => r.name)).toEqual([
      HOSTILE_NAME,
      `execute_tool ${HOSTILE_NAME}`,
    ]);
    const names = await page.$$eval('.span-name', (s) => s.map((x) => x.textContent));
    expect(names).toEqual([HOSTILE_NAME, `execute_tool ${HOSTILE_NAME}`]);
    const text = await page.$eval('main', (m) => m.textContent ?? '');
    expect(text).toContain('<script>window.__xss=2</script>');
    expect(text).not.toContain('\u202e'); // a bidi override is shown as an escape
    expect(await page.$$eval('main img, main script', (n) => n.length)).toBe(0);
    await page.goto(`${consoleProcess.url}/?principal=${encodeURIComponent(HOSTILE_ATTR)}`);
    expect((await tableRows('runs')).map((r) => r[0])).toEqual([HOSTILE_RUN]);
    await page.goto(`${consoleProcess.url}/dashboards/activity?window=all`);
    await page.waitForFunction(
      () => document.getElementById('dashboard')?.dataset.loaded === 'true',
      { timeout: 30_000 },
    );
    expect((await tableRows('by-tool')).map((r) => r[0])).toContain(HOSTILE_TOOL);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    expect(await page.$$eval('main img', (n) => n.length)).toBe(0);
    const response = await page.goto(`${consoleProcess.url}/runs/${HOSTILE_RUN}`);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    await shot('run-hostile');
  }, 60_000);

  it('never changes a byte of the stores it serves', async () => {
    const refused = await fetch(`${consoleProcess.url}/api/runs`, { method: 'POST' });
    expect(refused.status).toBe(405);
    await consoleProcess.stop();
    for (const store of STORES()) expect(treeDigest(store)).toEqual(before[store]);
  }, 30_000);
});
