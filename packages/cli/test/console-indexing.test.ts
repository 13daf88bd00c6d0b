/**
 * The console's first start on a store it has never indexed: it listens at once and builds the
 * query index in a worker thread. While it does, `GET /api/status` answers with how far it got,
 * searches and run pages answer 503 saying the console is indexing (never a hang, never a
 * partial list presented as complete), and the dashboards answer from the records read so far.
 * Once the index is ready, searches answer what `agent-audit runs --json` answers.
 * The store is big enough (60,000 spans) that indexing takes visibly long; nothing here times it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStore } from '../../../benchmarks/src/console-store.js';
import { type ConsoleProcess, startConsole, waitForIndex } from './support/console-process.js';
import { runCli } from './support/run-cli.js';

let work: string;
let store: string;
let trustDir: string;
let consoleProcess: ConsoleProcess;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'console-indexing-'));
  store = join(work, 'store');
  trustDir = join(work, 'trust');
  await generateStore(store, trustDir, {
    runs: 15_000,
    toolsPerRun: 3,
    principals: 100,
    days: 30,
    endMs: Date.now(),
  });
}, 180_000);

afterAll(async () => {
  await consoleProcess?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('agent-audit console while it indexes a large store', () => {
  it('answers at once: status with progress, 503 for searches, dashboards meanwhile; then the full answers', async () => {
    consoleProcess = await startConsole(['--store', store, '--index-dir', join(work, 'index')], {
      cwd: work,
      env: { AGENT_AUDIT_TRUST_DIR: trustDir },
    });
    const url = consoleProcess.url;
    // Listening already: the status endpoint answers while the worker builds the index.
    const first = await fetch(`${url}/api/status`);
    expect(first.status).toBe(200);
    const status = (await first.json()) as {
      index: {
        ready: boolean;
        message: string;
        stores: Array<{ phase: string; segments: number | null; index_bytes: number }>;
      };
    };
    expect(status.index.ready).toBe(false);
    expect(['waiting', 'building', 'checking']).toContain(status.index.stores[0]!.phase);
    expect(status.index.message).toMatch(/^store 1 of 1, .*store.*: (indexing|checking)/);

    // A search now says it waits for the index, with the status, instead of blocking.
    const search = await fetch(`${url}/api/runs?principal=user:7`);
    expect(search.status).toBe(503);
    expect(search.headers.get('retry-after')).toBe('2');
    const body = (await search.json()) as { error: string; index: { ready: boolean } };
    expect(body.error).toMatch(/^the console is indexing its stores: store 1 of 1/);
    expect(body.index.ready).toBe(false);
    // The runs page shows the progress line the page's script polls.
    const landing = await fetch(`${url}/`);
    expect(landing.status).toBe(503);
    const html = await landing.text();
    expect(html).toContain('id="index-status"');
    expect(html).toContain('<script src="/assets/console.js" defer></script>');
    // The dashboards read the stores meanwhile (their own slices, not the index).
    expect((await fetch(`${url}/api/dashboards?window=all`)).status).toBe(200);

    const ready = await waitForIndex(url);
    expect(ready.stores.map((s) => s.phase)).toEqual(['ready']);
    const after = await fetch(`${url}/api/runs?principal=user:7&page_size=500`);
    expect(after.status).toBe(200);
    const page = (await after.json()) as { total: number; runs: Array<{ run_id: string }> };
    const cli = JSON.parse(
      (await runCli(['runs', '--principal', 'user:7', '--json', '--store', store], { cwd: work }))
        .stdout,
    ) as Array<{ run_id: string }>;
    expect(cli.length).toBeGreaterThan(100);
    expect(page.total).toBe(cli.length);
    expect(page.runs.map((r) => r.run_id).sort()).toEqual(cli.map((r) => r.run_id).sort());
    expect((await fetch(`${url}/`)).status).toBe(200);
  }, 180_000);
});
